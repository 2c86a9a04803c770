// The rewriter: int8 (spec constraints, conversions at precision changes, keep-float),
// fp16, dynamic range, and the verifier that guards every write.
#include <gtest/gtest.h>

#include <cmath>

#include "op_test_util.h"
#include "qcal/calibration.h"
#include "qcal/error.h"
#include "qcal/executor.h"
#include "qcal/model_io.h"
#include "qcal/quantize.h"
#include "qcal/report.h"

namespace qcal {
namespace {

using test::ModelBuilder;
using B = tflite::BuiltinOperator;

TEST(AsymmetricParams, ZeroIsExactAndRangeHoldsZero) {
  const QuantParams p = asymmetric_params(-1.0, 3.0);
  EXPECT_FLOAT_EQ(p.scale, 4.0f / 255);
  EXPECT_EQ(p.zero_point, -64);  // -128 + 1 / (4/255) = -64.25
  const QuantParams q = asymmetric_params(0.5, 2.0);  // widened to [0, 2]
  EXPECT_FLOAT_EQ(q.scale, 2.0f / 255);
  EXPECT_EQ(q.zero_point, -128);
  const QuantParams r = asymmetric_params(-2.0, -1.0);  // widened to [-2, 0]
  EXPECT_EQ(r.zero_point, 127);
  const QuantParams z = asymmetric_params(0.0, 0.0);  // degenerate: still a valid scale
  EXPECT_GT(z.scale, 0.0f);
}

// input [1,8,8,3] -> CONV 3x3 (relu) -> MAX_POOL -> CONCAT(with a 1x1 CONV of the input,
// pooled) -> LOGISTIC -> RESHAPE -> output; plus a custom op reading the concat, as a second
// output.
struct TestGraph {
  ModelBuilder b;
  int in, conv, pool, conv2, pool2, concat, sig, flat, custom;
  TensorRanges ranges;

  TestGraph() {
    in = b.input(DType::kFloat32, {1, 8, 8, 3});
    const int w = b.constant_f32({4, 3, 3, 3}, test::random_floats(108, 1, -0.5f, 0.5f));
    const int bias = b.constant_f32({4}, {0.1f, -0.2f, 0.3f, 0.0f});
    conv = b.tensor(DType::kFloat32, {1, 8, 8, 4}, std::nullopt, "conv");
    tflite::Conv2DOptionsT co;
    co.padding = tflite::Padding::SAME;
    co.stride_w = co.stride_h = 1;
    co.fused_activation_function = tflite::ActivationFunctionType::RELU;
    b.op(B::CONV_2D, {in, w, bias}, {conv}, co);
    pool = b.tensor(DType::kFloat32, {1, 4, 4, 4}, std::nullopt, "pool");
    tflite::Pool2DOptionsT po;
    po.padding = tflite::Padding::VALID;
    po.stride_w = po.stride_h = po.filter_width = po.filter_height = 2;
    b.op(B::MAX_POOL_2D, {conv}, {pool}, po);
    const int w2 = b.constant_f32({2, 1, 1, 3}, {0.5f, -1.0f, 0.25f, 2.0f, 0.0f, -0.5f});
    conv2 = b.tensor(DType::kFloat32, {1, 8, 8, 2}, std::nullopt, "conv2");
    co.fused_activation_function = tflite::ActivationFunctionType::NONE;
    b.op(B::CONV_2D, {in, w2, -1}, {conv2}, co);
    pool2 = b.tensor(DType::kFloat32, {1, 4, 4, 2}, std::nullopt, "pool2");
    b.op(B::MAX_POOL_2D, {conv2}, {pool2}, po);
    concat = b.tensor(DType::kFloat32, {1, 4, 4, 6}, std::nullopt, "concat");
    tflite::ConcatenationOptionsT cc;
    cc.axis = 3;
    b.op(B::CONCATENATION, {pool, pool2}, {concat}, cc);
    sig = b.tensor(DType::kFloat32, {1, 4, 4, 6}, std::nullopt, "sigmoid");
    b.op(B::LOGISTIC, {concat}, {sig});
    flat = b.tensor(DType::kFloat32, {1, 96}, std::nullopt, "flat");
    b.op(B::RESHAPE, {sig, b.constant_i32({2}, {1, 96})}, {flat});
    custom = b.tensor(DType::kFloat32, {1, 4, 4, 6}, std::nullopt, "custom_out");
    b.custom_op("MyCustomOp", {concat}, {custom});
    b.output(flat);
    b.output(custom);
    ranges[in] = {0.0f, 1.0f};
    ranges[conv] = {0.0f, 3.0f};
    ranges[pool] = {0.0f, 2.5f};
    ranges[conv2] = {-2.0f, 2.0f};
    ranges[pool2] = {-1.0f, 1.5f};
    ranges[concat] = {-1.0f, 2.5f};
    ranges[sig] = {0.2f, 0.9f};
    ranges[flat] = {0.2f, 0.9f};
    ranges[custom] = {-1.0f, 2.5f};
  }
};

const Operator* find_op(const Model& m, B code, int nth = 0) {
  for (const Operator& op : m.subgraphs[0].operators)
    if (op.builtin() == code && nth-- == 0) return &op;
  return nullptr;
}
const Tensor& tensor(const Model& m, int i) { return m.subgraphs[0].tensors.at(i); }

TEST(QuantizeInt8, FollowsTheSpecAndKeepsCustomOpsFloat) {
  TestGraph g;
  QuantizeSummary s;
  const Model q = quantize_int8(g.b.model(), g.ranges, {}, s);
  ASSERT_NO_THROW(verify_quantized_model(q));
  EXPECT_EQ(s.quantized_ops, 7);
  ASSERT_EQ(s.kept_float.size(), 1u);
  EXPECT_EQ(s.kept_float[0].op_name, "MyCustomOp");

  // Weights: symmetric int8 per output channel; bias int32 at input x weight scale.
  const Operator& conv = *find_op(q, B::CONV_2D);
  const Tensor& w = tensor(q, conv.inputs[1]);
  EXPECT_EQ(w.dtype, DType::kInt8);
  EXPECT_EQ(w.quantization->scale.size(), 4u);
  EXPECT_EQ(w.quantization->quantized_dimension, 0);
  const Tensor& bias = tensor(q, conv.inputs[2]);
  EXPECT_EQ(bias.dtype, DType::kInt32);
  const Tensor& x = tensor(q, conv.inputs[0]);
  EXPECT_EQ(x.dtype, DType::kInt8);
  for (int c = 0; c < 4; ++c) EXPECT_FLOAT_EQ(bias.quantization->scale[c], x.quantization->scale[0] * w.quantization->scale[c]);
  EXPECT_GE(conv.code.version, 3);
  // The runtime's int8 conv needs a bias: the bias-less conv gets zeros.
  const Operator& conv2 = *find_op(q, B::CONV_2D, 1);
  ASSERT_GE(conv2.inputs.size(), 3u);
  ASSERT_GE(conv2.inputs[2], 0);
  EXPECT_EQ(tensor(q, conv2.inputs[2]).dtype, DType::kInt32);

  // Same-scale ops: both pools and the concat share one (scale, zp), the union of ranges.
  const Operator& cat = *find_op(q, B::CONCATENATION);
  const Quantization& cq = *tensor(q, cat.outputs[0]).quantization;
  for (int32_t i : cat.inputs) EXPECT_EQ(tensor(q, i).quantization->scale[0], cq.scale[0]);
  const QuantParams want = asymmetric_params(-2.0, 3.0);  // conv, conv2, pools, concat united
  EXPECT_FLOAT_EQ(cq.scale[0], want.scale);
  EXPECT_EQ(cq.zero_point[0], want.zero_point);

  // Fixed output range of LOGISTIC, carried through the same-scale RESHAPE; the graph
  // output keeps its index, float via DEQUANTIZE.
  const Operator& sig = *find_op(q, B::LOGISTIC);
  EXPECT_FLOAT_EQ(tensor(q, sig.outputs[0]).quantization->scale[0], 1.0f / 256);
  EXPECT_EQ(tensor(q, sig.outputs[0]).quantization->zero_point[0], -128);
  EXPECT_FLOAT_EQ(tensor(q, find_op(q, B::RESHAPE)->outputs[0]).quantization->scale[0], 1.0f / 256);
  for (int32_t o : q.subgraphs[0].outputs) EXPECT_EQ(tensor(q, o).dtype, DType::kFloat32);
  EXPECT_EQ(tensor(q, q.subgraphs[0].inputs[0]).dtype, DType::kFloat32);

  // The custom op reads float (a DEQUANTIZE of the int8 concat).
  const Operator* custom = nullptr;
  for (const Operator& op : q.subgraphs[0].operators)
    if (op.code.is_custom()) custom = &op;
  ASSERT_NE(custom, nullptr);
  EXPECT_EQ(tensor(q, custom->inputs[0]).dtype, DType::kFloat32);
  EXPECT_EQ(s.quantize_ops_added, 1);    // the input
  EXPECT_EQ(s.dequantize_ops_added, 2);  // the model output and the custom op's input

  // Every quantized-model tensor maps to the float tensor whose values it carries.
  for (const auto& [qt, ft] : s.tensor_map) {
    if (tensor(q, qt).name == "concat") {
      EXPECT_EQ(ft, g.concat);
    }
  }

  // The model survives the writer's round trip.
  EXPECT_NO_THROW(read_model_from_bytes(serialize_model(q), "q"));
}

// A sigmoid that is a model output stays float under --io float (int8 would round every
// probability below 1/512 to 0), and is int8 under --io int8.
TEST(QuantizeInt8, SigmoidModelOutputStaysFloatWithFloatIo) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 4});
  const int y = b.tensor(DType::kFloat32, {1, 4});
  b.op(B::LOGISTIC, {x}, {y});
  b.output(y);
  const TensorRanges ranges = {{x, {-8.0f, 8.0f}}, {y, {0.0f, 1.0f}}};
  QuantizeSummary s;
  const Model f = quantize_int8(b.model(), ranges, {}, s);
  ASSERT_EQ(s.kept_float.size(), 1u);
  EXPECT_NE(s.kept_float[0].reason.find("model output"), std::string::npos);
  EXPECT_EQ(tensor(f, find_op(f, B::LOGISTIC)->inputs[0]).dtype, DType::kFloat32);
  QuantizeOptions o;
  o.io = IoType::kInt8;
  QuantizeSummary si;
  const Model i = quantize_int8(b.model(), ranges, o, si);
  EXPECT_TRUE(si.kept_float.empty());
  EXPECT_EQ(tensor(i, find_op(i, B::LOGISTIC)->outputs[0]).dtype, DType::kInt8);
}

