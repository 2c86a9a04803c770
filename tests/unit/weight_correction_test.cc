// The weight-rounding correction of the int8 rewrite (sum-keeping rounding and the bias
// shift from the input's channel means) and the fake-quant simulation that separates the
// grid's error from the integer kernels'.
#include <gtest/gtest.h>

#include <cmath>

#include "op_test_util.h"
#include "qcal/calibration.h"
#include "qcal/error.h"
#include "qcal/executor.h"
#include "qcal/passes.h"
#include "qcal/quantize.h"

namespace qcal {
namespace {

using test::ModelBuilder;
using B = tflite::BuiltinOperator;

const Operator* find_op(const Model& m, B code) {
  for (const Operator& op : m.subgraphs[0].operators)
    if (op.builtin() == code) return &op;
  return nullptr;
}

// input [1,8,8,C] with a large mean against its variation -> DEPTHWISE 3x3 with kernels
// that nearly sum to zero (high-pass, as MobileNet v1's) -> CONV 1x1 with large weights.
struct HighPassModel {
  mutable ModelBuilder b;
  int x, dw, y;
  std::vector<float> wd;
  static constexpr int kC = 8;

  HighPassModel() {
    x = b.input(DType::kFloat32, {1, 18, 18, kC});
    wd = test::random_floats(9 * kC, 7, -1.0f, 1.0f);
    for (int c = 0; c < kC; ++c) {  // make each channel's kernel sum to (almost) zero
      float sum = 0;
      for (int k = 0; k < 9; ++k) sum += wd[k * kC + c];
      for (int k = 0; k < 9; ++k) wd[k * kC + c] -= sum / 9 - 0.01f;
    }
    dw = b.tensor(DType::kFloat32, {1, 16, 16, kC}, std::nullopt, "dw");
    tflite::DepthwiseConv2DOptionsT o;
    o.padding = tflite::Padding::VALID;  // no border: every output sees the whole kernel
    o.stride_w = o.stride_h = o.depth_multiplier = 1;
    b.op(B::DEPTHWISE_CONV_2D, {x, b.constant_f32({1, 3, 3, kC}, wd), b.constant_f32({kC}, std::vector<float>(kC, 0.0f))},
         {dw}, o);
    y = b.tensor(DType::kFloat32, {1, 16, 16, 4}, std::nullopt, "y");
    tflite::Conv2DOptionsT co;
    co.padding = tflite::Padding::SAME;
    co.stride_w = co.stride_h = 1;
    b.op(B::CONV_2D, {dw, b.constant_f32({4, 1, 1, kC}, test::random_floats(4 * kC, 8, -4.0f, 4.0f)), -1}, {y}, co);
    b.output(y);
  }
  HostTensor sample(uint32_t seed) const {
    HostTensor h = HostTensor::zeros("t0", DType::kFloat32, {1, 18, 18, kC});
    const std::vector<float> v = test::random_floats(18 * 18 * kC, seed, 4.0f, 4.5f);  // mean 4.25, range 0.5
    std::copy(v.begin(), v.end(), h.as<float>());
    return h;
  }
};

// Calibrates as qcal calibrate does and quantizes with or without the correction.
Model quantize(const HighPassModel& m, bool correct, QuantizeSummary& s) {
  auto model = std::make_shared<Model>(m.b.model());
  const Executor fx(model);
  const std::set<int> channels = channel_statistics_tensors(*model);
  EXPECT_TRUE(channels.count(m.x));
  EXPECT_TRUE(channels.count(m.dw));
  StatsCollector collector(Histogram::kDefaultMaxBins, 0, false, channels);
  for (uint32_t seed = 10; seed < 30; ++seed) fx.run({m.sample(seed)}, &collector);
  CalibrationData c;
  TensorRanges ranges;
  for (const auto& [t, st] : collector.stats()) ranges[t] = {st.min, st.max}, c.tensors[t] = st;
  QuantizeOptions o;
  o.channel_ranges = channel_ranges_from_calibration(c);
  EXPECT_EQ(o.channel_ranges.at(m.x).mean.size(), static_cast<size_t>(HighPassModel::kC));
  EXPECT_NEAR(o.channel_ranges.at(m.x).mean[0], 4.25f, 0.02f);
  o.correct_weight_rounding = correct;
  o.equalize = false;  // so the quantized weights are those of the float model
  return quantize_int8(*model, ranges, o, s);
}

double sqnr(const HighPassModel& m, const Model& q, IntegerNumerics numerics = IntegerNumerics::kXnnpack) {
  const Executor fx(std::make_shared<Model>(m.b.model()));
  ExecutorOptions opts;
  opts.integer_numerics = numerics;
  const Executor qx(std::make_shared<Model>(q), opts, "q");
  double signal = 0, noise = 0;
  for (uint32_t seed = 100; seed < 110; ++seed) {
    const HostTensor ref = fx.run({m.sample(seed)})[0], got = qx.run({m.sample(seed)})[0];
    for (int64_t i = 0; i < ref.size(); ++i) {
      signal += double(ref.as<float>()[i]) * ref.as<float>()[i];
      noise += std::pow(double(ref.as<float>()[i]) - got.as<float>()[i], 2);
    }
  }
  return 10 * std::log10(signal / noise);
}

TEST(WeightRoundingCorrection, KeepsChannelSumsAndRemovesTheMeanShift) {
  HighPassModel m;
  QuantizeSummary plain_s, corrected_s;
  const Model plain = quantize(m, false, plain_s), corrected = quantize(m, true, corrected_s);
  EXPECT_EQ(plain_s.rounding_corrected, 0);
  EXPECT_EQ(corrected_s.rounding_corrected, 2);  // the depthwise and the pointwise conv
  // Each depthwise channel's integer weights sum to the rounded sum of its real weights.
  const Operator* dw = find_op(corrected, B::DEPTHWISE_CONV_2D);
  ASSERT_NE(dw, nullptr);
  const Tensor& w = corrected.subgraphs[0].tensors[dw->inputs[1]];
  const std::vector<float> wq = constant_as_float(corrected, w);
  const auto& scales = w.quantization->scale;
  for (int c = 0; c < HighPassModel::kC; ++c) {
    double real = 0, integer = 0;
    for (int k = 0; k < 9; ++k) {
      real += m.wd[k * HighPassModel::kC + c] / scales[c];
      integer += wq[k * HighPassModel::kC + c] / scales[c];
      EXPECT_LT(std::fabs(m.wd[k * HighPassModel::kC + c] / scales[c] - wq[k * HighPassModel::kC + c] / scales[c]), 1.0)
          << "a weight moved by a whole step";
    }
    EXPECT_NEAR(integer, std::round(real), 1e-3) << "channel " << c;
  }
  const double before = sqnr(m, plain), after = sqnr(m, corrected);
  std::printf("weight-rounding correction: %.1f dB -> %.1f dB\n", before, after);
  EXPECT_GT(after, before + 6.0);
}

TEST(SimulateQuantization, RoundsEveryQuantizedTensorOntoItsGridInFloat) {
  HighPassModel m;
  QuantizeSummary s;
  const Model q = quantize(m, true, s);
  const Model sim = simulate_quantization(q);
  const Subgraph& sg = sim.subgraphs[0];
  // Only conversions touch integers; every other op computes in float.
  for (const Operator& op : sg.operators) {
    if (op.builtin() == B::QUANTIZE || op.builtin() == B::DEQUANTIZE) continue;
    for (int32_t t : op.outputs) EXPECT_EQ(sg.tensors[t].dtype, DType::kFloat32);
    for (int32_t t : op.inputs)
      if (t >= 0) EXPECT_TRUE(sg.tensors[t].dtype == DType::kFloat32 || sg.tensors[t].dtype == DType::kInt32);
  }
  // Graph inputs and outputs keep their types (float here: --io float).
  ASSERT_EQ(sg.inputs.size(), 1u);
  EXPECT_EQ(sg.tensors[sg.inputs[0]].dtype, q.subgraphs[0].tensors[q.subgraphs[0].inputs[0]].dtype);
  // The grid's error dominates: the integer kernels stay within a hair of the simulation.
  const double grid = sqnr(m, q, IntegerNumerics::kSimulate), integer = sqnr(m, q);
  std::printf("simulated %.1f dB, integer %.1f dB\n", grid, integer);
  EXPECT_NEAR(integer, grid, 1.5);
}

TEST(SimulateQuantization, IntegerIoKeepsIntegerEdges) {
  ModelBuilder b;
  Quantization qa, qy;
  qa.scale = {0.05f};
  qa.zero_point = {3};
  qy.scale = {0.1f};
  qy.zero_point = {-5};
  const int a = b.input(DType::kInt8, {1, 4}, qa);
  const int c = b.input(DType::kInt8, {1, 4}, qa);
  const int y = b.tensor(DType::kInt8, {1, 4}, qy);
  b.op(B::ADD, {a, c}, {y});
  b.output(y);
  const Model sim = simulate_quantization(b.model());
  const Subgraph& sg = sim.subgraphs[0];
  EXPECT_EQ(sg.tensors[sg.inputs[0]].dtype, DType::kInt8);
  EXPECT_EQ(sg.tensors[sg.outputs[0]].dtype, DType::kInt8);
  // ADD in float of the dequantized inputs, then rounded onto the output grid.
  Executor ex(std::make_shared<Model>(sim));
  HostTensor ia = HostTensor::zeros("t0", DType::kInt8, {1, 4}), ic = HostTensor::zeros("t1", DType::kInt8, {1, 4});
  const int8_t av[4] = {-128, 10, 50, 127}, cv[4] = {7, -3, 60, 127};
  for (int i = 0; i < 4; ++i) ia.as<int8_t>()[i] = av[i], ic.as<int8_t>()[i] = cv[i];
  ia.name = sg.tensors[sg.inputs[0]].name;
  ic.name = sg.tensors[sg.inputs[1]].name;
  const HostTensor out = ex.run({ia, ic})[0];
  for (int i = 0; i < 4; ++i) {
    const double real = 0.05 * (av[i] - 3) + 0.05 * (cv[i] - 3);
    const double want = std::clamp(std::round(real / 0.1) - 5, -128.0, 127.0);
    EXPECT_EQ(out.as<int8_t>()[i], static_cast<int8_t>(want)) << i;
  }
}

TEST(TensorStats, ChannelSumsSurviveMergeAndJson) {
  TensorStats a, b;
  const float x[6] = {1, 2, 3, 4, 5, 6}, y[4] = {10, 20, 30, 40};
  a.add(x, 6, 2);
  b.add(y, 4, 2);
  a.merge(b);
  ASSERT_EQ(a.channel_sum.size(), 2u);
  EXPECT_DOUBLE_EQ(a.channel_sum[0], 1 + 3 + 5 + 10 + 30);
  EXPECT_DOUBLE_EQ(a.channel_sum[1], 2 + 4 + 6 + 20 + 40);
  EXPECT_EQ(a.channel_count(), 5u);
  const TensorStats r = TensorStats::from_json(a.to_json());
  EXPECT_EQ(r.channel_sum, a.channel_sum);
  nlohmann::json j = a.to_json();
  j["channel_sum"] = {1.0};  // wrong length: refused
  EXPECT_THROW(TensorStats::from_json(j), Error);
}

}  // namespace
}  // namespace qcal
