// litert_placement: which ops LiteRT's XNNPACK delegate takes, on small graphs whose answer
// follows from the delegate's checks (xnnpack_delegate.cc) and the int8 kernels' measured
// numerics: float ops it has, per-tensor int8 within its scale bounds, unpacked weights.
#include <gtest/gtest.h>

#include "op_test_util.h"
#include "qcal/litert_placement.h"
#include "qcal/quantize.h"
#include "qcal/report.h"

namespace qcal {
namespace {

using B = tflite::BuiltinOperator;
using test::ModelBuilder;

Quantization per_tensor(float scale, int64_t zero_point = 0) {
  Quantization q;
  q.scale = {scale};
  q.zero_point = {zero_point};
  return q;
}

TEST(LitertPlacement, Int8AddWithinXnnpackScaleBoundsOnly) {
  for (const float out_scale : {0.05f, 0.05f / 2048}) {
    ModelBuilder b;
    const int x = b.input(DType::kInt8, {1, 8}, per_tensor(0.05f));
    const int y = b.input(DType::kInt8, {1, 8}, per_tensor(0.05f));
    const int z = b.tensor(DType::kInt8, {1, 8}, per_tensor(out_scale));
    b.op(B::ADD, {x, y}, {z}, tflite::AddOptionsT{});
    b.output(z);
    const LitertPlacement p = litert_placement(b.model());
    ASSERT_EQ(p.ops.size(), 1u);
    // in/out ratio 1 is inside [2^-10, 2^8); 2048 is not.
    EXPECT_EQ(p.ops[0].xnnpack, out_scale == 0.05f) << p.ops[0].reason;
  }
}

TEST(LitertPlacement, FloatOnlyOpsCutInt8Graphs) {
  // int8 PRELU and a standalone int8 RELU run on TFLite's builtin kernels; their float forms,
  // and a DEQUANTIZE of constant weights, stay in the delegate.
  for (const DType t : {DType::kFloat32, DType::kInt8}) {
    ModelBuilder b;
    const auto q = t == DType::kInt8 ? std::optional<Quantization>(per_tensor(0.1f)) : std::nullopt;
    const int x = b.input(t, {1, 4, 4, 2}, q);
    const int alpha16 = b.constant(DType::kFloat16, {1, 1, 2}, {0, 0, 0, 0});
    const int alpha = b.tensor(DType::kFloat32, {1, 1, 2});
    b.op(B::DEQUANTIZE, {alpha16}, {alpha});
    const int y = b.tensor(t, {1, 4, 4, 2}, q);
    b.op(B::RELU, {x}, {y});
    const int z = b.tensor(t, {1, 4, 4, 2}, q);
    b.op(B::PRELU, {y, alpha}, {z});
    b.output(z);
    const LitertPlacement p = litert_placement(b.model());
    ASSERT_EQ(p.ops.size(), 3u);
    EXPECT_TRUE(p.ops[0].xnnpack) << p.ops[0].reason;
    EXPECT_EQ(p.ops[1].xnnpack, t == DType::kFloat32) << p.ops[1].reason;
    EXPECT_EQ(p.ops[2].xnnpack, t == DType::kFloat32) << p.ops[2].reason;
    EXPECT_EQ(p.delegated, t == DType::kFloat32 ? 3 : 1);
    EXPECT_EQ(p.runs, 1);
  }
}

TEST(LitertPlacement, OpsTheDelegateLacksAndNonConstantInputs) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 1, 1, 8});
  const int s = b.tensor(DType::kFloat32, {1, 8});
  b.op(B::SQUEEZE, {x}, {s});  // no SQUEEZE in the delegate: a RESHAPE would be taken
  const int axes = b.input(DType::kInt32, {1});
  const int m = b.tensor(DType::kFloat32, {1});
  b.op(B::MEAN, {s, axes}, {m}, tflite::ReducerOptionsT{});  // axes given at run time
  const int axes_c = b.constant_i32({1}, {1});
  const int m2 = b.tensor(DType::kFloat32, {1});
  b.op(B::MEAN, {s, axes_c}, {m2}, tflite::ReducerOptionsT{});
  b.output(m);
  b.output(m2);
  const LitertPlacement p = litert_placement(b.model());
  ASSERT_EQ(p.ops.size(), 3u);
  EXPECT_FALSE(p.ops[0].xnnpack);
  EXPECT_FALSE(p.ops[1].xnnpack);
  EXPECT_NE(p.ops[1].reason.find("axes"), std::string::npos) << p.ops[1].reason;
  EXPECT_TRUE(p.ops[2].xnnpack) << p.ops[2].reason;
  EXPECT_EQ(p.runs, 1);
}