// Under --io int8/uint8, a sigmoid model output fed only by float ops (a custom op's logits)
// runs in float, and one QUANTIZE rounds its result to the fixed output grid: quantizing it
// would first round its input to an int8 grid (selfie_segmentation's mask moved: agreement
// 97.2% -> 93.2% against --io float). Its result is exactly the float sigmoid, rounded once.
TEST(QuantizeInt8, SigmoidOutputFedByFloatOpsIsRoundedOnceUnderIntegerIo) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 4});
  const int sum = b.tensor(DType::kFloat32, {1, 4});
  const int y = b.tensor(DType::kFloat32, {1, 4});
  b.op(B::ADD, {x, x}, {sum});  // kept float below, as a custom op would be
  b.op(B::LOGISTIC, {sum}, {y});
  b.output(y);
  const TensorRanges ranges = {{x, {-4.0f, 4.0f}}, {sum, {-8.0f, 8.0f}}, {y, {0.0f, 1.0f}}};
  for (const IoType io : {IoType::kInt8, IoType::kUInt8}) {
    QuantizeOptions o;
    o.io = io;
    o.keep_float = {"ADD"};
    QuantizeSummary s;
    auto q = std::make_shared<Model>(quantize_int8(b.model(), ranges, o, s));
    ASSERT_NO_THROW(verify_quantized_model(*q));
    ASSERT_EQ(s.kept_float.size(), 2u);
    EXPECT_EQ(s.kept_float[1].op_name, "LOGISTIC");
    EXPECT_NE(s.kept_float[1].reason.find("fed by float ops"), std::string::npos);
    const Operator& sig = *find_op(*q, B::LOGISTIC);
    EXPECT_EQ(tensor(*q, sig.outputs[0]).dtype, DType::kFloat32);
    const Subgraph& sg = q->subgraphs[0];
    const Tensor& out = tensor(*q, sg.outputs[0]);
    const bool int8 = io == IoType::kInt8;
    ASSERT_EQ(out.dtype, int8 ? DType::kInt8 : DType::kUInt8);
    EXPECT_FLOAT_EQ(out.quantization->scale[0], 1.0f / 256);
    EXPECT_EQ(out.quantization->zero_point[0], int8 ? -128 : 0);
    EXPECT_EQ(sg.operators.back().builtin(), B::QUANTIZE);

    const Tensor& in_t = tensor(*q, sg.inputs[0]);
    HostTensor in = HostTensor::zeros(in_t.name, in_t.dtype, {1, 4});
    const int codes[4] = {-128, -7, 0, 127};
    for (int i = 0; i < 4; ++i) {
      if (int8) in.as<int8_t>()[i] = static_cast<int8_t>(codes[i]);
      else in.as<uint8_t>()[i] = static_cast<uint8_t>(codes[i] + 128);
    }
    const HostTensor got = Executor(q).run({in})[0];
    const float s_in = in_t.quantization->scale[0];
    const int z_in = in_t.quantization->zero_point[0] - (int8 ? 0 : 128);
    for (int i = 0; i < 4; ++i) {
      const float real = s_in * static_cast<float>(codes[i] - z_in);
      const float p = 1.0f / (1.0f + std::exp(-(real + real)));
      const int want = static_cast<int>(std::min(255.0f, std::round(p * 256.0f)));
      const int have = int8 ? got.as<int8_t>()[i] + 128 : got.as<uint8_t>()[i];
      EXPECT_EQ(have, want) << "code " << codes[i] << (int8 ? " int8" : " uint8");
    }
  }
}

