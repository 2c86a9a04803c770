// dequantize_model: the float32 twin of a quantized model. Each op of the twin, fed the real
// values the quantized op read, must give what the quantized op wrote to within its own
// rounding (twin_check.h derives the bound); the graph must be plain float32; what has no
// float twin is refused with a message naming the op.
#include <random>

#include "op_test_util.h"
#include "qcal/error.h"
#include "qcal/model_io.h"
#include "qcal/passes.h"
#include "twin_check.h"

namespace qcal {
namespace {

using test::ModelBuilder;
using tflite::BuiltinOperator;

Quantization qp(float scale, int64_t zp) {
  Quantization q;
  q.scale = {scale};
  q.zero_point = {zp};
  return q;
}

template <typename T>
std::vector<uint8_t> random_codes(size_t n, uint32_t seed, int lo, int hi) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return test::to_bytes(v);
}

std::vector<int32_t> random_bias(size_t n, uint32_t seed, int range) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-range, range);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// TOCO's legacy uint8 scheme: uint8 I/O, weights with zero points, a fused RELU6, an average
// pool, a reshape, a fully connected layer and a uint8 softmax.
Model uint8_model() {
  ModelBuilder b;
  const float xs = 1.0f / 128, w1s = 0.02f, w2s = 0.005f, w3s = 0.004f;
  const int x = b.input(DType::kUInt8, {1, 8, 8, 3}, qp(xs, 128));
  const int w1 = b.constant(DType::kUInt8, {6, 3, 3, 3}, random_codes<uint8_t>(6 * 27, 1, 0, 255), qp(w1s, 120));
  Quantization b1q = qp(xs * w1s, 0);
  const int b1 = b.constant(DType::kInt32, {6}, test::to_bytes(random_bias(6, 2, 2000)), b1q);
  const int y1 = b.tensor(DType::kUInt8, {1, 8, 8, 6}, qp(6.0f / 255, 0), "conv/Relu6");
  tflite::Conv2DOptionsT co;
  co.padding = tflite::Padding::SAME;
  co.stride_h = co.stride_w = 1;
  co.fused_activation_function = tflite::ActivationFunctionType::RELU6;
  b.op(BuiltinOperator::CONV_2D, {x, w1, b1}, {y1}, co);
  const int w2 = b.constant(DType::kUInt8, {1, 3, 3, 6}, random_codes<uint8_t>(54, 3, 0, 255), qp(w2s, 130));
  const int b2 = b.constant(DType::kInt32, {6}, test::to_bytes(random_bias(6, 4, 300)), qp(6.0f / 255 * w2s, 0));  // grids below are wide enough not to saturate
  const int y2 = b.tensor(DType::kUInt8, {1, 8, 8, 6}, qp(0.25f, 128), "dw/BiasAdd");
  tflite::DepthwiseConv2DOptionsT dwo;
  dwo.padding = tflite::Padding::SAME;
  dwo.stride_h = dwo.stride_w = 1;
  dwo.depth_multiplier = 1;
  b.op(BuiltinOperator::DEPTHWISE_CONV_2D, {y1, w2, b2}, {y2}, dwo);
  const int y3 = b.tensor(DType::kUInt8, {1, 8, 8, 6}, qp(0.3f, 110), "add");
  b.op(BuiltinOperator::ADD, {y1, y2}, {y3}, tflite::AddOptionsT{});
  const int y4 = b.tensor(DType::kUInt8, {1, 4, 4, 6}, qp(0.3f, 110), "pool");
  tflite::Pool2DOptionsT po;
  po.padding = tflite::Padding::VALID;
  po.stride_h = po.stride_w = po.filter_height = po.filter_width = 2;
  b.op(BuiltinOperator::AVERAGE_POOL_2D, {y3}, {y4}, po);
  const int shape = b.constant_i32({2}, {1, 96});
  const int y5 = b.tensor(DType::kUInt8, {1, 96}, qp(0.3f, 110), "flat");
  b.op(BuiltinOperator::RESHAPE, {y4, shape}, {y5});
  const int w3 = b.constant(DType::kUInt8, {10, 96}, random_codes<uint8_t>(960, 5, 0, 255), qp(w3s, 127));
  const int b3 = b.constant(DType::kInt32, {10}, test::to_bytes(random_bias(10, 6, 5000)), qp(0.3f * w3s, 0));
  const int y6 = b.tensor(DType::kUInt8, {1, 10}, qp(0.5f, 128), "logits");
  b.op(BuiltinOperator::FULLY_CONNECTED, {y5, w3, b3}, {y6}, tflite::FullyConnectedOptionsT{});
  const int y7 = b.tensor(DType::kUInt8, {1, 10}, qp(1.0f / 256, 0), "probs");
  tflite::SoftmaxOptionsT so;
  so.beta = 1.0f;
  b.op(BuiltinOperator::SOFTMAX, {y6}, {y7}, so);
  b.output(y7);
  return b.model();
}

