// Int8 LOGISTIC, TANH, HARD_SWISH, RELU family, LEAKY_RELU, PRELU, SOFTMAX in both integer
// numerics, against naive per-element computations written here from the runtimes' formulas
// (XNNPACK's reference LUTs and qs8-vlrelu, TFLite's builtin kernels), plus sanity bounds
// against the real-valued functions and the checks TFLite's Prepare makes.
#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "op_test_util.h"

namespace qcal {
namespace {

using test::ModelBuilder;
using tflite::BuiltinOperator;

constexpr IntegerNumerics kX = IntegerNumerics::kXnnpack;
constexpr IntegerNumerics kRef = IntegerNumerics::kReference;

Quantization q8(float scale, int64_t zp) {
  Quantization q;
  q.scale = {scale};
  q.zero_point = {zp};
  return q;
}

// Runs a model through the real Executor with the given integer numerics.
std::vector<HostTensor> run(ModelBuilder& b, std::vector<HostTensor> inputs, IntegerNumerics numerics, int threads = 1) {
  ExecutorOptions o;
  o.threads = threads;
  o.integer_numerics = numerics;
  Executor ex(std::make_shared<Model>(b.model()), o, "test model");
  for (size_t k = 0; k < inputs.size(); ++k) inputs[k].name = b.sg().tensors[b.sg().inputs[k]].name;
  return ex.run(inputs);
}

// Every int8 code once: -128 .. 127.
std::vector<int8_t> all_codes() {
  std::vector<int8_t> v(256);
  for (int i = 0; i < 256; ++i) v[i] = static_cast<int8_t>(i - 128);
  return v;
}

std::vector<int8_t> random_codes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(std::uniform_int_distribution<int>(-128, 127)(rng));
  return v;
}

template <typename OptionsT = std::nullptr_t>
std::vector<int8_t> run_unary(BuiltinOperator op, Quantization qin, Quantization qout, IntegerNumerics numerics,
                              OptionsT options = nullptr, const std::vector<int8_t>& codes = all_codes()) {
  ModelBuilder b;
  const Shape shape = {1, static_cast<int32_t>(codes.size())};
  const int x = b.input(DType::kInt8, shape, qin);
  const int y = b.tensor(DType::kInt8, shape, qout);
  b.op(op, {x}, {y}, options);
  b.output(y);
  return test::from_bytes<int8_t>(run(b, {HostTensor{"", DType::kInt8, shape, test::to_bytes(codes)}}, numerics)[0].data);
}

template <typename OptionsT = std::nullptr_t>
void expect_unary_throws(BuiltinOperator op, Quantization qin, Quantization qout, IntegerNumerics numerics, OptionsT options = nullptr) {
  EXPECT_THROW(run_unary(op, qin, qout, numerics, options), Error);
}

int clamp8(int64_t v) { return static_cast<int>(std::min<int64_t>(127, std::max<int64_t>(-128, v))); }

// ---- naive references ----------------------------------------------------------------------

// TFLite's QuantizeMultiplier + MultiplyByQuantizedMultiplier (double rounding), in int64:
// m = q * 2^shift with q in [0.5, 1) as a 31-bit fraction; x * 2^max(shift, 0) * q rounded
// to nearest (ties away from zero after the "doubling" step), then divided by
// 2^max(-shift, 0) rounding half away from zero.
int64_t tflite_rescale(int64_t x, double real_multiplier) {
  if (real_multiplier == 0) return 0;
  int shift = 0;
  const double frac = std::frexp(real_multiplier, &shift);
  int64_t q = std::llround(frac * 2147483648.0);
  if (q == (int64_t{1} << 31)) {
    q /= 2;
    ++shift;
  }
  if (shift < -31) return 0;
  const int64_t prod = x * (int64_t{1} << std::max(shift, 0)) * q;
  const int64_t high = (prod + (prod >= 0 ? (int64_t{1} << 30) : 1 - (int64_t{1} << 30))) / (int64_t{1} << 31);
  const int right = std::max(-shift, 0);
  if (right == 0) return high;
  const int64_t half = int64_t{1} << (right - 1);
  return high >= 0 ? (high + half) >> right : -((-high + half) >> right);
}

// XNNPACK's reference LUT entry: round(f((q - zp) * s) / out_s + out_zp), half away from zero.
int xnnpack_lut_entry(int q, Quantization qi, Quantization qo, const std::function<float(float)>& f) {
  const float x = (static_cast<float>(q) - static_cast<float>(qi.zero_point[0])) * qi.scale[0];
  return clamp8(static_cast<int64_t>(std::round(f(x) * (1.0f / qo.scale[0]) + static_cast<float>(qo.zero_point[0]))));
}
// TFLite's LUTPopulate entry: round(f(s * (q - zp)) / out_s) + out_zp.
int tflite_lut_entry(int q, Quantization qi, Quantization qo, const std::function<float(float)>& f) {
  const float x = qi.scale[0] * static_cast<float>(q - qi.zero_point[0]);
  return clamp8(static_cast<int64_t>(std::round(f(x) * (1.0f / qo.scale[0]))) + qo.zero_point[0]);
}

// The real-valued result, re-quantized: the kernels must stay within `lsb` of it.
void expect_close_to_real(const std::vector<int8_t>& got, Quantization qi, Quantization qo, const std::function<double(double)>& f,
                          double lsb) {
  for (int i = 0; i < 256; ++i) {
    const double x = (i - 128 - qi.zero_point[0]) * static_cast<double>(qi.scale[0]);
    const double want = std::clamp(f(x) / qo.scale[0] + qo.zero_point[0], -128.0, 127.0);
    ASSERT_LE(std::abs(got[i] - want), lsb) << "code " << i - 128 << " (x = " << x << ")";
  }
}

// ---- LOGISTIC, TANH ---------------------------------------------------------------------------

const Quantization kSigmoidOut = q8(1.0f / 256, -128);
const Quantization kTanhOut = q8(1.0f / 128, 0);

TEST(Int8Logistic, XnnpackIsItsDoubleSigmoidTable) {
  for (const Quantization& qi : {q8(0.05f, -10), q8(0.1f, 25), q8(0.0213f, 3)}) {
    const auto got = run_unary(BuiltinOperator::LOGISTIC, qi, kSigmoidOut, kX);
    for (int i = 0; i < 256; ++i) {
      const int want = xnnpack_lut_entry(i - 128, qi, kSigmoidOut, [](float x) {
        const double e = std::exp(static_cast<double>(x));
        return static_cast<float>(e / (1 + e));
      });
      ASSERT_EQ(got[i], want) << "code " << i - 128;
    }
    expect_close_to_real(got, qi, kSigmoidOut, [](double x) { return 1 / (1 + std::exp(-x)); }, 0.5 + 1e-6);
  }
}

TEST(Int8Logistic, ReferenceIsTfliteLutPopulate) {
  const Quantization qi = q8(0.06f, 7);
  const auto got = run_unary(BuiltinOperator::LOGISTIC, qi, kSigmoidOut, kRef);
  for (int i = 0; i < 256; ++i)
    ASSERT_EQ(got[i], tflite_lut_entry(i - 128, qi, kSigmoidOut, [](float x) { return 1.0f / (1.0f + std::exp(-x)); }));
}

TEST(Int8Logistic, OutputScaleRules) {
  // XNNPACK takes any output quantization (LiteRT runs it); TFLite's kernel insists on 1/256.
  const Quantization odd = q8(1.0f / 200, -100);
  const auto got = run_unary(BuiltinOperator::LOGISTIC, q8(0.05f, -10), odd, kX);
  expect_close_to_real(got, q8(0.05f, -10), odd, [](double x) { return 1 / (1 + std::exp(-x)); }, 0.5 + 1e-6);
  expect_unary_throws(BuiltinOperator::LOGISTIC, q8(0.05f, -10), odd, kRef);
}

TEST(Int8Tanh, BothNumericsFollowTheirTables) {
  for (const Quantization& qi : {q8(0.03f, -7), q8(0.0823f, 12)}) {
    const auto x = run_unary(BuiltinOperator::TANH, qi, kTanhOut, kX);
    const auto r = run_unary(BuiltinOperator::TANH, qi, kTanhOut, kRef);
    for (int i = 0; i < 256; ++i) {
      ASSERT_EQ(x[i], xnnpack_lut_entry(i - 128, qi, kTanhOut, [](float v) { return std::tanh(v); }));
      ASSERT_EQ(r[i], tflite_lut_entry(i - 128, qi, kTanhOut, [](float v) { return std::tanh(v); }));
    }
    expect_close_to_real(x, qi, kTanhOut, [](double v) { return std::tanh(v); }, 0.5 + 1e-6);
  }
}

// ---- HARD_SWISH -------------------------------------------------------------------------------

// TFLite's reference_ops::HardSwish<int8_t>, step by step, in plain int32 arithmetic.
int naive_hard_swish(int q, Quantization qi, Quantization qo) {
  auto fixed16 = [](float m, int* exponent) {  // QuantizeMultiplier, then rounded to 16 bits
    const double frac = std::frexp(static_cast<double>(m), exponent);
    int64_t q31 = std::llround(frac * 2147483648.0);
    if (q31 == (int64_t{1} << 31)) {
      q31 /= 2;
      ++*exponent;
    }
    return static_cast<int>(std::min<int64_t>((q31 + 32768) >> 16, 32767));
  };
  auto rounding_high_mul = [](int a, int b) {  // Q15 product, rounded (ties away from zero)
    if (a == -32768 && b == -32768) return 32767;
    const int ab = a * b;
    return (ab + (ab >= 0 ? 16384 : -16383)) / 32768;
  };
  auto shift_right_rounded = [](int v, int n) {  // divide by 2^n, ties away from zero
    if (n == 0) return v;
    const int half = 1 << (n - 1);
    return v >= 0 ? (v + half) >> n : -((-v + half) >> n);
  };
  auto sat16 = [](int64_t v) { return static_cast<int>(std::min<int64_t>(32767, std::max<int64_t>(-32768, v))); };
  const float hires_scale = qi.scale[0] / 128.0f;
  int out_exp = 0, relu_exp = 0;
  const int out_mult = fixed16(hires_scale / qo.scale[0], &out_exp);
  const int relu_mult = fixed16(hires_scale / (3.0f / 32768.0f), &relu_exp);
  const int hires = (q - static_cast<int>(qi.zero_point[0])) * 128;
  const int preshift_out = rounding_high_mul(hires, out_mult);
  int relu = hires;
  if (relu_exp > 0) relu = sat16(int64_t{relu} << (relu_exp - 1));
  relu = rounding_high_mul(relu, relu_mult);
  if (relu_exp > 0) relu = sat16(int64_t{relu} * 2);
  if (relu_exp < 0) relu = shift_right_rounded(relu, -relu_exp);
  relu = (relu + 32768) / 2;
  const int product = relu * preshift_out / 32768;  // truncating Q15 product
  return clamp8(shift_right_rounded(product, -out_exp) + qo.zero_point[0]);
}

TEST(Int8HardSwish, BothNumericsAreTflitesFixedPoint) {
  const std::pair<Quantization, Quantization> cases[] = {
      {q8(0.05f, -30), q8(0.0325f, -116)}, {q8(0.1f, 5), q8(0.0617f, -122)}, {q8(0.0213f, 17), q8(0.0111f, -94)},
      {q8(0.2f, 0), q8(0.1f, -124)}};  // reluish multiplier > 1: the saturating left-shift path
  for (const auto& [qi, qo] : cases) {
    for (IntegerNumerics n : {kX, kRef}) {
      const auto got = run_unary(BuiltinOperator::HARD_SWISH, qi, qo, n);
      for (int i = 0; i < 256; ++i) ASSERT_EQ(got[i], naive_hard_swish(i - 128, qi, qo)) << "code " << i - 128;
      expect_close_to_real(got, qi, qo, [](double x) { return x * std::clamp(x + 3, 0.0, 6.0) / 6; }, 1.0);
    }
  }
  // TFLite's Prepare: the output scale must exceed input scale / 128.
  expect_unary_throws(BuiltinOperator::HARD_SWISH, q8(0.5f, 0), q8(0.003f, -10), kX);
}

// ---- RELU, RELU6, RELU_N1_TO_1 ----------------------------------------------------------------

int naive_relu(int q, Quantization qi, Quantization qo, float lo, float hi) {
  const int64_t v = qo.zero_point[0] + tflite_rescale(q - qi.zero_point[0], qi.scale[0] / qo.scale[0]);
  const int64_t q_lo = std::max<int64_t>(-128, qo.zero_point[0] + std::lround(lo / qo.scale[0]));
  const int64_t q_hi = std::isinf(hi) ? 127 : std::min<int64_t>(127, qo.zero_point[0] + std::lround(hi / qo.scale[0]));
  return static_cast<int>(std::clamp(v, q_lo, q_hi));
}

TEST(Int8Relu, FamilyIsTflitesReluXInBothNumerics) {
  struct Case {
    BuiltinOperator op;
    float lo, hi;
    Quantization qi, qo;
  };
  const Case cases[] = {
      {BuiltinOperator::RELU, 0, INFINITY, q8(0.05f, 10), q8(0.0255f, -128)},
      {BuiltinOperator::RELU, 0, INFINITY, q8(0.04f, -20), q8(0.04f, -20)},
      {BuiltinOperator::RELU6, 0, 6, q8(0.04f, -20), q8(6.0f / 255, -128)},
      {BuiltinOperator::RELU6, 0, 6, q8(0x1.ea4b54p-6f, -128), q8(0x1.ea4b54p-6f, -128)},  // 6 / s == 200.5
      {BuiltinOperator::RELU_N1_TO_1, -1, 1, q8(0.02f, 5), q8(2.0f / 255, 0)},
      {BuiltinOperator::RELU_N1_TO_1, -1, 1, q8(0.0125f, -6), q8(0.0125f, -6)},
  };
  for (const Case& c : cases)
    for (IntegerNumerics n : {kX, kRef}) {
      const auto got = run_unary(c.op, c.qi, c.qo, n);
      for (int i = 0; i < 256; ++i) ASSERT_EQ(got[i], naive_relu(i - 128, c.qi, c.qo, c.lo, c.hi)) << "code " << i - 128;
      expect_close_to_real(got, c.qi, c.qo, [&](double x) { return std::clamp<double>(x, c.lo, c.hi); }, 1.0);
    }
  // The tie case: the upper bound rounds half away from zero, 73 not 72.
  const auto tie = run_unary(BuiltinOperator::RELU6, q8(0x1.ea4b54p-6f, -128), q8(0x1.ea4b54p-6f, -128), kX);
  EXPECT_EQ(tie[255], 73);
}

// ---- LEAKY_RELU -------------------------------------------------------------------------------

tflite::LeakyReluOptionsT leaky(float alpha) {
  tflite::LeakyReluOptionsT o;
  o.alpha = alpha;
  return o;
}

// XNNPACK's qs8-vlrelu: multipliers round(256 * scale), y = zp + floor((x * m + 128) / 256).
int naive_vlrelu(int q, Quantization qi, Quantization qo, float alpha) {
  const float ratio = qi.scale[0] / qo.scale[0];
  const int x = q - static_cast<int>(qi.zero_point[0]);
  const long m = x >= 0 ? std::lrint(256.0f * ratio) : std::lrint(256.0f * (ratio * alpha));
  return clamp8(qo.zero_point[0] + static_cast<int64_t>(std::floor((x * m + 128) / 256.0)));
}
int naive_tflite_leaky(int q, Quantization qi, Quantization qo, float alpha) {
  const int x = q - static_cast<int>(qi.zero_point[0]);
  const float m = x >= 0 ? qi.scale[0] / qo.scale[0] : qi.scale[0] * alpha / qo.scale[0];
  return clamp8(qo.zero_point[0] + tflite_rescale(x, m));
}

TEST(Int8LeakyRelu, XnnpackMultipliersAndTflitesFixedPoint) {
  struct Case {
    Quantization qi, qo;
    float alpha;
  };
  const Case cases[] = {{q8(0.05f, 5), q8(0.0291f, -82), 0.2f},
                        {q8(0.06f, -12), q8(0.06f, -12), 0.1f},
                        {q8(0.0371f, 9), q8(0.0191f, -125), 0.01f},
                        {q8(0.03f, 7), q8(0.05f, 10), -0.3f}};
  int differ = 0;
  for (const Case& c : cases) {
    const auto x = run_unary(BuiltinOperator::LEAKY_RELU, c.qi, c.qo, kX, leaky(c.alpha));
    const auto r = run_unary(BuiltinOperator::LEAKY_RELU, c.qi, c.qo, kRef, leaky(c.alpha));
    for (int i = 0; i < 256; ++i) {
      ASSERT_EQ(x[i], naive_vlrelu(i - 128, c.qi, c.qo, c.alpha)) << "code " << i - 128;
      ASSERT_EQ(r[i], naive_tflite_leaky(i - 128, c.qi, c.qo, c.alpha)) << "code " << i - 128;
      differ += x[i] != r[i];
    }
    const float a = c.alpha;
    expect_close_to_real(x, c.qi, c.qo, [a](double v) { return v < 0 ? v * a : v; }, 1.0);
    // TFLite rounds twice (the high multiply, then the shift): up to 1 LSB off.
    expect_close_to_real(r, c.qi, c.qo, [a](double v) { return v < 0 ? v * a : v; }, 1.0);
  }
  EXPECT_GT(differ, 0);  // the two runtimes really do round differently
}

TEST(Int8LeakyRelu, ScalesXnnpackCannotTakeUseTflitesKernel) {
  // in/out * alpha = 0.0025 < 2^-8: LiteRT leaves the op to TFLite's kernel.
  const Quantization qi = q8(0.05f, 3), qo = q8(0.06f, -30);
  const auto got = run_unary(BuiltinOperator::LEAKY_RELU, qi, qo, kX, leaky(0.003f));
  for (int i = 0; i < 256; ++i) ASSERT_EQ(got[i], naive_tflite_leaky(i - 128, qi, qo, 0.003f));
}

// ---- PRELU ------------------------------------------------------------------------------------

TEST(Int8Prelu, BroadcastAlphaFixedPointInBothNumerics) {
  const Quantization qx = q8(0.041f, -17), qa = q8(0.004f, 3), qy = q8(0.035f, -20);
  const Shape xs = {2, 3, 4, 5};
  const std::vector<Shape> alpha_shapes = {{5}, {1, 1, 5}, {4, 5}, {3, 1, 5}, {2, 3, 4, 5}, {1}};
  const auto x = random_codes(num_elements(xs), 3);
  for (const Shape& as : alpha_shapes) {
    const auto alpha = random_codes(num_elements(as), 4);
    for (IntegerNumerics n : {kX, kRef}) {
      ModelBuilder b;
      const int in = b.input(DType::kInt8, xs, qx);
      const int a = b.constant(DType::kInt8, as, test::to_bytes(alpha), qa);
      const int y = b.tensor(DType::kInt8, xs, qy);
      b.op(BuiltinOperator::PRELU, {in, a}, {y});
      b.output(y);
      const auto got = test::from_bytes<int8_t>(run(b, {HostTensor{"", DType::kInt8, xs, test::to_bytes(x)}}, n)[0].data);
      // Naive: the alpha element of each output index, right-aligned numpy broadcasting.
      for (int64_t i = 0; i < num_elements(xs); ++i) {
        int64_t rest = i, a_index = 0, a_stride = 1;
        for (int d = 3, k = static_cast<int>(as.size()) - 1; d >= 0; --d, --k) {
          const int64_t coord = rest % xs[d];
          rest /= xs[d];
          if (k >= 0) {
            if (as[k] != 1) a_index += coord * a_stride;
            a_stride *= as[k];
          }
        }
        const int64_t v = x[i] - qx.zero_point[0];
        const int64_t scaled = v >= 0 ? tflite_rescale(v, qx.scale[0] / qy.scale[0])
                                      : tflite_rescale(v * (alpha[a_index] - qa.zero_point[0]), qx.scale[0] * qa.scale[0] / qy.scale[0]);
        ASSERT_EQ(got[i], clamp8(scaled + qy.zero_point[0])) << "alpha " << shape_str(as) << " element " << i;
      }
    }
  }
}

TEST(Int8Prelu, RejectsAlphaThatDoesNotBroadcast) {
  ModelBuilder b;
  const Quantization q = q8(0.05f, 0);
  const int in = b.input(DType::kInt8, {1, 4, 4, 3}, q);
  const int a = b.constant(DType::kInt8, {4}, test::to_bytes(random_codes(4, 1)), q);
  const int y = b.tensor(DType::kInt8, {1, 4, 4, 3}, q);
  b.op(BuiltinOperator::PRELU, {in, a}, {y});
  b.output(y);
  EXPECT_THROW(run(b, {HostTensor{"", DType::kInt8, {1, 4, 4, 3}, test::to_bytes(random_codes(48, 2))}}, kX), Error);
}

// ---- SOFTMAX ----------------------------------------------------------------------------------

tflite::SoftmaxOptionsT softmax_beta(float beta) {
  tflite::SoftmaxOptionsT o;
  o.beta = beta;
  return o;
}

// TFLite's float-table softmax: e = expf(-s * beta * (max - x)), float sum in order,
// round(e / (sum / 256)) - 128.
std::vector<int8_t> naive_softmax(const std::vector<int8_t>& x, int depth, float scale, float beta) {
  std::vector<int8_t> y(x.size());
  for (size_t r = 0; r < x.size() / depth; ++r) {
    const int8_t* row = &x[r * depth];
    const int mx = *std::max_element(row, row + depth);
    std::vector<float> e(depth);
    float sum = 0;
    for (int j = 0; j < depth; ++j) sum += e[j] = std::exp((-scale * beta) * static_cast<float>(mx - row[j]));
    const float inv = 1.0f / (sum * (1.0f / 256));
    for (int j = 0; j < depth; ++j) y[r * depth + j] = static_cast<int8_t>(clamp8(static_cast<int64_t>(std::round(e[j] * inv)) - 128));
  }
  return y;
}

TEST(Int8Softmax, FloatTableInBothNumerics) {
  struct Case {
    Shape shape;
    float scale;
    int zp;
    float beta;
  };
  const Case cases[] = {{{2, 1000}, 0.1f, 20, 1.0f}, {{1, 6, 6, 21}, 0.0625f, -12, 1.0f}, {{8, 10}, 0.0173f, 4, 1.0f},
                        {{4, 64}, 0.08f, -3, 0.5f}, {{5}, 0.3f, 0, 1.0f}};
  for (const Case& c : cases) {
    const auto x = random_codes(num_elements(c.shape), 9);
    const auto want = naive_softmax(x, c.shape.back(), c.scale, c.beta);
    for (IntegerNumerics n : {kX, kRef}) {
      ModelBuilder b;
      const int in = b.input(DType::kInt8, c.shape, q8(c.scale, c.zp));
      const int y = b.tensor(DType::kInt8, c.shape, kSigmoidOut);
      b.op(BuiltinOperator::SOFTMAX, {in}, {y}, softmax_beta(c.beta));
      b.output(y);
      const auto got = test::from_bytes<int8_t>(run(b, {HostTensor{"", DType::kInt8, c.shape, test::to_bytes(x)}}, n)[0].data);
      ASSERT_EQ(got, want) << "shape " << shape_str(c.shape);
      // Sanity: within 1 LSB of the exact softmax.
      const int depth = c.shape.back();
      for (size_t r = 0; r < x.size() / depth; ++r) {
        double sum = 0;
        for (int j = 0; j < depth; ++j) sum += std::exp(c.beta * c.scale * (x[r * depth + j] - 127.0));
        for (int j = 0; j < depth; ++j) {
          const double p = std::exp(c.beta * c.scale * (x[r * depth + j] - 127.0)) / sum;
          ASSERT_LE(std::abs(got[r * depth + j] - (p * 256 - 128)), 1.0);
        }
      }
    }
  }
}

TEST(Int8Softmax, ThreadsDoNotChangeResultsAndOutputQuantizationIsChecked) {
  const Shape s = {64, 1001};
  const auto x = random_codes(num_elements(s), 5);
  auto build = [&](ModelBuilder& b, Quantization qo) {
    const int in = b.input(DType::kInt8, s, q8(0.07f, 1));
    const int y = b.tensor(DType::kInt8, s, qo);
    b.op(BuiltinOperator::SOFTMAX, {in}, {y}, softmax_beta(1.0f));
    b.output(y);
  };
  ModelBuilder b;
  build(b, kSigmoidOut);
  const HostTensor in{"", DType::kInt8, s, test::to_bytes(x)};
  EXPECT_EQ(run(b, {in}, kX, 1)[0].data, run(b, {in}, kX, 2)[0].data);
  ModelBuilder bad;
  build(bad, q8(1.0f / 256, 0));
  EXPECT_THROW(run(bad, {in}, kX), Error);
}

// ---- common checks ----------------------------------------------------------------------------

TEST(Int8Activation, RejectsPerAxisAndMismatchedTensors) {
  Quantization per_axis;
  per_axis.scale = {0.1f, 0.2f};
  per_axis.zero_point = {0, 0};
  ModelBuilder b;
  const int x = b.input(DType::kInt8, {1, 2}, per_axis);
  const int y = b.tensor(DType::kInt8, {1, 2}, q8(0.1f, 0));
  b.op(BuiltinOperator::RELU, {x}, {y});
  b.output(y);
  EXPECT_THROW(run(b, {HostTensor{"", DType::kInt8, {1, 2}, {0, 0}}}, kX), Error);

  ModelBuilder c;
  const int x2 = c.input(DType::kInt8, {1, 4}, q8(0.1f, 0));
  const int y2 = c.tensor(DType::kInt8, {1, 5}, q8(0.1f, 0));
  c.op(BuiltinOperator::TANH, {x2}, {y2});
  c.output(y2);
  EXPECT_THROW(run(c, {HostTensor{"", DType::kInt8, {1, 4}, {0, 0, 0, 0}}}, kX), Error);
}

TEST(Int8Activation, LargeTensorsAreThreadIndependent) {
  const Shape s = {1, 64, 64, 40};
  const auto x = random_codes(num_elements(s), 8);
  const HostTensor in{"", DType::kInt8, s, test::to_bytes(x)};
  ModelBuilder b;
  const int a = b.input(DType::kInt8, s, q8(0.05f, -3));
  const int y = b.tensor(DType::kInt8, s, q8(0.0325f, -116));
  b.op(BuiltinOperator::HARD_SWISH, {a}, {y});
  b.output(y);
  const auto one = run(b, {in}, kX, 1)[0].data;
  EXPECT_EQ(one, run(b, {in}, kX, 2)[0].data);
  // And the table lookup agrees with the per-code result.
  const Quantization qi = q8(0.05f, -3), qo = q8(0.0325f, -116);
  for (size_t i = 0; i < x.size(); i += 97) ASSERT_EQ(static_cast<int8_t>(one[i]), naive_hard_swish(x[i], qi, qo));
}

}  // namespace
}  // namespace qcal