TEST(QuantizeInt8, IntegerIoQuantizesTheGraphEdges) {
  TestGraph g;
  QuantizeSummary s;
  QuantizeOptions o;
  o.io = IoType::kInt8;
  const Model q = quantize_int8(g.b.model(), g.ranges, o, s);
  ASSERT_NO_THROW(verify_quantized_model(q));
  const Subgraph& sg = q.subgraphs[0];
  EXPECT_EQ(tensor(q, sg.inputs[0]).dtype, DType::kInt8);
  EXPECT_EQ(tensor(q, sg.outputs[0]).dtype, DType::kInt8);
  EXPECT_EQ(tensor(q, sg.outputs[1]).dtype, DType::kFloat32);  // a float op's output stays float
  EXPECT_EQ(s.quantize_ops_added, 0);

  o.io = IoType::kUInt8;
  QuantizeSummary su;
  const Model u = quantize_int8(g.b.model(), g.ranges, o, su);
  ASSERT_NO_THROW(verify_quantized_model(u));
  const Tensor& in = tensor(u, u.subgraphs[0].inputs[0]);
  EXPECT_EQ(in.dtype, DType::kUInt8);
  EXPECT_EQ(in.quantization->zero_point[0], -128 + 128);
}

TEST(QuantizeInt8, KeepFloatRules) {
  for (const std::string rule : {"LOGISTIC", "sigmoid", "re:^sig", "#5", "5"}) {
    TestGraph g;
    QuantizeSummary s;
    QuantizeOptions o;
    o.keep_float = {rule};
    const Model q = quantize_int8(g.b.model(), g.ranges, o, s);
    ASSERT_NO_THROW(verify_quantized_model(q)) << rule;
    ASSERT_EQ(s.kept_float.size(), 2u) << rule;
    EXPECT_EQ(s.kept_float[0].op_name, "LOGISTIC") << rule;
    EXPECT_EQ(tensor(q, find_op(q, B::LOGISTIC)->inputs[0]).dtype, DType::kFloat32) << rule;
  }
  TestGraph g;
  QuantizeSummary s;
  QuantizeOptions o;
  o.keep_float = {"NO_SUCH_OP"};
  EXPECT_THROW(quantize_int8(g.b.model(), g.ranges, o, s), Error);
  o.keep_float = {"re:("};
  EXPECT_THROW(quantize_int8(g.b.model(), g.ranges, o, s), Error);
}

TEST(QuantizeInt8, MissingStatisticsKeepTheOpFloat) {
  TestGraph g;
  g.ranges.erase(g.conv2);
  QuantizeSummary s;
  const Model q = quantize_int8(g.b.model(), g.ranges, {}, s);
  ASSERT_NO_THROW(verify_quantized_model(q));
  bool named = false;
  for (const KeptFloat& k : s.kept_float) named = named || k.reason.find("conv2") != std::string::npos;
  EXPECT_TRUE(named);
}

// A global average pool becomes MEAN over H and W: int8 AVERAGE_POOL_2D would have to keep
// its input's scale, far too coarse for a mean. A pool over part of the image stays.
TEST(QuantizeInt8, GlobalAveragePoolBecomesMeanWithItsOwnScale) {
  auto build = [](ModelBuilder& b, int& x, int& global, int& local) {
    x = b.input(DType::kFloat32, {1, 4, 4, 2});
    tflite::Pool2DOptionsT po;
    po.padding = tflite::Padding::VALID;
    po.stride_w = po.stride_h = po.filter_width = po.filter_height = 4;
    global = b.tensor(DType::kFloat32, {1, 1, 1, 2}, std::nullopt, "global");
    b.op(B::AVERAGE_POOL_2D, {x}, {global}, po);
    po.stride_w = po.stride_h = po.filter_width = po.filter_height = 2;
    local = b.tensor(DType::kFloat32, {1, 2, 2, 2}, std::nullopt, "local");
    b.op(B::AVERAGE_POOL_2D, {x}, {local}, po);
    b.output(global);
    b.output(local);
  };
  ModelBuilder b;
  int x, global, local;
  build(b, x, global, local);
  const TensorRanges ranges = {{x, {-1.0f, 20.0f}}, {global, {-0.2f, 0.8f}}, {local, {-0.5f, 10.0f}}};
  QuantizeSummary s;
  const Model q = quantize_int8(b.model(), ranges, {}, s);
  ASSERT_NO_THROW(verify_quantized_model(q));
  const Operator* mean = find_op(q, B::MEAN);
  ASSERT_NE(mean, nullptr);
  ASSERT_NE(mean->options.AsReducerOptions(), nullptr);
  EXPECT_TRUE(mean->options.AsReducerOptions()->keep_dims);
  const Tensor& axes = tensor(q, mean->inputs[1]);
  const Buffer& ab = q.buffers.at(axes.buffer);
  ASSERT_EQ(ab.data.size(), 8u);
  EXPECT_EQ(reinterpret_cast<const int32_t*>(ab.data.data())[0], 1);
  EXPECT_EQ(reinterpret_cast<const int32_t*>(ab.data.data())[1], 2);
  const QuantParams own = asymmetric_params(-0.2, 0.8);
  EXPECT_FLOAT_EQ(tensor(q, mean->outputs[0]).quantization->scale[0], own.scale);
  const Operator* pool = find_op(q, B::AVERAGE_POOL_2D);
  ASSERT_NE(pool, nullptr);  // the 2x2 pool keeps its input's scale
  EXPECT_FLOAT_EQ(tensor(q, pool->outputs[0]).quantization->scale[0], tensor(q, pool->inputs[0]).quantization->scale[0]);
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_NE(s.notes[0].find("MEAN"), std::string::npos);

  // An op the user keeps float is left as it was.
  QuantizeOptions o;
  o.keep_float = {"global"};
  QuantizeSummary sk;
  const Model k = quantize_int8(b.model(), ranges, o, sk);
  EXPECT_EQ(find_op(k, B::MEAN), nullptr);
  ASSERT_EQ(sk.kept_float.size(), 1u);
  EXPECT_EQ(sk.kept_float[0].op_name, "AVERAGE_POOL_2D");
}

