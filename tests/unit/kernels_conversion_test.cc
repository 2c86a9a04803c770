// CAST, DEQUANTIZE and QUANTIZE against naive references written here.
#include <Eigen/Core>
#include <cmath>
#include <limits>

#include "op_test_util.h"

namespace qcal {
namespace {

using test::host;
using test::ModelBuilder;
using tflite::BuiltinOperator;

Quantization per_tensor(float scale, int64_t zp) {
  Quantization q;
  q.scale = {scale};
  q.zero_point = {zp};
  return q;
}
Quantization per_axis(std::vector<float> scales, std::vector<int64_t> zps, int axis) {
  Quantization q;
  q.scale = std::move(scales);
  q.zero_point = std::move(zps);
  q.quantized_dimension = axis;
  return q;
}

// Runs a one-op model with one graph input; returns the output bytes. QUANTIZE depends on the
// integer numerics (TFLite's builtin kernel or XNNPACK); the tests that check TFLite's
// semantics run in reference mode.
std::vector<uint8_t> run_convert(BuiltinOperator op, DType in_t, const Shape& s, std::vector<uint8_t> in_bytes, DType out_t,
                                 std::optional<Quantization> in_q = std::nullopt,
                                 std::optional<Quantization> out_q = std::nullopt, bool constant_input = false,
                                 IntegerNumerics numerics = IntegerNumerics::kReference) {
  ModelBuilder mb;
  const int x = mb.input(DType::kFloat32, {1});  // keeps the graph non-empty when the op is folded
  const int in = constant_input ? mb.constant(in_t, s, in_bytes, in_q) : mb.input(in_t, s, in_q);
  const int out = mb.tensor(out_t, s, out_q);
  mb.op(op, {in}, {out});
  mb.output(out);
  mb.output(x);
  std::vector<HostTensor> inputs = {host<float>({1}, {0.0f})};
  if (!constant_input) inputs.push_back(HostTensor{"", in_t, s, std::move(in_bytes)});
  for (size_t k = 0; k < inputs.size(); ++k) inputs[k].name = mb.sg().tensors[mb.sg().inputs[k]].name;
  ExecutorOptions options;
  options.integer_numerics = numerics;
  Executor ex(std::make_shared<Model>(mb.model()), options, "test model");
  return ex.run(inputs)[0].data;
}

// ---- DEQUANTIZE -----------------------------------------------------------------------------

TEST(ConversionDequantize, Float16IsExactAndFoldsWhenConstant) {
  const Shape s = {3, 5, 7};
  auto f = test::random_floats(num_elements(s), 1, -70000.0f, 70000.0f);
  f[0] = 65504.0f, f[1] = -0.0f, f[2] = 6.0e-8f, f[3] = 1e-3f, f[4] = std::numeric_limits<float>::infinity();
  std::vector<Eigen::half> h(f.size());
  for (size_t i = 0; i < f.size(); ++i) h[i] = Eigen::half(f[i]);
  for (bool constant : {false, true}) {
    const auto got = test::from_bytes<float>(
        run_convert(BuiltinOperator::DEQUANTIZE, DType::kFloat16, s, test::to_bytes(h), DType::kFloat32, {}, {}, constant));
    ASSERT_EQ(got.size(), h.size());
    for (size_t i = 0; i < h.size(); ++i) {
      const float want = static_cast<float>(h[i]);
      ASSERT_EQ(std::memcmp(&got[i], &want, 4), 0) << "at " << i << ": " << got[i] << " vs " << want;
    }
  }
}

template <typename T>
void check_dequantize(DType dt, const Shape& s, const Quantization& q, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
  std::vector<T> x(num_elements(s));
  for (T& v : x) v = static_cast<T>(dist(rng));
  const auto got = test::from_bytes<float>(run_convert(BuiltinOperator::DEQUANTIZE, dt, s, test::to_bytes(x), DType::kFloat32, q));
  // Channel of each element along the quantized dimension.
  int64_t inner = 1;
  for (size_t i = q.quantized_dimension + 1; i < s.size(); ++i) inner *= s[i];
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t c = q.per_axis() ? (i / inner) % s[q.quantized_dimension] : 0;
    const double want = static_cast<double>(q.scale[c]) * (static_cast<double>(x[i]) - static_cast<double>(q.zero_point[c]));
    ASSERT_EQ(got[i], static_cast<float>(want)) << "at element " << i;
  }
}

TEST(ConversionDequantize, IntegerPerTensorAndPerAxis) {
  check_dequantize<int8_t>(DType::kInt8, {2, 3, 4}, per_tensor(0.0173f, -5), 1);
  check_dequantize<uint8_t>(DType::kUInt8, {2, 3, 4}, per_tensor(0.05f, 128), 2);
  check_dequantize<int16_t>(DType::kInt16, {2, 3, 4}, per_tensor(3.1e-4f, 0), 3);
  check_dequantize<int8_t>(DType::kInt8, {3, 2, 2, 4}, per_axis({0.1f, 0.02f, 0.003f}, {0, 0, 0}, 0), 4);
  check_dequantize<int8_t>(DType::kInt8, {1, 3, 3, 4}, per_axis({0.1f, 0.2f, 0.03f, 0.004f}, {1, -2, 3, 0}, 3), 5);
  check_dequantize<uint8_t>(DType::kUInt8, {2, 5, 3}, per_axis({0.5f, 0.25f, 0.125f, 1.0f, 2.0f}, {10, 20, 30, 40, 50}, 1), 6);
}

TEST(ConversionDequantize, RejectsBadInputs) {
  auto expect_error = [](DType in_t, std::optional<Quantization> q, DType out_t, const Shape& out_s) {
    ModelBuilder mb;
    const int in = mb.input(in_t, {2, 3}, q);
    const int out = mb.tensor(out_t, out_s);
    mb.op(BuiltinOperator::DEQUANTIZE, {in}, {out});
    mb.output(out);
    EXPECT_THROW(Executor(std::make_shared<Model>(mb.model())), Error);
  };
  expect_error(DType::kInt8, std::nullopt, DType::kFloat32, {2, 3});                      // no scale
  expect_error(DType::kInt8, per_tensor(0.1f, 0), DType::kFloat32, {3, 2});              // shape
  expect_error(DType::kInt8, per_tensor(0.1f, 0), DType::kInt32, {2, 3});                // output type
  expect_error(DType::kInt32, per_tensor(0.1f, 0), DType::kFloat32, {2, 3});             // input type
  expect_error(DType::kInt8, per_axis({0.1f, 0.2f}, {0, 0}, 1), DType::kFloat32, {2, 3});  // 2 scales, dim 3
}

// ---- QUANTIZE -------------------------------------------------------------------------------

template <typename T>
std::vector<T> quantize(const Shape& s, const std::vector<float>& x, DType dt, const Quantization& q) {
  return test::from_bytes<T>(run_convert(BuiltinOperator::QUANTIZE, DType::kFloat32, s, test::to_bytes(x), dt, {}, q));
}

TEST(ConversionQuantize, FloatToIntRoundsHalfAwayFromZeroAndSaturates) {
  const Quantization q = per_tensor(0.5f, -3);
  // x / 0.5 = 2.5 -> 3, -2.5 -> -3, 0.5 -> 1 (away from zero, not to even), and saturation.
  const std::vector<float> x = {1.25f, -1.25f, 0.25f, -0.25f, 0.0f, 1000.0f, -1000.0f, 63.0f, 0.7499999f,
                                std::numeric_limits<float>::quiet_NaN()};
  const auto got = quantize<int8_t>({10}, x, DType::kInt8, q);
  const std::vector<int8_t> want = {0, -6, -2, -4, -3, 127, -128, 123, -2, -128};
  EXPECT_EQ(got, want);
}

TEST(ConversionQuantize, FloatToIntMatchesNaiveForAllTypes) {
  const Shape s = {4, 25};
  const auto x = test::random_floats(num_elements(s), 7, -10.0f, 10.0f);
  auto naive = [&](const Quantization& q, int64_t lo, int64_t hi, int axis_inner, int channels) {
    std::vector<int64_t> r;
    for (size_t i = 0; i < x.size(); ++i) {
      const size_t c = channels > 1 ? (i / axis_inner) % channels : 0;
      const float scaled = x[i] / q.scale[c];  // float division, as TFLite
      r.push_back(std::clamp<int64_t>(static_cast<int64_t>(std::round(scaled)) + q.zero_point[c], lo, hi));
    }
    return r;
  };
  auto widen = [](const auto& v) { return std::vector<int64_t>(v.begin(), v.end()); };
  const Quantization q8 = per_tensor(0.06f, 5), qu8 = per_tensor(0.07f, 130), q16 = per_tensor(3.0e-4f, 0);
  EXPECT_EQ(widen(quantize<int8_t>(s, x, DType::kInt8, q8)), naive(q8, -128, 127, 1, 1));
  EXPECT_EQ(widen(quantize<uint8_t>(s, x, DType::kUInt8, qu8)), naive(qu8, 0, 255, 1, 1));
  EXPECT_EQ(widen(quantize<int16_t>(s, x, DType::kInt16, q16)), naive(q16, -32768, 32767, 1, 1));
  const Quantization qa = per_axis({0.1f, 0.05f, 0.02f, 0.2f}, {0, 1, -1, 3}, 0);
  EXPECT_EQ(widen(quantize<int8_t>(s, x, DType::kInt8, qa)), naive(qa, -128, 127, 25, 4));
}

template <typename I, typename O>
std::vector<O> requantize(const std::vector<I>& x, DType in_t, const Quantization& in_q, DType out_t, const Quantization& out_q,
                          IntegerNumerics numerics = IntegerNumerics::kReference) {
  const Shape s = {static_cast<int32_t>(x.size())};
  return test::from_bytes<O>(run_convert(BuiltinOperator::QUANTIZE, in_t, s, test::to_bytes(x), out_t, in_q, out_q, false, numerics));
}

TEST(ConversionQuantize, Requantize) {
  std::vector<int8_t> x(256);
  for (int i = 0; i < 256; ++i) x[i] = static_cast<int8_t>(i - 128);
  // int8 -> uint8 with the same scale: exactly a shift of the zero point by 128.
  const auto u = requantize<int8_t, uint8_t>(x, DType::kInt8, per_tensor(0.1f, -3), DType::kUInt8, per_tensor(0.1f, 125));
  for (int i = 0; i < 256; ++i) ASSERT_EQ(u[i], std::clamp(i - 128 + 3 + 125, 0, 255)) << i;
  // int8 -> int8 with a new scale: the real-valued rescale, rounded (fixed point may differ
  // from the exact rounding by one step only at exact ties, which these values avoid).
  const Quantization in_q = per_tensor(0.1f, 2), out_q = per_tensor(0.0370f, -7);
  const auto r = requantize<int8_t, int8_t>(x, DType::kInt8, in_q, DType::kInt8, out_q);
  for (int i = 0; i < 256; ++i) {
    const double real = 0.1 * (x[i] - 2);
    const double want = std::clamp<double>(std::round(double(0.1f) / double(0.0370f) * (x[i] - 2)) - 7, -128, 127);
    ASSERT_NEAR(r[i], want, 0.0) << "x=" << int(x[i]) << " real=" << real;
  }
  // uint8 -> int16.
  std::vector<uint8_t> ux = {0, 1, 100, 200, 255};
  const auto w = requantize<uint8_t, int16_t>(ux, DType::kUInt8, per_tensor(0.5f, 128), DType::kInt16, per_tensor(0.01f, 0));
  EXPECT_EQ(w, (std::vector<int16_t>{-6400, -6350, -1400, 3600, 6350}));
}

// ---- QUANTIZE as LiteRT's XNNPACK delegate runs it ----

template <typename T>
std::vector<T> quantize_xnnpack(const std::vector<float>& x, DType dt, const Quantization& q) {
  const Shape s = {static_cast<int32_t>(x.size())};
  return test::from_bytes<T>(
      run_convert(BuiltinOperator::QUANTIZE, DType::kFloat32, s, test::to_bytes(x), dt, {}, q, false, IntegerNumerics::kXnnpack));
}

TEST(ConversionQuantizeXnnpack, FloatToIntRoundsHalfToEvenBeforeAddingTheZeroPoint) {
  const Quantization q = per_tensor(0.5f, -3);
  // x * (1 / 0.5): 2.5 -> 2, -2.5 -> -2, 0.5 -> 0, 1.5 -> 2 (to even), then + zp; NaN -> the
  // largest code, as XNNPACK's magic-bias rounding reads it.
  const std::vector<float> x = {1.25f, -1.25f, 0.25f, 0.75f, 0.0f, 1000.0f, -1000.0f, 63.0f, 0.7499999f,
                                std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity()};
  EXPECT_EQ(quantize_xnnpack<int8_t>(x, DType::kInt8, q), (std::vector<int8_t>{-1, -5, -3, -1, -3, 127, -128, 123, -2, 127, 127, -128}));
  const Quantization qu = per_tensor(0.5f, 131);
  EXPECT_EQ(quantize_xnnpack<uint8_t>(x, DType::kUInt8, qu),
            (std::vector<uint8_t>{133, 129, 131, 133, 131, 255, 0, 255, 132, 255, 255, 0}));
}

TEST(ConversionQuantizeXnnpack, FloatToIntMultipliesByTheFloatReciprocal) {
  const auto x = test::random_floats(4000, 11, -2.0f, 2.0f);
  for (const Quantization& q : {per_tensor(0.0078f, -1), per_tensor(0.0037f, 17), per_tensor(1.0f / 128, 0)}) {
    const auto got = quantize_xnnpack<int8_t>(x, DType::kInt8, q);
    const float inv = 1.0f / q.scale[0];
    for (size_t i = 0; i < x.size(); ++i) {
      const long want = std::clamp<long>(std::lrint(x[i] * inv) + q.zero_point[0], -128, 127);
      ASSERT_EQ(got[i], want) << "x=" << x[i];
    }
  }
  // Per-channel outputs are not XNNPACK's: TFLite's kernel (half away from zero) in both modes.
  const Quantization qa = per_axis({0.5f, 0.25f}, {0, 0}, 0);
  const std::vector<float> t = {1.25f, -1.25f, 0.375f, -0.375f};
  EXPECT_EQ(test::from_bytes<int8_t>(run_convert(BuiltinOperator::QUANTIZE, DType::kFloat32, {2, 2}, test::to_bytes(t), DType::kInt8,
                                                 {}, qa, false, IntegerNumerics::kXnnpack)),
            (std::vector<int8_t>{3, -3, 2, -2}));
}

TEST(ConversionQuantizeXnnpack, RequantizeWithAnEightBitMultiplier) {
  std::vector<int8_t> x(256);
  for (int i = 0; i < 256; ++i) x[i] = static_cast<int8_t>(i - 128);
  for (const auto& [in_q, out_q] : {std::pair{per_tensor(0.05f, -3), per_tensor(0.0213f, 4)},
                                    std::pair{per_tensor(0.0213f, 7), per_tensor(0.05f, -9)},
                                    std::pair{per_tensor(0.04f, -20), per_tensor(0.04f, 15)}}) {
    const auto got = requantize<int8_t, int8_t>(x, DType::kInt8, in_q, DType::kInt8, out_q, IntegerNumerics::kXnnpack);
    const long m = std::lrint(256.0f * (in_q.scale[0] / out_q.scale[0]));
    for (int i = 0; i < 256; ++i) {
      // (d * m + 128) / 256 rounded down: half up.
      const long d = x[i] - in_q.zero_point[0];
      const long want = std::clamp<long>(static_cast<long>(std::floor((d * m + 128) / 256.0)) + out_q.zero_point[0], -128, 127);
      ASSERT_EQ(got[i], want) << int(x[i]);
      // within one step of the exact rescale
      const double exact = (in_q.scale[0] * double(d)) / out_q.scale[0] + out_q.zero_point[0];
      ASSERT_NEAR(got[i], std::clamp(exact, -128.0, 127.0), 1.0) << int(x[i]);
    }
  }
  // Outside [1/256, 128] LiteRT's delegate leaves the op to TFLite: the fixed-point Requantize.
  const Quantization in_q = per_tensor(0.0013f, -100), out_q = per_tensor(0.4f, -5);
  EXPECT_EQ((requantize<int8_t, int8_t>(x, DType::kInt8, in_q, DType::kInt8, out_q, IntegerNumerics::kXnnpack)),
            (requantize<int8_t, int8_t>(x, DType::kInt8, in_q, DType::kInt8, out_q, IntegerNumerics::kReference)));
  // ... and so does a type change.
  EXPECT_EQ((requantize<int8_t, uint8_t>(x, DType::kInt8, per_tensor(0.1f, -3), DType::kUInt8, per_tensor(0.07f, 125), IntegerNumerics::kXnnpack)),
            (requantize<int8_t, uint8_t>(x, DType::kInt8, per_tensor(0.1f, -3), DType::kUInt8, per_tensor(0.07f, 125))));
}

TEST(ConversionQuantize, RejectsBadInputs) {
  auto expect_error = [](DType in_t, std::optional<Quantization> in_q, DType out_t, std::optional<Quantization> out_q,
                         const Shape& out_s = {2, 3}) {
    ModelBuilder mb;
    const int in = mb.input(in_t, {2, 3}, in_q);
    const int out = mb.tensor(out_t, out_s, out_q);
    mb.op(BuiltinOperator::QUANTIZE, {in}, {out});
    mb.output(out);
    EXPECT_THROW(Executor(std::make_shared<Model>(mb.model())), Error);
  };
  expect_error(DType::kFloat32, {}, DType::kInt8, std::nullopt);                     // no output scale
  expect_error(DType::kFloat32, {}, DType::kInt8, per_tensor(0.0f, 0));              // zero scale
  expect_error(DType::kFloat32, {}, DType::kFloat32, per_tensor(0.1f, 0));           // float output
  expect_error(DType::kFloat32, {}, DType::kInt8, per_tensor(0.1f, 0), {3, 2});      // shape
  expect_error(DType::kInt8, std::nullopt, DType::kInt8, per_tensor(0.1f, 0));       // unquantized input
  expect_error(DType::kInt8, per_axis({0.1f, 0.2f, 0.3f}, {0, 0, 0}, 1), DType::kInt8, per_tensor(0.1f, 0));
  expect_error(DType::kInt32, per_tensor(0.1f, 0), DType::kInt8, per_tensor(0.1f, 0));
}

// ---- CAST -----------------------------------------------------------------------------------

template <typename O, typename I>
std::vector<O> cast(const std::vector<I>& x, DType in_t, DType out_t) {
  const Shape s = {static_cast<int32_t>(x.size())};
  return test::from_bytes<O>(run_convert(BuiltinOperator::CAST, in_t, s, test::to_bytes(x), out_t));
}

TEST(ConversionCast, BetweenTypes) {
  const std::vector<float> f = {1.7f, -1.7f, 0.0f, -0.4f, 300.0f, -300.0f, 2.5e9f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_EQ((cast<int32_t>(f, DType::kFloat32, DType::kInt32)),
            (std::vector<int32_t>{1, -1, 0, 0, 300, -300, std::numeric_limits<int32_t>::max(), 0}));
  EXPECT_EQ((cast<int64_t>(f, DType::kFloat32, DType::kInt64)), (std::vector<int64_t>{1, -1, 0, 0, 300, -300, 2500000000ll, 0}));
  EXPECT_EQ((cast<uint8_t>(f, DType::kFloat32, DType::kUInt8)), (std::vector<uint8_t>{1, 0, 0, 0, 255, 0, 255, 0}));
  EXPECT_EQ((cast<int8_t>(f, DType::kFloat32, DType::kInt8)), (std::vector<int8_t>{1, -1, 0, 0, 127, -128, 127, 0}));
  EXPECT_EQ((cast<uint8_t>(f, DType::kFloat32, DType::kBool)), (std::vector<uint8_t>{1, 1, 0, 1, 1, 1, 1, 1}));

  const std::vector<int32_t> i = {0, 1, -1, 200, -200, 16777217, std::numeric_limits<int32_t>::min()};
  EXPECT_EQ((cast<float>(i, DType::kInt32, DType::kFloat32)),
            (std::vector<float>{0.0f, 1.0f, -1.0f, 200.0f, -200.0f, 16777216.0f, -2147483648.0f}));
  EXPECT_EQ((cast<int8_t>(i, DType::kInt32, DType::kInt8)), (std::vector<int8_t>{0, 1, -1, -56, 56, 1, 0}));  // wraps
  EXPECT_EQ((cast<int64_t>(i, DType::kInt32, DType::kInt64)),
            (std::vector<int64_t>{0, 1, -1, 200, -200, 16777217, std::numeric_limits<int32_t>::min()}));
  EXPECT_EQ((cast<uint8_t>(i, DType::kInt32, DType::kBool)), (std::vector<uint8_t>{0, 1, 1, 1, 1, 1, 1}));

  const std::vector<int64_t> l = {5, -(1ll << 40) + 7};
  EXPECT_EQ((cast<int32_t>(l, DType::kInt64, DType::kInt32)), (std::vector<int32_t>{5, 7}));

  const std::vector<uint8_t> b = {0, 1, 0, 1};
  EXPECT_EQ((cast<float>(b, DType::kBool, DType::kFloat32)), (std::vector<float>{0, 1, 0, 1}));
  EXPECT_EQ((cast<int32_t>(b, DType::kBool, DType::kInt32)), (std::vector<int32_t>{0, 1, 0, 1}));

  const std::vector<uint8_t> u = {0, 127, 128, 255};
  EXPECT_EQ((cast<int8_t>(u, DType::kUInt8, DType::kInt8)), (std::vector<int8_t>{0, 127, -128, -1}));
  EXPECT_EQ((cast<float>(u, DType::kUInt8, DType::kFloat32)), (std::vector<float>{0, 127, 128, 255}));
  const std::vector<int16_t> s16 = {-32768, 5};
  EXPECT_EQ((cast<float>(s16, DType::kInt16, DType::kFloat32)), (std::vector<float>{-32768, 5}));

  // float16 both ways: round to nearest even, then exact.
  const std::vector<float> hf = {1.0f, 1.0f + 1.0f / 4096, -2.5f, 65504.0f, 1e6f};
  const auto h = cast<Eigen::half>(hf, DType::kFloat32, DType::kFloat16);
  const auto back = cast<float>(h, DType::kFloat16, DType::kFloat32);
  EXPECT_EQ(back, (std::vector<float>{1.0f, 1.0f, -2.5f, 65504.0f, std::numeric_limits<float>::infinity()}));
  EXPECT_EQ((cast<int32_t>(h, DType::kFloat16, DType::kInt32)), (std::vector<int32_t>{1, 1, -2, 65504, std::numeric_limits<int32_t>::max()}));
}

TEST(ConversionCast, RejectsBadInputs) {
  auto expect_error = [](DType in_t, DType out_t, const Shape& out_s) {
    ModelBuilder mb;
    const int in = mb.input(in_t, {2, 3});
    const int out = mb.tensor(out_t, out_s);
    mb.op(BuiltinOperator::CAST, {in}, {out});
    mb.output(out);
    EXPECT_THROW(Executor(std::make_shared<Model>(mb.model())), Error);
  };
  expect_error(DType::kFloat32, DType::kInt32, {3, 2});
  expect_error(DType::kString, DType::kInt32, {2, 3});
  expect_error(DType::kFloat32, DType::kComplex64, {2, 3});
}

}  // namespace
}  // namespace qcal