// The int8 scheme as TFLite's converter (and qcal) writes it: float I/O behind QUANTIZE and
// DEQUANTIZE, symmetric per-channel weights, per-channel bias scales, a fixed-range LOGISTIC.
Model int8_model() {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 6, 6, 4}, std::nullopt);
  b.sg().tensors[x].name = "image";
  const float xs = 0.01f;
  const int xq = b.tensor(DType::kInt8, {1, 6, 6, 4}, qp(xs, -3), "image/quantized");
  b.op(BuiltinOperator::QUANTIZE, {x}, {xq});
  Quantization wq;
  wq.scale = {0.01f, 0.02f, 0.005f, 0.03f, 0.015f};
  wq.zero_point.assign(5, 0);
  wq.quantized_dimension = 0;
  const int w = b.constant(DType::kInt8, {5, 1, 1, 4}, random_codes<int8_t>(20, 7, -127, 127), wq);
  Quantization bq;
  for (float s : wq.scale) bq.scale.push_back(xs * s);
  bq.zero_point.assign(5, 0);
  const int bias = b.constant(DType::kInt32, {5}, test::to_bytes(random_bias(5, 8, 4000)), bq);
  const int y = b.tensor(DType::kInt8, {1, 6, 6, 5}, qp(0.15f, 5), "conv");  // wide enough: no saturation
  tflite::Conv2DOptionsT co;
  co.padding = tflite::Padding::VALID;
  co.stride_h = co.stride_w = 1;
  b.op(BuiltinOperator::CONV_2D, {xq, w, bias}, {y}, co);
  const int z = b.tensor(DType::kInt8, {1, 6, 6, 5}, qp(1.0f / 256, -128), "sigmoid");
  b.op(BuiltinOperator::LOGISTIC, {y}, {z});
  const int out = b.tensor(DType::kFloat32, {1, 6, 6, 5}, std::nullopt, "scores");
  b.op(BuiltinOperator::DEQUANTIZE, {z}, {out});
  b.output(out);
  return b.model();
}

void expect_plain_float(const Model& twin) {
  for (const Operator& op : twin.subgraphs[0].operators) {
    EXPECT_NE(op.builtin(), BuiltinOperator::QUANTIZE);
    EXPECT_NE(op.builtin(), BuiltinOperator::DEQUANTIZE);
  }
  for (const Tensor& t : twin.subgraphs[0].tensors) {
    EXPECT_FALSE(t.quantization.has_value()) << t.name;
    if (!twin.data_of(t)) EXPECT_EQ(t.dtype, DType::kFloat32) << t.name;
  }
}

void expect_ops_within_rounding(const Model& q, const Model& twin, const DequantizeReport& r,
                                const std::vector<std::vector<HostTensor>>& samples, size_t ops) {
  const std::vector<test::TwinOpCheck> checks = test::check_twin(q, twin, r, samples);
  ASSERT_EQ(checks.size(), ops);
  for (const auto& c : checks)
    EXPECT_TRUE(c.ok()) << "op " << c.op << " " << c.name << ": " << c.max_steps << " steps, bound " << c.bound << ", saturated " << c.clipped;
}