// Calibrates `model` (input x, [1,6,6,4]) on random inputs as qcal calibrate does (per
// channel for the equalization tensors only), quantizes it with and without channel
// equalization, and expects equalization to gain at least 6 dB of output SQNR.
// Input x ([1,6,6,4]) of `model`, uniform in [lo, hi).
HostTensor random_input(const Model& model, int x, uint32_t seed, float lo, float hi) {
  HostTensor h = HostTensor::zeros(model.subgraphs[0].tensors[x].name, DType::kFloat32, {1, 6, 6, 4});
  const std::vector<float> v = test::random_floats(144, seed, lo, hi);
  std::copy(v.begin(), v.end(), h.as<float>());
  return h;
}

void expect_equalization_helps(const std::shared_ptr<Model>& model, int x, const std::set<int>& tensors) {
  EXPECT_EQ(equalization_tensors(*model), tensors);
  const Executor fx(model);
  auto sample = [&](uint32_t seed) { return random_input(*model, x, seed, -1.0f, 1.0f); };
  StatsCollector collector(Histogram::kDefaultMaxBins, 0, false, equalization_tensors(*model));
  for (uint32_t seed = 10; seed < 30; ++seed) fx.run({sample(seed)}, &collector);
  TensorRanges ranges;
  QuantizeOptions o;
  for (const auto& [t, st] : collector.stats()) {
    ranges[t] = {st.min, st.max};
    EXPECT_EQ(st.channel_min.empty(), !tensors.count(t)) << "tensor " << t;
    if (!st.channel_min.empty()) o.channel_ranges[t] = {st.channel_min, st.channel_max, {}};
  }
  auto sqnr = [&](bool equalize) {
    o.equalize = equalize;
    QuantizeSummary s;
    auto q = std::make_shared<Model>(quantize_int8(*model, ranges, o, s));
    EXPECT_NO_THROW(verify_quantized_model(*q));
    EXPECT_EQ(s.equalized_pairs, equalize ? 1 : 0);
    // An equalized tensor is mapped with its channel factors, and comparisons undo them: each
    // layer's isolated error is the grid's, not the rescaling's (a channel compared at the
    // wrong scale is off by about its own size, near 0 dB), and bias correction finds no
    // systematic shift of more than two grid steps.
    // (A tensor a folded activation replaced is gone from the quantized model.)
    int mapped = 0;
    for (const auto& [qt, ft] : s.tensor_map)
      if (tensors.count(ft)) {
        ++mapped;
        EXPECT_EQ(s.channel_scales.count(qt), equalize ? 1u : 0u) << "tensor " << ft;
      }
    EXPECT_GT(mapped, 0);
    QuantizationComparison cmp(model, q);
    for (uint32_t seed = 10; seed < 20; ++seed) cmp.add({sample(seed)});
    EXPECT_EQ(cmp.matching(), "tensor map");
    for (const LayerReport& l : cmp.layers()) {
      // Without equalization the narrow channels' coarse grid is the point of the test.
      if (!l.has_isolated || !equalize) continue;
      EXPECT_GT(l.isolated.sqnr_db(), 20.0) << l.name;
    }
    for (const auto& [t, shift] : bias_corrections(cmp.layers(), *q)) {
      float step = 0;
      for (const auto& [qt, ft] : s.tensor_map)
        if (ft == t && q->subgraphs[0].tensors[qt].quantization) step = q->subgraphs[0].tensors[qt].quantization->scale[0];
      for (float v : shift) EXPECT_LT(std::abs(v), 2 * step) << "tensor " << t;
    }
    const Executor qx(q);
    double signal = 0, noise = 0;
    for (uint32_t seed = 100; seed < 110; ++seed) {
      const HostTensor ref = fx.run({sample(seed)})[0], got = qx.run({sample(seed)})[0];
      for (int64_t i = 0; i < ref.size(); ++i) {
        signal += double(ref.as<float>()[i]) * ref.as<float>()[i];
        noise += std::pow(double(ref.as<float>()[i]) - got.as<float>()[i], 2);
      }
    }
    return 10 * std::log10(signal / noise);
  };
  const double plain = sqnr(false), equalized = sqnr(true);
  std::printf("channel equalization: %.1f dB -> %.1f dB\n", plain, equalized);
  EXPECT_GT(equalized, plain + 6.0) << "plain " << plain << " dB, equalized " << equalized << " dB";
}