// The int8 rewrite keeps the ops the delegate takes only in float (HARD_SWISH, PRELU) float,
// and folds standalone RELUs, so a quantized block of them stays one delegated graph.
TEST(LitertPlacement, Int8RewriteStaysInOneDelegatedGraph) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 4, 4, 2});
  const int w = b.constant_f32({2, 1, 1, 2}, {0.5f, -0.25f, 0.75f, 1.0f});
  const int bias = b.constant_f32({2}, {0.1f, -0.1f});
  const int c = b.tensor(DType::kFloat32, {1, 4, 4, 2});
  tflite::Conv2DOptionsT co;
  co.padding = tflite::Padding::SAME;
  co.stride_w = co.stride_h = 1;
  b.op(B::CONV_2D, {x, w, bias}, {c}, co);
  const int r = b.tensor(DType::kFloat32, {1, 4, 4, 2});
  b.op(B::RELU, {c}, {r});
  const int alpha = b.constant_f32({1, 1, 2}, {0.25f, 0.5f});
  const int pr = b.tensor(DType::kFloat32, {1, 4, 4, 2});
  b.op(B::PRELU, {r, alpha}, {pr});
  const int hs = b.tensor(DType::kFloat32, {1, 4, 4, 2});
  b.op(B::HARD_SWISH, {pr}, {hs});
  b.output(hs);
  const TensorRanges ranges{{x, {-1.0f, 1.0f}}, {c, {-2.0f, 2.0f}}, {r, {0.0f, 2.0f}}, {pr, {0.0f, 2.0f}}, {hs, {0.0f, 2.0f}}};
  for (const bool all_int8 : {false, true}) {
    QuantizeOptions opt;
    opt.all_int8 = all_int8;
    QuantizeSummary s;
    const Model q = quantize_int8(b.model(), ranges, opt, s);
    const LitertPlacement p = litert_placement(q);
    if (!all_int8) {
      EXPECT_EQ(p.delegated, static_cast<int>(p.ops.size()));
    } else {
      EXPECT_LT(p.delegated, static_cast<int>(p.ops.size()));  // int8 PRELU and HARD_SWISH
      EXPECT_GT(p.runs, 1);
    }
  }
}

}  // namespace
}  // namespace qcal

namespace qcal {
namespace {

// A classifier head's SQUEEZE and a 1-D model's EXPAND_DIMS are written as RESHAPE, which the
// delegate takes: the int8 model is one delegated graph, and computes what it did before.
TEST(LitertPlacement, SqueezeAndExpandDimsBecomeReshape) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 8});
  const int axis = b.constant_i32({1}, {1});
  const int e = b.tensor(DType::kFloat32, {1, 1, 8});
  b.op(B::EXPAND_DIMS, {x, axis}, {e});
  const int e4 = b.tensor(DType::kFloat32, {1, 1, 1, 8});
  b.op(B::EXPAND_DIMS, {e, axis}, {e4});
  const int w = b.constant_f32({4, 1, 1, 8}, test::random_floats(32, 5));
  const int bias = b.constant_f32({4}, {0.1f, -0.2f, 0.3f, 0.0f});
  const int c = b.tensor(DType::kFloat32, {1, 1, 1, 4});
  tflite::Conv2DOptionsT co;
  co.padding = tflite::Padding::VALID;
  co.stride_w = co.stride_h = 1;
  b.op(B::CONV_2D, {e4, w, bias}, {c}, co);
  const int s = b.tensor(DType::kFloat32, {1, 4});
  tflite::SqueezeOptionsT so;
  so.squeeze_dims = {1, 2};
  b.op(B::SQUEEZE, {c}, {s}, so);
  b.output(s);
  EXPECT_EQ(litert_placement(b.model()).delegated, 1);  // the float model: only its CONV_2D
  const TensorRanges ranges{{x, {-1.0f, 1.0f}}, {e, {-1.0f, 1.0f}}, {e4, {-1.0f, 1.0f}}, {c, {-3.0f, 3.0f}}, {s, {-3.0f, 3.0f}}};
  QuantizeOptions opt;
  opt.io = IoType::kInt8;
  QuantizeSummary sum;
  const Model q = quantize_int8(b.model(), ranges, opt, sum);
  ASSERT_NO_THROW(verify_quantized_model(q));
  for (const Operator& op : q.subgraphs[0].operators) {
    EXPECT_NE(op.builtin(), B::SQUEEZE);
    EXPECT_NE(op.builtin(), B::EXPAND_DIMS);
  }
  const LitertPlacement p = litert_placement(q);
  EXPECT_EQ(p.delegated, static_cast<int>(p.ops.size()));
  // Same numbers as the float model, to within the int8 grid.
  const std::vector<float> in = test::random_floats(8, 9);
  const auto want = b.run({test::host<float>({1, 8}, in)});
  Executor ex(std::make_shared<Model>(q), ExecutorOptions{1}, "q");
  const Tensor& qin = q.subgraphs[0].tensors[q.subgraphs[0].inputs[0]];
  HostTensor hin = quantize_host(test::host<float>({1, 8}, in), DType::kInt8, qin.quantization->scale[0],
                                 static_cast<int32_t>(qin.quantization->zero_point[0]));
  hin.name = qin.name;
  const auto got = ex.run({hin});
  const Tensor& qout = q.subgraphs[0].tensors[q.subgraphs[0].outputs[0]];
  const std::vector<float> g = as_float(got[0], &*qout.quantization), f = as_float(want[0], nullptr);
  ASSERT_EQ(g.size(), f.size());
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], f[i], 3 * qout.quantization->scale[0]) << i;
}

}  // namespace
}  // namespace qcal