TEST(Dequantize, Uint8ModelBecomesItsFloatTwin) {
  const Model q = uint8_model();
  DequantizeReport r;
  const Model twin = dequantize_model(q, &r);
  expect_plain_float(twin);
  EXPECT_EQ(r.constants, 6);  // three weights, three biases
  EXPECT_EQ(r.conversions_dropped, 0);
  const Subgraph& sg = twin.subgraphs[0];
  EXPECT_EQ(sg.operators.size(), 7u);  // no clamp: the RELU6 grid ends at 6, the others are unbounded
  EXPECT_EQ(r.clamps, 0);
  EXPECT_EQ(sg.tensors[sg.inputs[0]].dtype, DType::kFloat32);
  EXPECT_EQ(sg.tensors[sg.outputs[0]].name, "probs");
  // Options and fused activations are the quantized model's.
  EXPECT_EQ(sg.operators[0].options.AsConv2DOptions()->fused_activation_function, tflite::ActivationFunctionType::RELU6);
  // Weights are (q - z) * s.
  const Tensor& w = sg.tensors[sg.operators[0].inputs[1]];
  const std::vector<uint8_t>& codes = q.buffers[q.subgraphs[0].tensors[q.subgraphs[0].operators[0].inputs[1]].buffer].data;
  const std::vector<float> real = test::from_bytes<float>(twin.data_of(w)->data);
  for (size_t i = 0; i < real.size(); ++i) ASSERT_FLOAT_EQ(real[i], 0.02f * (static_cast<int>(codes[i]) - 120));
  std::vector<std::vector<HostTensor>> samples;
  for (uint32_t s = 0; s < 4; ++s)
    samples.push_back({HostTensor{"x", DType::kUInt8, {1, 8, 8, 3}, random_codes<uint8_t>(192, 100 + s, 0, 255)}});
  expect_ops_within_rounding(q, twin, r, samples, 7);
}

TEST(Dequantize, Int8ModelDropsConversionsAndKeepsIoNames) {
  const Model q = int8_model();
  DequantizeReport r;
  const Model twin = dequantize_model(q, &r);
  expect_plain_float(twin);
  EXPECT_EQ(r.conversions_dropped, 2);
  const Subgraph& sg = twin.subgraphs[0];
  ASSERT_EQ(sg.operators.size(), 2u);
  EXPECT_EQ(sg.operators[0].builtin(), BuiltinOperator::CONV_2D);
  EXPECT_EQ(sg.tensors[sg.inputs[0]].name, "image");   // the caller's tensors survive
  EXPECT_EQ(sg.tensors[sg.outputs[0]].name, "scores");
  EXPECT_EQ(sg.operators[0].inputs[0], sg.inputs[0]);
  EXPECT_EQ(sg.operators[1].outputs[0], sg.outputs[0]);
  // The map sends both ends of a dropped conversion to the one tensor left.
  EXPECT_EQ(r.tensor_map[0][0], sg.inputs[0]);
  EXPECT_EQ(r.tensor_map[0][1], sg.inputs[0]);
  EXPECT_EQ(r.op_map[0], (std::vector<int32_t>{-1, 0, 1, -1}));
  std::vector<std::vector<HostTensor>> samples;
  for (uint32_t s = 0; s < 4; ++s)
    samples.push_back({test::host({1, 6, 6, 4}, test::random_floats(144, 200 + s, -1.2f, 1.2f))});
  expect_ops_within_rounding(q, twin, r, samples, 2);
  // Per-channel biases are dequantized with their own scales.
  const std::vector<float> bias = test::from_bytes<float>(twin.data_of(sg.tensors[sg.operators[0].inputs[2]])->data);
  const std::vector<int32_t> codes = random_bias(5, 8, 4000);
  const std::vector<float> ws = {0.01f, 0.02f, 0.005f, 0.03f, 0.015f};
  for (int c = 0; c < 5; ++c) EXPECT_FLOAT_EQ(bias[c], static_cast<float>(double(0.01f * ws[c]) * codes[c]));
}