// A channel with tiny weights and a large bias (a dead channel after batch norm) must not
// saturate its int32 bias at input x weight scale: its weight scale is raised until the
// bias fits, and the integer model still outputs that bias.
TEST(QuantizeInt8, TinyWeightsWithLargeBiasKeepTheBias) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 4});
  const int w = b.constant_f32({2, 4}, {1e-9f, -1e-9f, 2e-9f, 0.0f, 0.5f, -0.25f, 0.75f, 1.0f});
  const int bias = b.constant_f32({2}, {3.0f, 0.1f});
  const int y = b.tensor(DType::kFloat32, {1, 2}, std::nullopt, "fc");
  b.op(B::FULLY_CONNECTED, {x, w, bias}, {y}, tflite::FullyConnectedOptionsT{});
  b.output(y);
  TensorRanges ranges{{x, {-1.0f, 1.0f}}, {y, {-3.0f, 4.0f}}};
  for (const bool per_tensor : {false, true}) {
    QuantizeOptions o;
    o.per_tensor = per_tensor;
    QuantizeSummary s;
    auto q = std::make_shared<Model>(quantize_int8(b.model(), ranges, o, s));
    ASSERT_NO_THROW(verify_quantized_model(*q));
    for (const std::string& note : s.notes) EXPECT_EQ(note.find("saturate"), std::string::npos) << note;
    const Operator& fc = *find_op(*q, B::FULLY_CONNECTED);
    const Tensor& qb = tensor(*q, fc.inputs[2]);
    const int32_t b0 = reinterpret_cast<const int32_t*>(q->data_of(qb)->data.data())[0];
    EXPECT_LE(std::abs(static_cast<int64_t>(b0)), int64_t{1} << 30);  // the middle half of int32
    HostTensor in = HostTensor::zeros(q->subgraphs[0].tensors[x].name, DType::kFloat32, {1, 4});
    for (int i = 0; i < 4; ++i) in.as<float>()[i] = 0.5f;
    const HostTensor out = Executor(q).run({in})[0];
    EXPECT_NEAR(out.as<float>()[0], 3.0f, 7.0f / 255) << (per_tensor ? "per tensor" : "per channel");
    EXPECT_NEAR(out.as<float>()[1], 0.1f + 0.5f * 2.0f, 7.0f / 255);
  }
}

// A clamp against a constant (MINIMUM(x, 6), as TOCO twins and ONNX Clip write it) shares
// one scale with its input; an input only the clamp reads takes the clamp's range, not the
// union with its own wider one. With a second reader the input keeps its full range.
TEST(QuantizeInt8, ClampReadersSetTheirInputsRange) {
  for (const bool second_reader : {false, true}) {
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, {1, 4});
    const int w = b.constant_f32({4, 4}, test::random_floats(16, 3, -1.0f, 1.0f));
    const int fc = b.tensor(DType::kFloat32, {1, 4}, std::nullopt, "fc");
    b.op(B::FULLY_CONNECTED, {x, w, -1}, {fc}, tflite::FullyConnectedOptionsT{});
    const int six = b.constant_f32({1}, {6.0f});
    const int y = b.tensor(DType::kFloat32, {1, 4}, std::nullopt, "clamped");
    b.op(B::MINIMUM, {fc, six}, {y});
    b.output(y);
    TensorRanges ranges{{x, {-1.0f, 1.0f}}, {fc, {-1.0f, 10.0f}}, {y, {-1.0f, 6.0f}}};
    if (second_reader) {
      const int z = b.tensor(DType::kFloat32, {1, 4}, std::nullopt, "other");
      b.op(B::RELU, {fc}, {z});
      b.output(z);
      ranges[z] = {0.0f, 10.0f};
    }
    QuantizeSummary s;
    const Model q = quantize_int8(b.model(), ranges, {}, s);
    ASSERT_NO_THROW(verify_quantized_model(q));
    const Operator& mn = *find_op(q, B::MINIMUM);
    const float want = asymmetric_params(-1.0, second_reader ? 10.0 : 6.0).scale;
    EXPECT_FLOAT_EQ(tensor(q, mn.inputs[0]).quantization->scale[0], want) << "second reader " << second_reader;
    EXPECT_FLOAT_EQ(tensor(q, mn.outputs[0]).quantization->scale[0], want);
  }
}

// A clipping calibrator (percentile) clips hidden activations, but a graph output keeps its
// whole observed range: the user's decoder reads its tails.
TEST(QuantizeInt8, GraphOutputsKeepTheirWholeRangeWhateverTheCalibrator) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 1000});
  const int h = b.tensor(DType::kFloat32, {1, 1000}, std::nullopt, "hidden");
  b.op(B::RELU, {x}, {h});
  const int y = b.tensor(DType::kFloat32, {1, 1000}, std::nullopt, "out");
  b.op(B::TANH, {h}, {y});
  const int z = b.tensor(DType::kFloat32, {1, 1000}, std::nullopt, "raw");
  b.op(B::RELU6, {h}, {z});
  b.output(z);
  b.output(y);
  // Values 0..0.998 and one outlier at 6 in every tensor the calibration sees.
  std::vector<float> v(1000);
  for (int i = 0; i < 1000; ++i) v[i] = i == 999 ? 6.0f : i / 1000.0f;
  CalibrationData c;
  for (int t : {x, h, z}) c.tensors[t].add(v.data(), v.size(), 1);
  CalibratorOptions o;
  o.percentile = 99.0;
  const TensorRanges clipped = ranges_from_calibration(c, "percentile", o);
  ASSERT_LT(clipped.at(h).max, 1.5f);  // the calibrator does clip
  const TensorRanges r = ranges_from_calibration(c, "percentile", o, b.model());
  EXPECT_FLOAT_EQ(r.at(h).max, clipped.at(h).max);  // hidden: as the calibrator says
  EXPECT_FLOAT_EQ(r.at(z).max, 6.0f);               // output: everything observed
}

tflite::DepthwiseConv2DOptionsT depthwise_options() {
  tflite::DepthwiseConv2DOptionsT o;
  o.padding = tflite::Padding::SAME;
  o.stride_w = o.stride_h = o.depth_multiplier = 1;
  return o;
}

tflite::Conv2DOptionsT conv_options() {
  tflite::Conv2DOptionsT o;
  o.padding = tflite::Padding::SAME;
  o.stride_w = o.stride_h = 1;
  return o;
}

// DEPTHWISE -> CONV with one channel 30x wider than the others: one per-tensor int8 scale
// for the depthwise output leaves the narrow channels a few levels. Equalization rescales
// the channels (same float function) and the int8 model gets much closer to float.
TEST(QuantizeInt8, ChannelEqualizationBalancesAWideChannel) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 6, 6, 4});
  std::vector<float> wd = test::random_floats(36, 3, -0.5f, 0.5f);
  for (size_t i = 0; i < wd.size(); i += 4) wd[i] *= 30.0f;  // channel 0
  const int dw = b.tensor(DType::kFloat32, {1, 6, 6, 4}, std::nullopt, "dw");
  b.op(B::DEPTHWISE_CONV_2D, {x, b.constant_f32({1, 3, 3, 4}, wd), b.constant_f32({4}, {0.5f, 0.1f, -0.1f, 0.0f})}, {dw},
       depthwise_options());
  const int y = b.tensor(DType::kFloat32, {1, 6, 6, 3}, std::nullopt, "y");
  std::vector<float> wc = test::random_floats(12, 4, -1.0f, 1.0f);
  for (size_t i = 0; i < wc.size(); i += 4) wc[i] /= 30.0f;  // so every channel matters as much to y
  b.op(B::CONV_2D, {dw, b.constant_f32({3, 1, 1, 4}, wc), -1}, {y}, conv_options());
  b.output(y);
  expect_equalization_helps(std::make_shared<Model>(b.model()), x, {dw});
}

// The same through a RELU op into a depthwise consumer (selfie_segmentation's pattern).
TEST(QuantizeInt8, ChannelEqualizationLooksThroughReluIntoDepthwise) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 6, 6, 4});
  std::vector<float> wc = test::random_floats(16, 5, -0.5f, 0.5f);
  for (size_t i = 0; i < 4; ++i) wc[i] *= 30.0f;  // output channel 0
  const int conv = b.tensor(DType::kFloat32, {1, 6, 6, 4}, std::nullopt, "conv");
  b.op(B::CONV_2D, {x, b.constant_f32({4, 1, 1, 4}, wc), b.constant_f32({4}, {1.0f, 0.1f, 0.2f, 0.0f})}, {conv}, conv_options());
  const int relu = b.tensor(DType::kFloat32, {1, 6, 6, 4}, std::nullopt, "relu");
  b.op(B::RELU, {conv}, {relu});
  std::vector<float> wd = test::random_floats(36, 6, -1.0f, 1.0f);
  for (size_t i = 0; i < wd.size(); i += 4) wd[i] /= 30.0f;
  const int y = b.tensor(DType::kFloat32, {1, 6, 6, 4}, std::nullopt, "y");
  b.op(B::DEPTHWISE_CONV_2D, {relu, b.constant_f32({1, 3, 3, 4}, wd), -1}, {y}, depthwise_options());
  b.output(y);
  expect_equalization_helps(std::make_shared<Model>(b.model()), x, {conv, relu});
}

// Bias correction, a known answer. A 1x1 conv whose every weight sits 0.45 of a step above
// its int8 grid point (each output channel's widest weight is exactly 1, so its scale is
// 1/127) loses 0.45/127 per weight when rounded: with 15 other weights on inputs of mean 2.5,
// each output channel is about 0.13 low, more than a step of the output's grid. Measured on
// calibration inputs, the correction must take that mean error away (a wrong sign doubles it).
TEST(QuantizeInt8, BiasCorrectionRemovesAKnownMeanShiftPerChannel) {
  constexpr int kIn = 16, kOut = 8;
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 6, 6, kIn});
  std::vector<float> w(kOut * kIn);
  const std::vector<float> u = test::random_floats(w.size(), 41, -100.0f, 100.0f);
  for (int o = 0; o < kOut; ++o)
    for (int i = 0; i < kIn; ++i)
      w[o * kIn + i] = i == o ? 1.0f : (std::round(u[o * kIn + i]) + 0.45f) / 127.0f;
  const int y = b.tensor(DType::kFloat32, {1, 6, 6, kOut}, std::nullopt, "y");
  b.op(B::CONV_2D, {x, b.constant_f32({kOut, 1, 1, kIn}, w), b.constant_f32({kOut}, std::vector<float>(kOut, 0.0f))}, {y},
       conv_options());
  b.output(y);
  auto model = std::make_shared<Model>(b.model());
  auto sample = [&](uint32_t seed) {
    HostTensor h = HostTensor::zeros(model->subgraphs[0].tensors[x].name, DType::kFloat32, {1, 6, 6, kIn});
    const std::vector<float> v = test::random_floats(6 * 6 * kIn, seed, 2.0f, 3.0f);
    std::copy(v.begin(), v.end(), h.as<float>());
    return h;
  };
  const Executor fx(model);
  StatsCollector collector(Histogram::kDefaultMaxBins, 0, false, {});
  for (uint32_t seed = 10; seed < 30; ++seed) fx.run({sample(seed)}, &collector);
  TensorRanges ranges;
  for (const auto& [t, st] : collector.stats()) ranges[t] = {st.min, st.max};
  QuantizeOptions o;
  o.correct_weight_rounding = false;  // it would take the same shift off analytically
  o.equalize = false;
  // Mean error (quantized - float) of each output channel on inputs not calibrated on, in
  // steps of the output's int8 grid.
  const Range out_range = ranges.at(model->subgraphs[0].outputs[0]);
  const double step = (std::max(out_range.max, 0.0f) - std::min(out_range.min, 0.0f)) / 255.0;
  auto channel_errors = [&](const Model& qm) {
    const Executor qx(std::make_shared<Model>(qm));
    std::vector<double> err(kOut, 0.0);
    int64_t n = 0;
    for (uint32_t seed = 100; seed < 110; ++seed) {
      const HostTensor ref = fx.run({sample(seed)})[0], got = qx.run({sample(seed)})[0];
      for (int64_t i = 0; i < ref.size(); ++i) err[i % kOut] += double(got.as<float>()[i]) - ref.as<float>()[i];
      n += ref.size() / kOut;
    }
    for (double& e : err) e /= static_cast<double>(n) * step;
    return err;
  };
  QuantizeSummary s1;
  const Model plain = quantize_int8(*model, ranges, o, s1);
  QuantizationComparison cmp(model, std::make_shared<Model>(plain));
  for (uint32_t seed = 10; seed < 30; ++seed) cmp.add({sample(seed)});
  o.bias_corrections = bias_corrections(cmp.layers(), plain);
  ASSERT_EQ(o.bias_corrections.size(), 1u);
  QuantizeSummary s2;
  const Model corrected = quantize_int8(*model, ranges, o, s2);
  EXPECT_EQ(s2.bias_corrected, 1);
  const std::vector<double> before = channel_errors(plain), after = channel_errors(corrected);
  for (int c = 0; c < kOut; ++c) {
    EXPECT_LT(before[c], -1.0) << "channel " << c << ": the test's premise, rounding every weight down";
    EXPECT_LT(std::abs(after[c]), 0.25) << "channel " << c << ": " << before[c] << " steps before, " << after[c] << " after";
  }
}