// TOCO drops a uint8 op's fused RELU6 when its output grid [0, 6] clips anyway; quantization-
// aware training leaves RELU grids ending below the activation's bound. The twin keeps both clips.
TEST(Dequantize, KeepsTheClippingOfActivationGrids) {
  using A = tflite::ActivationFunctionType;
  std::vector<std::vector<HostTensor>> samples;
  for (uint32_t s = 0; s < 3; ++s)
    samples.push_back({HostTensor{"x", DType::kUInt8, {1, 8, 8, 3}, random_codes<uint8_t>(192, 300 + s, 0, 255)}});
  {
    Model q = uint8_model();
    q.subgraphs[0].operators[0].options.AsConv2DOptions()->fused_activation_function = A::NONE;
    DequantizeReport r;
    const Model twin = dequantize_model(q, &r);
    EXPECT_EQ(r.activations_restored, 1);
    EXPECT_EQ(r.clamps, 0);
    EXPECT_EQ(twin.subgraphs[0].operators[0].options.AsConv2DOptions()->fused_activation_function, A::RELU6);
    expect_ops_within_rounding(q, twin, r, samples, 7);
  }
  {
    Model q = uint8_model();
    Operator& conv = q.subgraphs[0].operators[0];
    conv.options.AsConv2DOptions()->fused_activation_function = A::RELU;
    q.subgraphs[0].tensors[conv.outputs[0]].quantization->scale = {2.8f / 255};  // clips at 2.8
    q.subgraphs[0].tensors[conv.inputs[2]].quantization->scale = {1.0f / 128 * 0.02f};
    DequantizeReport r;
    const Model twin = dequantize_model(q, &r);
    EXPECT_EQ(r.clamps, 1);
    ASSERT_EQ(twin.subgraphs[0].operators.size(), 8u);
    EXPECT_EQ(twin.subgraphs[0].operators[1].builtin(), BuiltinOperator::MINIMUM);
    EXPECT_EQ(r.op_map[0][1], 2);
    expect_ops_within_rounding(q, twin, r, samples, 7);
    // Without the clamp the twin's conv leaves the grid on many values: the check sees it.
    Model unclamped = twin;
    Subgraph& sg = unclamped.subgraphs[0];
    sg.operators[0].outputs = sg.operators[1].outputs;
    sg.operators.erase(sg.operators.begin() + 1);
    DequantizeReport r2 = r;
    for (int32_t& k : r2.op_map[0]) if (k > 1) --k;
    const auto checks = test::check_twin(q, unclamped, r2, samples);
    EXPECT_FALSE(checks[0].ok()) << checks[0].clipped;
  }
}

TEST(Dequantize, TwinIsWrittenAndReadBack) {
  test::TempDir dir;
  const Model twin = dequantize_model(uint8_model());
  write_model(twin, dir.path / "twin.tflite");
  const Model back = read_model(dir.path / "twin.tflite");
  EXPECT_EQ(back.subgraphs[0].operators.size(), 7u);
}

TEST(Dequantize, RefusesWhatHasNoFloatTwin) {
  {
    Model q = int8_model();
    Subgraph& sg = q.subgraphs[0];
    Tensor codes = sg.tensors[4];  // "conv", int8
    ASSERT_EQ(codes.name, "conv");
    codes.quantization.reset();
    codes.name = "codes";
    sg.tensors.push_back(codes);
    Operator cast;
    cast.code.builtin = static_cast<int32_t>(BuiltinOperator::CAST);
    cast.inputs = {4};
    cast.outputs = {static_cast<int32_t>(sg.tensors.size() - 1)};
    sg.operators.insert(sg.operators.begin() + 2, cast);
    sg.outputs.push_back(cast.outputs[0]);
    try {
      dequantize_model(q);
      FAIL() << "a CAST of quantized codes was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("operator 2 (CAST)"), std::string::npos) << e.what();
    }
  }
  {
    Model q = int8_model();
    Operator& op = q.subgraphs[0].operators[2];  // LOGISTIC -> a custom op nobody knows
    op.code.builtin = static_cast<int32_t>(BuiltinOperator::CUSTOM);
    op.code.custom = "MyOp";
    EXPECT_THROW(dequantize_model(q), Error);
  }
  {
    ModelBuilder b;  // already float
    const int x = b.input(DType::kFloat32, {1, 4});
    const int y = b.tensor(DType::kFloat32, {1, 4});
    b.op(BuiltinOperator::RELU, {x}, {y});
    b.output(y);
    EXPECT_THROW(dequantize_model(b.model()), Error);
  }
}

}  // namespace
}  // namespace qcal