// CONV -> RELU, and CONV -> ADD (residual) -> RELU6 as in BlazeFace's blocks: the int8
// rewrite folds both activations into the op before them, as TFLite's converter does, so
// LiteRT's XNNPACK delegate takes the whole graph. A RELU whose input is also a graph output
// stays. Each output is the unfused model's within one step of its scale.
TEST(QuantizeInt8, FoldsActivationsIntoTheirProducers) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 6, 6, 4});
  const int conv = b.tensor(DType::kFloat32, {1, 6, 6, 4}, std::nullopt, "conv");
  b.op(B::CONV_2D, {x, b.constant_f32({4, 3, 3, 4}, test::random_floats(144, 7, -0.4f, 0.4f)),
                    b.constant_f32({4}, {0.1f, -0.3f, 0.2f, 0.0f})},
       {conv}, conv_options());
  const int relu = b.tensor(DType::kFloat32, {1, 6, 6, 4}, std::nullopt, "relu");
  b.op(B::RELU, {conv}, {relu});
  const int conv2 = b.tensor(DType::kFloat32, {1, 6, 6, 4}, std::nullopt, "conv2");
  b.op(B::CONV_2D, {x, b.constant_f32({4, 1, 1, 4}, test::random_floats(16, 8, -1.0f, 1.0f)), -1}, {conv2}, conv_options());
  const int add = b.tensor(DType::kFloat32, {1, 6, 6, 4}, std::nullopt, "add");
  b.op(B::ADD, {conv2, x}, {add}, tflite::AddOptionsT{});
  const int relu6 = b.tensor(DType::kFloat32, {1, 6, 6, 4}, std::nullopt, "relu6");
  b.op(B::RELU6, {add}, {relu6});
  const int sub = b.tensor(DType::kFloat32, {1, 6, 6, 4}, std::nullopt, "sub");
  b.op(B::SUB, {conv2, x}, {sub}, tflite::SubOptionsT{});
  const int clipped = b.tensor(DType::kFloat32, {1, 6, 6, 4}, std::nullopt, "clipped");
  b.op(B::RELU_N1_TO_1, {sub}, {clipped});  // sub is a graph output too: not folded
  b.output(relu);
  b.output(relu6);
  b.output(sub);
  b.output(clipped);
  const auto model = std::make_shared<Model>(b.model());

  const Executor fx(model);
  auto sample = [&](uint32_t seed) { return random_input(*model, x, seed, -2.0f, 3.0f); };
  StatsCollector collector;
  for (uint32_t seed = 10; seed < 30; ++seed) fx.run({sample(seed)}, &collector);
  TensorRanges ranges;
  for (const auto& [t, st] : collector.stats()) ranges[t] = {st.min, st.max};

  QuantizeOptions o;
  QuantizeSummary fs, us;
  const auto fused = std::make_shared<Model>(quantize_int8(*model, ranges, o, fs));
  o.fuse_activations = false;
  const auto unfused = std::make_shared<Model>(quantize_int8(*model, ranges, o, us));
  ASSERT_NO_THROW(verify_quantized_model(*fused));
  ASSERT_NO_THROW(verify_quantized_model(*unfused));
  EXPECT_EQ(fs.fused_activations, 2);
  EXPECT_EQ(us.fused_activations, 0);
  EXPECT_EQ(fs.quantized_ops, us.quantized_ops);  // still quantized, only folded
  EXPECT_EQ(find_op(*fused, B::RELU), nullptr);
  EXPECT_EQ(find_op(*fused, B::RELU6), nullptr);
  EXPECT_NE(find_op(*fused, B::RELU_N1_TO_1), nullptr);
  EXPECT_NE(find_op(*unfused, B::RELU), nullptr);
  EXPECT_NE(find_op(*unfused, B::RELU6), nullptr);
  EXPECT_EQ(fused->subgraphs[0].operators.size() + 2, unfused->subgraphs[0].operators.size());
  using A = tflite::ActivationFunctionType;
  const Operator& qconv = *find_op(*fused, B::CONV_2D);
  const Operator& qadd = *find_op(*fused, B::ADD);
  EXPECT_EQ(qconv.options.AsConv2DOptions()->fused_activation_function, A::RELU);
  EXPECT_EQ(qadd.options.AsAddOptions()->fused_activation_function, A::RELU6);
  EXPECT_EQ(find_op(*fused, B::SUB)->options.AsSubOptions()->fused_activation_function, A::NONE);
  // The conv writes the RELU's tensor (the graph output's int8 version), quantized for the
  // RELU's range, and the tensor map pairs it with the float RELU output (the reports'
  // per-layer figures).
  const Tensor& qrelu = tensor(*fused, qconv.outputs[0]);
  EXPECT_EQ(qrelu.name, "relu_int8");
  EXPECT_FLOAT_EQ(qrelu.quantization->scale[0], asymmetric_params(ranges[relu].min, ranges[relu].max).scale);
  EXPECT_EQ(fs.tensor_map.at(qconv.outputs[0]), relu);
  EXPECT_EQ(fs.tensor_map.at(qadd.outputs[0]), relu6);
  for (const auto& [q, f] : fs.tensor_map) EXPECT_TRUE(f != conv && f != add) << "a folded-away tensor is mapped";

  // Per output: the unfused model rounds twice, to the producer's step p and then to the
  // activation's step s, the fused one once to s: they differ by at most s + p / 2, and
  // the fused one is no further from float. Outputs without a fold are bit-identical.
  const Executor fq(fused), uq(unfused);
  const Subgraph& us_g = unfused->subgraphs[0];
  auto producer_of = [&](int t) {
    for (const Operator& op : us_g.operators)
      if (!op.outputs.empty() && op.outputs[0] == t) return &op;
    return static_cast<const Operator*>(nullptr);
  };
  std::vector<double> err_fused(4, 0.0), err_unfused(4, 0.0);
  int differ = 0;
  for (uint32_t seed = 100; seed < 110; ++seed) {
    const std::vector<HostTensor> ref = fx.run({sample(seed)});
    const std::vector<HostTensor> a = fq.run({sample(seed)}), c = uq.run({sample(seed)});
    ASSERT_EQ(a.size(), 4u);
    for (size_t k = 0; k < a.size(); ++k) {
      const Operator* deq = producer_of(us_g.outputs[k]);  // float outputs: DEQUANTIZE of the int8 result
      ASSERT_TRUE(deq && deq->builtin() == B::DEQUANTIZE);
      const float step = tensor(*unfused, deq->inputs[0]).quantization->scale[0];
      const Operator* act = producer_of(deq->inputs[0]);
      const bool folded = act->builtin() == B::RELU || act->builtin() == B::RELU6;
      const float bound = folded ? step + tensor(*unfused, act->inputs[0]).quantization->scale[0] / 2 : 0.0f;
      for (int64_t i = 0; i < a[k].size(); ++i) {
        const float f = a[k].as<float>()[i], u = c[k].as<float>()[i], r = ref[k].as<float>()[i];
        EXPECT_LE(std::fabs(f - u), bound * 1.001f) << "output " << k << " element " << i;
        differ += f != u;
        err_fused[k] += std::fabs(f - r);
        err_unfused[k] += std::fabs(u - r);
      }
    }
  }
  for (size_t k = 0; k < 4; ++k) EXPECT_LE(err_fused[k], err_unfused[k] * 1.001) << "output " << k;
  std::printf("folded activations: %d of %d output values differ from the unfused model; mean |error| vs float: "
              "relu %.4f -> %.4f, relu6 %.4f -> %.4f\n",
              differ, 10 * 4 * 144, err_unfused[0] / 1440, err_fused[0] / 1440, err_unfused[1] / 1440, err_fused[1] / 1440);
}

TEST(QuantizeInt8, RefusesQuantizedModels) {
  TestGraph g;
  QuantizeSummary s;
  const Model q = quantize_int8(g.b.model(), g.ranges, {}, s);
  EXPECT_THROW(quantize_int8(q, g.ranges, {}, s), Error);
  EXPECT_THROW(quantize_fp16(q, s), Error);
  EXPECT_THROW(quantize_dynamic(q, {}, s), Error);
}

TEST(VerifyQuantizedModel, CatchesBrokenConstraints) {
  TestGraph g;
  QuantizeSummary s;
  const Model good = quantize_int8(g.b.model(), g.ranges, {}, s);
  auto expect_refused = [&](auto&& breakit, const char* what) {
    Model m = good;
    breakit(m);
    EXPECT_THROW(verify_quantized_model(m), Error) << what;
  };
  expect_refused([](Model& m) { m.subgraphs[0].tensors[find_op(m, B::CONV_2D)->inputs[2]].quantization->scale[0] *= 2; },
                 "bias scale");
  expect_refused([](Model& m) { m.subgraphs[0].tensors[find_op(m, B::CONCATENATION)->inputs[1]].quantization->scale[0] *= 2; },
                 "concat scale");
  expect_refused([](Model& m) { m.subgraphs[0].tensors[find_op(m, B::LOGISTIC)->outputs[0]].quantization->zero_point[0] = 0; },
                 "logistic output");
  expect_refused([](Model& m) {
    const Tensor& w = m.subgraphs[0].tensors[find_op(m, B::CONV_2D)->inputs[1]];
    m.buffers[w.buffer].data[0] = 0x80;  // -128
  }, "weights -128");
  expect_refused([](Model& m) { m.subgraphs[0].tensors[find_op(m, B::CONV_2D)->inputs[1]].quantization->quantized_dimension = 3; },
                 "weights axis");
  expect_refused([](Model& m) { std::swap(m.subgraphs[0].operators[0], m.subgraphs[0].operators[1]); }, "order");
}

TEST(QuantizeFp16, HalfWeightsBehindDequantizeComputeLikeFloat) {
  TestGraph g;
  QuantizeSummary s;
  const Model h = quantize_fp16(g.b.model(), s);
  ASSERT_NO_THROW(verify_quantized_model(h));
  EXPECT_EQ(s.dequantize_ops_added, 3);  // two weights, one bias
  EXPECT_LT(s.weight_bytes_after, s.weight_bytes_before);
  int fp16 = 0;
  for (const Tensor& t : h.subgraphs[0].tensors) fp16 += t.dtype == DType::kFloat16;
  EXPECT_EQ(fp16, 3);
}

TEST(QuantizeDynamic, Int8WeightsFloatActivations) {
  TestGraph g;
  QuantizeSummary s;
  QuantizeOptions o;
  o.dynamic_min_elements = 100;  // the 108-element conv qualifies, the 6-element one not
  const Model d = quantize_dynamic(g.b.model(), o, s);
  ASSERT_NO_THROW(verify_quantized_model(d));
  EXPECT_EQ(s.quantized_ops, 1);
  const Operator& conv = *find_op(d, B::CONV_2D);
  EXPECT_EQ(tensor(d, conv.inputs[1]).dtype, DType::kInt8);
  EXPECT_EQ(tensor(d, conv.inputs[2]).dtype, DType::kFloat32);
  EXPECT_EQ(tensor(d, conv.outputs[0]).dtype, DType::kFloat32);
  EXPECT_EQ(tensor(d, find_op(d, B::CONV_2D, 1)->inputs[1]).dtype, DType::kFloat32);
}

// HARD_SWISH stays float by default (LiteRT's XNNPACK takes only the float form, so int8
// cuts the model's fast partition); --all-int8 quantizes it.
TEST(QuantizeInt8, HardSwishStaysFloatUnlessAllInt8) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 4, 4, 2});
  const int a = b.tensor(DType::kFloat32, {1, 4, 4, 2}, std::nullopt, "add");
  b.op(B::ADD, {x, x}, {a});
  const int h = b.tensor(DType::kFloat32, {1, 4, 4, 2}, std::nullopt, "hswish");
  b.op(B::HARD_SWISH, {a}, {h});
  const int y = b.tensor(DType::kFloat32, {1, 4, 4, 2}, std::nullopt, "y");
  b.op(B::ADD, {h, h}, {y});
  b.output(y);
  const TensorRanges ranges = {{x, {-4.0f, 4.0f}}, {a, {-8.0f, 8.0f}}, {h, {-0.4f, 8.0f}}, {y, {-0.8f, 16.0f}}};
  QuantizeSummary s;
  const Model q = quantize_int8(b.model(), ranges, {}, s);
  ASSERT_NO_THROW(verify_quantized_model(q));
  ASSERT_EQ(s.kept_float.size(), 1u);
  EXPECT_EQ(s.kept_float[0].op_name, "HARD_SWISH");
  EXPECT_NE(s.kept_float[0].reason.find("XNNPACK"), std::string::npos);
  EXPECT_EQ(tensor(q, find_op(q, B::HARD_SWISH)->outputs[0]).dtype, DType::kFloat32);
  QuantizeOptions all;
  all.all_int8 = true;
  QuantizeSummary sa;
  const Model qa = quantize_int8(b.model(), ranges, all, sa);
  EXPECT_TRUE(sa.kept_float.empty());
  EXPECT_EQ(tensor(qa, find_op(qa, B::HARD_SWISH)->outputs[0]).dtype, DType::kInt8);
}

}  // namespace
}  // namespace qcal
