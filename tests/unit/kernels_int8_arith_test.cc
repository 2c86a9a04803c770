// Int8 ADD, SUB, MUL, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM, MEAN, SUM, AVERAGE_POOL_2D and
// MAX_POOL_2D in both integer numerics, against naive references written here from the
// runtimes' formulas (XNNPACK's qs8 kernels and TFLite's fixed-point builtin kernels), plus a
// check that every result is within one step of the exact real-valued answer.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "op_test_util.h"

namespace qcal {
namespace {

using test::ModelBuilder;
using tflite::ActivationFunctionType;
using tflite::BuiltinOperator;

constexpr IntegerNumerics kXnn = IntegerNumerics::kXnnpack;
constexpr IntegerNumerics kRef = IntegerNumerics::kReference;

struct Q {
  float scale;
  int32_t zp;
};

Quantization q8(Q q) {
  Quantization r;
  r.scale = {q.scale};
  r.zero_point = {q.zp};
  return r;
}

std::vector<int8_t> random_codes(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}

// Runs the model once with the given integer numerics.
std::vector<int8_t> run_int8(ModelBuilder& mb, const std::vector<std::vector<int8_t>>& inputs, IntegerNumerics numerics,
                             int threads = 1) {
  ExecutorOptions o;
  o.threads = threads;
  o.integer_numerics = numerics;
  Executor ex(std::make_shared<Model>(mb.model()), o, "test model");
  std::vector<HostTensor> in;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& t = mb.sg().tensors[mb.sg().inputs[k]];
    in.push_back(HostTensor{t.name, DType::kInt8, t.shape, test::to_bytes(inputs[k])});
  }
  return test::from_bytes<int8_t>(ex.run(in)[0].data);
}

// ---- naive reference arithmetic -------------------------------------------------------------

int64_t floor_div_pow2(int64_t x, int e) { return static_cast<int64_t>(std::floor(static_cast<double>(x) / std::ldexp(1.0, e))); }

// TFLite's QuantizeMultiplier(m): m = M * 2^(shift - 31), M in [2^30, 2^31).
struct Fixed {
  int64_t m = 0;
  int shift = 0;
};
Fixed fixed(double real) {
  if (real == 0.0) return {};
  int e = 0;
  const double q = std::frexp(real, &e);
  int64_t m = std::llround(q * 2147483648.0);
  if (m == (int64_t{1} << 31)) m /= 2, ++e;
  if (e < -31) return {};
  return {m, e};
}
// MultiplyByQuantizedMultiplier, double rounding: x * 2^max(shift, 0), the high half of the
// doubled product rounded half away from zero except negative ties (toward zero), then a
// rounding right shift with ties away from zero.
int64_t tflite_mul(int64_t x, Fixed f) {
  if (f.shift > 0) x *= int64_t{1} << f.shift;
  const int64_t p = x * f.m;
  const int64_t high = p >= 0 ? (p + (int64_t{1} << 30)) >> 31 : -((-p + (int64_t{1} << 30) - 1) >> 31);
  const int e = f.shift < 0 ? -f.shift : 0;
  if (e == 0) return high;
  const int64_t mag = (std::llabs(high) + (int64_t{1} << (e - 1))) >> e;
  return high < 0 ? -mag : mag;
}

int32_t clamp8(int64_t v, int32_t lo = -128, int32_t hi = 127) { return static_cast<int32_t>(std::clamp<int64_t>(v, lo, hi)); }

// Activation bounds: TFLite rounds bound / scale half away from zero, XNNPACK rounds
// bound / scale + zp half to even.
std::pair<int32_t, int32_t> act_bounds(ActivationFunctionType act, Q out, IntegerNumerics numerics) {
  float lo = -INFINITY, hi = INFINITY;
  if (act == ActivationFunctionType::RELU) lo = 0;
  if (act == ActivationFunctionType::RELU6) lo = 0, hi = 6;
  if (act == ActivationFunctionType::RELU_N1_TO_1) lo = -1, hi = 1;
  auto q = [&](float v) -> int32_t {
    if (std::isinf(v)) return v < 0 ? -128 : 127;
    if (numerics == kXnn) return clamp8(std::lrint(v / out.scale + static_cast<float>(out.zp)));
    return clamp8(out.zp + static_cast<int64_t>(std::round(v / out.scale)));
  };
  return {q(lo), q(hi)};
}

// ---- broadcasting binary models ---------------------------------------------------------------

Shape broadcast(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape o(r);
  for (size_t i = 0; i < r; ++i) {
    const int32_t da = i + a.size() >= r ? a[i + a.size() - r] : 1;
    const int32_t db = i + b.size() >= r ? b[i + b.size() - r] : 1;
    o[i] = std::max(da, db);
  }
  return o;
}

// Flat index into `s` (right-aligned against `out`) of the output element with multi-index idx.
int64_t source_index(const Shape& s, const Shape& out, const std::vector<int32_t>& idx) {
  int64_t off = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const size_t oi = i + out.size() - s.size();
    off = off * s[i] + (s[i] == 1 ? 0 : idx[oi]);
  }
  return off;
}

using BinaryRef = std::function<int32_t(int32_t a, int32_t b)>;

template <typename OptionsT = std::nullptr_t>
void check_binary(BuiltinOperator op, const Shape& sa, Q qa, const Shape& sb, Q qb, Q qo, IntegerNumerics numerics,
                  const BinaryRef& ref, OptionsT options = nullptr, uint32_t seed = 1, int tolerance = 0) {
  const Shape so = broadcast(sa, sb);
  ModelBuilder mb;
  const int a = mb.input(DType::kInt8, sa, q8(qa));
  const int b = mb.input(DType::kInt8, sb, q8(qb));
  const int y = mb.tensor(DType::kInt8, so, q8(qo));
  mb.op(op, {a, b}, {y}, options);
  mb.output(y);
  const auto xa = random_codes(num_elements(sa), seed), xb = random_codes(num_elements(sb), seed + 100);
  const auto got = run_int8(mb, {xa, xb}, numerics);
  EXPECT_EQ(run_int8(mb, {xa, xb}, numerics, 4), got) << "thread count changed the result";
  ASSERT_EQ(static_cast<int64_t>(got.size()), num_elements(so));
  std::vector<int32_t> idx(so.size(), 0);
  for (int64_t i = 0; i < num_elements(so); ++i) {
    const int32_t va = xa[source_index(sa, so, idx)], vb = xb[source_index(sb, so, idx)];
    ASSERT_NEAR(got[i], ref(va, vb), tolerance) << "element " << i << " a=" << va << " b=" << vb;
    for (int k = static_cast<int>(so.size()) - 1; k >= 0 && ++idx[k] == so[k]; --k) idx[k] = 0;
  }
}

// ---- ADD / SUB ----------------------------------------------------------------------------------

// XNNPACK qs8 vadd: integer multipliers scale * 2^shift (21 bits for the larger), one shift.
BinaryRef xnnpack_add(Q a, Q b, Q o, bool sub, std::pair<int32_t, int32_t> bounds) {
  const double ra = a.scale / o.scale, rb = (sub ? -1.0 : 1.0) * static_cast<double>(b.scale / o.scale);
  const int shift = 20 - std::ilogb(std::max(std::fabs(ra), std::fabs(rb)));
  const int64_t ma = std::llrint(std::ldexp(ra, shift)), mb = std::llrint(std::ldexp(rb, shift));
  return [=](int32_t x, int32_t y) {
    const int64_t acc = ma * (x - a.zp) + mb * (y - b.zp) + (int64_t{1} << (shift - 1));
    return std::clamp(clamp8(floor_div_pow2(acc, shift) + o.zp), bounds.first, bounds.second);
  };
}

// TFLite Add/Sub: << 20, rescale each to twice the larger scale, sum, rescale to the output.
BinaryRef tflite_add(Q a, Q b, Q o, bool sub, std::pair<int32_t, int32_t> bounds) {
  const double twice = 2.0 * std::max(a.scale, b.scale);
  const Fixed fa = fixed(a.scale / twice), fb = fixed(b.scale / twice), fo = fixed(twice / (1048576.0 * o.scale));
  return [=](int32_t x, int32_t y) {
    const int64_t sa = tflite_mul(int64_t{x - a.zp} << 20, fa), sb = tflite_mul(int64_t{y - b.zp} << 20, fb);
    return std::clamp(clamp8(tflite_mul(sub ? sa - sb : sa + sb, fo) + o.zp), bounds.first, bounds.second);
  };
}

tflite::AddOptionsT add_options(ActivationFunctionType act) {
  tflite::AddOptionsT o;
  o.fused_activation_function = act;
  return o;
}
tflite::SubOptionsT sub_options(ActivationFunctionType act) {
  tflite::SubOptionsT o;
  o.fused_activation_function = act;
  return o;
}

struct AddCase {
  Shape sa, sb;
  Q qa, qb, qo;
  ActivationFunctionType act;
};
const std::vector<AddCase> kAddCases = {
    {{1, 6, 6, 8}, {1, 6, 6, 8}, {0.05f, -3}, {0.02f, 10}, {0.06f, 5}, ActivationFunctionType::NONE},
    {{1, 6, 6, 8}, {8}, {0.1f, 7}, {0.0731f, -12}, {0.0437f, -2}, ActivationFunctionType::NONE},  // ratios > 1
    {{2, 1, 5, 3}, {4, 1, 3}, {0.025f, -7}, {0.061f, 3}, {0.07f, -10}, ActivationFunctionType::RELU},
    {{1, 4, 4, 8}, {}, {0.05f, -30}, {0.0235f, -128}, {0.052f, -80}, ActivationFunctionType::NONE},  // scalar
    {{1, 4, 4, 8}, {1, 4, 4, 8}, {0.05f, -3}, {0.04f, 10}, {6.0f / 255, -128}, ActivationFunctionType::RELU6},
    {{3, 7, 5}, {3, 1, 5}, {0.01f, 4}, {0.013f, -9}, {0.009f, 2}, ActivationFunctionType::RELU_N1_TO_1},
    {{1, 4, 4, 8}, {1, 4, 4, 8}, {0.0392f, -1}, {0.0392f, -1}, {0.0392f, -1}, ActivationFunctionType::NONE},
};

TEST(Int8Add, XnnpackMatchesQs8Vadd) {
  for (const auto& c : kAddCases)
    check_binary(BuiltinOperator::ADD, c.sa, c.qa, c.sb, c.qb, c.qo, kXnn,
                 xnnpack_add(c.qa, c.qb, c.qo, false, act_bounds(c.act, c.qo, kXnn)), add_options(c.act));
}

TEST(Int8Add, ReferenceMatchesTfliteFixedPoint) {
  for (const auto& c : kAddCases)
    check_binary(BuiltinOperator::ADD, c.sa, c.qa, c.sb, c.qb, c.qo, kRef,
                 tflite_add(c.qa, c.qb, c.qo, false, act_bounds(c.act, c.qo, kRef)), add_options(c.act));
}

TEST(Int8Add, XnnpackFallsBackToTfliteOutsideTheDelegatesScaleRange) {
  // Input 1 / output = 2^-11 < 2^-10: LiteRT's delegate leaves the op to TFLite.
  const Q qa{0.0001f, 7}, qb{0.05f, -9}, qo{0.2f, 3};
  check_binary(BuiltinOperator::ADD, {4, 64}, qa, {4, 64}, qb, qo, kXnn,
               tflite_add(qa, qb, qo, false, act_bounds(ActivationFunctionType::NONE, qo, kRef)),
               add_options(ActivationFunctionType::NONE));
}

TEST(Int8Sub, BothNumerics) {
  for (const auto& c : kAddCases) {
    check_binary(BuiltinOperator::SUB, c.sa, c.qa, c.sb, c.qb, c.qo, kXnn,
                 xnnpack_add(c.qa, c.qb, c.qo, true, act_bounds(c.act, c.qo, kXnn)), sub_options(c.act), 7);
    check_binary(BuiltinOperator::SUB, c.sa, c.qa, c.sb, c.qb, c.qo, kRef,
                 tflite_add(c.qa, c.qb, c.qo, true, act_bounds(c.act, c.qo, kRef)), sub_options(c.act), 7);
  }
}

// Every code is within one step of the correctly rounded real result (away from saturation).
TEST(Int8Add, WithinOneStepOfTheRealSum) {
  const Q qa{0.031f, 11}, qb{0.047f, -20}, qo{0.05f, 3};
  for (IntegerNumerics n : {kXnn, kRef}) {
    for (bool sub : {false, true}) {
      check_binary(sub ? BuiltinOperator::SUB : BuiltinOperator::ADD, {16, 16}, qa, {16, 16}, qb, qo, n,
                   [&, sub](int32_t x, int32_t y) -> int32_t {
                     const double real = (x - qa.zp) * double(qa.scale) + (sub ? -1 : 1) * (y - qb.zp) * double(qb.scale);
                     return clamp8(std::lround(real / qo.scale) + qo.zp);
                   },
                   add_options(ActivationFunctionType::NONE), 2, /*tolerance=*/1);
    }
  }
}

// ---- MUL ------------------------------------------------------------------------------------------

BinaryRef xnnpack_mul(Q a, Q b, Q o, std::pair<int32_t, int32_t> bounds) {
  const float scale = a.scale * b.scale / o.scale;
  return [=](int32_t x, int32_t y) {
    const float v = static_cast<float>((x - a.zp) * (y - b.zp)) * scale;
    return std::clamp(clamp8(static_cast<int64_t>(std::nearbyint(v)) + o.zp), bounds.first, bounds.second);
  };
}

BinaryRef tflite_mul_ref(Q a, Q b, Q o, std::pair<int32_t, int32_t> bounds) {
  const Fixed f = fixed(static_cast<double>(a.scale * b.scale / o.scale));
  return [=](int32_t x, int32_t y) {
    return std::clamp(clamp8(tflite_mul(int64_t{x - a.zp} * (y - b.zp), f) + o.zp), bounds.first, bounds.second);
  };
}

tflite::MulOptionsT mul_options(ActivationFunctionType act) {
  tflite::MulOptionsT o;
  o.fused_activation_function = act;
  return o;
}

const std::vector<AddCase> kMulCases = {
    {{1, 6, 6, 8}, {1, 6, 6, 8}, {0.05f, -3}, {0.02f, 10}, {0.01f, 5}, ActivationFunctionType::NONE},
    {{1, 6, 6, 8}, {1, 1, 1, 8}, {0.03f, 20}, {1.0f / 256, -128}, {0.02f, 9}, ActivationFunctionType::NONE},
    {{2, 3, 8}, {2, 1, 8}, {0.1f, 7}, {0.0731f, -12}, {0.0037f, -2}, ActivationFunctionType::RELU6},
    {{5, 9}, {}, {0.05f, -30}, {0.0013f, -128}, {0.0081f, 11}, ActivationFunctionType::RELU},
};

TEST(Int8Mul, BothNumerics) {
  for (const auto& c : kMulCases) {
    check_binary(BuiltinOperator::MUL, c.sa, c.qa, c.sb, c.qb, c.qo, kXnn, xnnpack_mul(c.qa, c.qb, c.qo, act_bounds(c.act, c.qo, kXnn)),
                 mul_options(c.act));
    check_binary(BuiltinOperator::MUL, c.sa, c.qa, c.sb, c.qb, c.qo, kRef,
                 tflite_mul_ref(c.qa, c.qb, c.qo, act_bounds(c.act, c.qo, kRef)), mul_options(c.act));
  }
  // Product/output ratio below 2^-16: TFLite's kernel in both modes.
  const Q qa{0.02f, 3}, qb{0.0073f, -5}, qo{9.8f, 1};
  check_binary(BuiltinOperator::MUL, {8, 8}, qa, {8, 8}, qb, qo, kXnn, tflite_mul_ref(qa, qb, qo, {-128, 127}),
               mul_options(ActivationFunctionType::NONE));
}

TEST(Int8Mul, WithinOneStepOfTheRealProduct) {
  const Q qa{0.031f, 11}, qb{0.047f, -20}, qo{0.2f, 3};
  for (IntegerNumerics n : {kXnn, kRef})
    check_binary(BuiltinOperator::MUL, {16, 16}, qa, {16, 16}, qb, qo, n,
                 [&](int32_t x, int32_t y) -> int32_t {
                   const double real = (x - qa.zp) * double(qa.scale) * (y - qb.zp) * double(qb.scale);
                   return clamp8(std::lround(real / qo.scale) + qo.zp);
                 },
                 mul_options(ActivationFunctionType::NONE), 2, /*tolerance=*/1);
}

// ---- SQUARED_DIFFERENCE, MAXIMUM, MINIMUM -------------------------------------------------------

BinaryRef tflite_squared_difference(Q a, Q b, Q o) {
  const double twice = 2.0 * std::max(a.scale, b.scale);
  const Fixed fa = fixed(a.scale / twice), fb = fixed(b.scale / twice), fo = fixed(twice * twice / (16384.0 * o.scale));
  return [=](int32_t x, int32_t y) {
    const int64_t d = tflite_mul(int64_t{x - a.zp} << 7, fa) - tflite_mul(int64_t{y - b.zp} << 7, fb);
    return clamp8(tflite_mul(d * d, fo) + o.zp);
  };
}

TEST(Int8SquaredDifference, TfliteKernelInBothNumerics) {
  const Q qa{0.05f, -3}, qb{0.03f, 10}, qo{0.21f, -128};
  for (IntegerNumerics n : {kXnn, kRef}) {
    check_binary(BuiltinOperator::SQUARED_DIFFERENCE, {1, 6, 6, 8}, qa, {1, 6, 6, 8}, qb, qo, n, tflite_squared_difference(qa, qb, qo));
    check_binary(BuiltinOperator::SQUARED_DIFFERENCE, {2, 5, 8}, qa, {8}, qa, qo, n, tflite_squared_difference(qa, qa, qo));
  }
}

TEST(Int8MaximumMinimum, PickTheRawCode) {
  const Q q{0.04f, -6};
  for (IntegerNumerics n : {kXnn, kRef}) {
    check_binary(BuiltinOperator::MAXIMUM, {2, 1, 6, 8}, q, {1, 4, 1, 8}, q, q, n, [](int32_t a, int32_t b) { return std::max(a, b); });
    check_binary(BuiltinOperator::MINIMUM, {3, 8}, q, {}, q, q, n, [](int32_t a, int32_t b) { return std::min(a, b); });
  }
}

// ---- MEAN / SUM ---------------------------------------------------------------------------------

struct ReduceCase {
  Shape shape;
  std::vector<int32_t> axes;
  bool keep_dims;
  Q qi, qo;
};

// The per-output sums of raw codes and the element count, by brute force over multi-indices.
void reduce_sums(const Shape& shape, const std::vector<int32_t>& axes, const std::vector<int8_t>& x, std::vector<int64_t>& sums,
                 int64_t& count) {
  const int rank = static_cast<int>(shape.size());
  std::vector<bool> red(rank, false);
  for (int32_t a : axes) red[a < 0 ? a + rank : a] = true;
  count = 1;
  int64_t outs = 1;
  for (int d = 0; d < rank; ++d) (red[d] ? count : outs) *= shape[d];
  sums.assign(static_cast<size_t>(outs), 0);
  std::vector<int32_t> idx(rank, 0);
  for (size_t i = 0; i < x.size(); ++i) {
    int64_t o = 0;
    for (int d = 0; d < rank; ++d)
      if (!red[d]) o = o * shape[d] + idx[d];
    sums[o] += x[i];
    for (int k = rank - 1; k >= 0 && ++idx[k] == shape[k]; --k) idx[k] = 0;
  }
}

std::vector<int8_t> run_reduce(BuiltinOperator op, const ReduceCase& c, const std::vector<int8_t>& x, IntegerNumerics n) {
  const int rank = static_cast<int>(c.shape.size());
  Shape out;
  for (int d = 0; d < rank; ++d) {
    const bool r = std::find_if(c.axes.begin(), c.axes.end(), [&](int32_t a) { return (a < 0 ? a + rank : a) == d; }) != c.axes.end();
    if (!r) out.push_back(c.shape[d]);
    else if (c.keep_dims) out.push_back(1);
  }
  ModelBuilder mb;
  const int in = mb.input(DType::kInt8, c.shape, q8(c.qi));
  const int ax = mb.constant_i32({static_cast<int32_t>(c.axes.size())}, c.axes);
  const int y = mb.tensor(DType::kInt8, out, q8(c.qo));
  tflite::ReducerOptionsT o;
  o.keep_dims = c.keep_dims;
  mb.op(op, {in, ax}, {y}, o);
  mb.output(y);
  return run_int8(mb, {x}, n);
}

const std::vector<ReduceCase> kReduceCases = {
    {{1, 7, 7, 32}, {1, 2}, true, {0.05f, -3}, {0.0213f, 4}},    // global average pooling
    {{2, 5, 5, 8}, {2, 1}, true, {0.03f, 9}, {0.01f, -2}},
    {{1, 4, 6, 16}, {1, 2}, false, {0.05f, 11}, {0.0081f, -7}},
    {{1, 6, 6, 20}, {-1}, true, {0.05f, -3}, {0.0213f, 4}},
    {{1, 6, 9, 12}, {2}, false, {0.05f, -3}, {0.031f, 6}},
    {{4, 10, 32}, {2}, false, {0.02f, 1}, {0.005f, -1}},         // scale 1/8 exactly: ties
    {{3, 4, 5, 6}, {0, 2}, true, {0.04f, -20}, {0.04f, -20}},
};

TEST(Int8Mean, XnnpackSumsExactlyThenConvertsOnceInFloat) {
  for (const auto& c : kReduceCases) {
    const auto x = random_codes(num_elements(c.shape), 3);
    std::vector<int64_t> sums;
    int64_t n = 0;
    reduce_sums(c.shape, c.axes, x, sums, n);
    const float scale = c.qi.scale / c.qo.scale * (1.0f / static_cast<float>(n));
    const auto got = run_reduce(BuiltinOperator::MEAN, c, x, kXnn);
    ASSERT_EQ(got.size(), sums.size());
    for (size_t i = 0; i < sums.size(); ++i) {
      const float v = static_cast<float>(sums[i] - n * c.qi.zp) * scale + static_cast<float>(c.qo.zp);
      ASSERT_EQ(got[i], clamp8(static_cast<int64_t>(std::nearbyint(std::clamp(v, -128.0f, 127.0f))))) << "output " << i;
      // and within one step of the exact mean
      const double real = (double(sums[i]) / double(n) - c.qi.zp) * c.qi.scale;
      ASSERT_NEAR(got[i], clamp8(std::lround(real / c.qo.scale) + c.qo.zp), 1) << "output " << i;
    }
  }
}

TEST(Int8Mean, ReferenceMatchesTfliteKernels) {
  for (const auto& c : kReduceCases) {
    const auto x = random_codes(num_elements(c.shape), 4);
    std::vector<int64_t> sums;
    int64_t n = 0;
    reduce_sums(c.shape, c.axes, x, sums, n);
    const auto got = run_reduce(BuiltinOperator::MEAN, c, x, kRef);
    const bool hw = c.keep_dims && c.shape.size() == 4 && c.axes.size() == 2 &&
                    std::min(c.axes[0], c.axes[1]) == 1 && std::max(c.axes[0], c.axes[1]) == 2;
    for (size_t i = 0; i < sums.size(); ++i) {
      int64_t want;
      if (hw) {  // optimized_integer_ops::Mean
        const Fixed f = fixed(c.qi.scale / (static_cast<float>(n) * c.qo.scale));
        const float t = static_cast<float>(c.qi.zp) * c.qi.scale / c.qo.scale;
        want = tflite_mul(sums[i], f) + c.qo.zp - static_cast<int64_t>(t > 0 ? t + 0.5f : t - 0.5f);
      } else {  // reference QuantizedMeanOrSum: 1/n folded into the multiplier
        Fixed f = fixed(double(c.qi.scale) / double(c.qo.scale));
        const int k = std::min({static_cast<int>(std::floor(std::log2(double(n)))), 32, 31 + f.shift});
        f.m = (f.m << k) / n;
        f.shift -= k;
        want = tflite_mul(sums[i] - n * c.qi.zp, f) + c.qo.zp;
      }
      ASSERT_EQ(got[i], clamp8(want)) << "output " << i;
      const double real = (double(sums[i]) / double(n) - c.qi.zp) * c.qi.scale;
      ASSERT_NEAR(got[i], clamp8(std::lround(real / c.qo.scale) + c.qo.zp), 1) << "output " << i;
    }
  }
}

TEST(Int8Sum, BothNumerics) {
  const std::vector<ReduceCase> cases = {{{1, 4, 4, 16}, {1, 2}, true, {0.01f, -3}, {0.08f, 4}},
                                         {{1, 6, 6, 8}, {3}, false, {0.01f, 5}, {0.05f, -1}},
                                         {{2, 3, 8}, {0}, false, {0.02f, 0}, {0.04f, 1}}};  // ratio 1/2: ties
  for (const auto& c : cases) {
    const auto x = random_codes(num_elements(c.shape), 5);
    std::vector<int64_t> sums;
    int64_t n = 0;
    reduce_sums(c.shape, c.axes, x, sums, n);
    const auto xnn = run_reduce(BuiltinOperator::SUM, c, x, kXnn);
    const auto ref = run_reduce(BuiltinOperator::SUM, c, x, kRef);
    const float scale = c.qi.scale / c.qo.scale;
    for (size_t i = 0; i < sums.size(); ++i) {
      // XNNPACK: the zero-point-free sum, scaled, plus zp, rounded half to even.
      const float v = static_cast<float>(sums[i] - n * c.qi.zp) * scale + static_cast<float>(c.qo.zp);
      ASSERT_EQ(xnn[i], clamp8(static_cast<int64_t>(std::nearbyint(std::clamp(v, -128.0f, 127.0f))))) << i;
      // TFLite's optimized SUM: float(sum) * scale plus the input zero point as a float bias,
      // rounded half away from zero, plus zp.
      const float bias = static_cast<float>(-c.qi.zp) * scale * static_cast<float>(n);
      ASSERT_EQ(ref[i], clamp8(static_cast<int64_t>(std::round(static_cast<float>(sums[i]) * scale + bias)) + c.qo.zp)) << i;
    }
  }
}

// ---- AVERAGE_POOL_2D / MAX_POOL_2D --------------------------------------------------------------

struct PoolCase {
  Shape in;
  tflite::Padding padding;
  int fh, fw, sh, sw;
  ActivationFunctionType act;
};

const std::vector<PoolCase> kPoolCases = {
    {{1, 8, 8, 16}, tflite::Padding::VALID, 2, 2, 2, 2, ActivationFunctionType::NONE},
    {{1, 7, 9, 8}, tflite::Padding::SAME, 3, 3, 1, 1, ActivationFunctionType::NONE},
    {{2, 9, 8, 12}, tflite::Padding::SAME, 3, 3, 2, 2, ActivationFunctionType::RELU},
    {{1, 7, 7, 32}, tflite::Padding::VALID, 7, 7, 1, 1, ActivationFunctionType::NONE},  // global
    {{1, 6, 6, 8}, tflite::Padding::VALID, 2, 3, 1, 2, ActivationFunctionType::RELU6},
    {{1, 5, 4, 3}, tflite::Padding::SAME, 4, 2, 3, 2, ActivationFunctionType::RELU_N1_TO_1},
};

// Runs a pool op and compares every output with ref(window codes) over TFLite's window.
void check_pool(BuiltinOperator op, const PoolCase& c, Q q, IntegerNumerics n,
                const std::function<int32_t(const std::vector<int32_t>&)>& ref) {
  auto out_size = [&](int in, int f, int s) { return c.padding == tflite::Padding::SAME ? (in + s - 1) / s : (in - f + s) / s; };
  const int oh = out_size(c.in[1], c.fh, c.sh), ow = out_size(c.in[2], c.fw, c.sw);
  const int pt = std::max(0, ((oh - 1) * c.sh + c.fh - c.in[1]) / 2), pl = std::max(0, ((ow - 1) * c.sw + c.fw - c.in[2]) / 2);
  ModelBuilder mb;
  const int in = mb.input(DType::kInt8, c.in, q8(q));
  const int y = mb.tensor(DType::kInt8, {c.in[0], oh, ow, c.in[3]}, q8(q));
  tflite::Pool2DOptionsT o;
  o.padding = c.padding;
  o.filter_height = c.fh, o.filter_width = c.fw, o.stride_h = c.sh, o.stride_w = c.sw;
  o.fused_activation_function = c.act;
  mb.op(op, {in}, {y}, o);
  mb.output(y);
  const auto x = random_codes(num_elements(c.in), 9);
  const auto got = run_int8(mb, {x}, n);
  EXPECT_EQ(run_int8(mb, {x}, n, 4), got);
  size_t k = 0;
  for (int b = 0; b < c.in[0]; ++b)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int ch = 0; ch < c.in[3]; ++ch, ++k) {
          std::vector<int32_t> window;
          for (int fy = 0; fy < c.fh; ++fy)
            for (int fx = 0; fx < c.fw; ++fx) {
              const int iy = oy * c.sh - pt + fy, ix = ox * c.sw - pl + fx;
              if (iy < 0 || ix < 0 || iy >= c.in[1] || ix >= c.in[2]) continue;
              window.push_back(x[((static_cast<size_t>(b) * c.in[1] + iy) * c.in[2] + ix) * c.in[3] + ch]);
            }
          ASSERT_EQ(got[k], ref(window)) << "output " << k;
        }
}

TEST(Int8AveragePool, RoundsTheWindowMeanHalfAwayFromZeroInBothNumerics) {
  const Q q{0.05f, -3};
  for (const auto& c : kPoolCases)
    for (IntegerNumerics n : {kXnn, kRef}) {
      const auto [lo, hi] = act_bounds(c.act, q, kRef);
      check_pool(BuiltinOperator::AVERAGE_POOL_2D, c, q, n, [lo = lo, hi = hi](const std::vector<int32_t>& w) {
        int64_t s = 0;
        for (int32_t v : w) s += v;
        const double mean = double(s) / double(w.size());
        return std::clamp(static_cast<int32_t>(std::round(mean)), lo, hi);  // std::round: half away from zero
      });
    }
}

TEST(Int8MaxPool, LargestCodeClampedToTheActivationRange) {
  const Q q{0.04f, 30};
  for (const auto& c : kPoolCases)
    for (IntegerNumerics n : {kXnn, kRef}) {
      const auto [lo, hi] = act_bounds(c.act, q, n);
      check_pool(BuiltinOperator::MAX_POOL_2D, c, q, n, [lo = lo, hi = hi](const std::vector<int32_t>& w) {
        return std::clamp(*std::max_element(w.begin(), w.end()), lo, hi);
      });
    }
}

TEST(Int8MaxPool, BoundsRoundAsTheRuntimeThatRunsThePool) {
  // RELU_N1_TO_1 at scale 0.4, zp 2: XNNPACK clamps to [0, 4], TFLite to [-1, 5]. LiteRT's
  // delegate leaves a pool whose stride exceeds its filter to TFLite.
  const Q q{0.4f, 2};
  const PoolCase delegated{{1, 6, 6, 4}, tflite::Padding::VALID, 2, 2, 2, 2, ActivationFunctionType::RELU_N1_TO_1};
  const PoolCase fallback{{1, 6, 6, 4}, tflite::Padding::VALID, 1, 1, 2, 2, ActivationFunctionType::RELU_N1_TO_1};
  for (IntegerNumerics n : {kXnn, kRef})
    for (bool delegate : {true, false}) {
      const PoolCase& c = delegate ? delegated : fallback;
      const auto [lo, hi] = act_bounds(c.act, q, delegate ? n : kRef);
      check_pool(BuiltinOperator::MAX_POOL_2D, c, q, n, [lo = lo, hi = hi](const std::vector<int32_t>& w) {
        return std::clamp(*std::max_element(w.begin(), w.end()), lo, hi);
      });
    }
}

// ---- activation bounds and errors --------------------------------------------------------------

TEST(Int8FusedActivation, XnnpackAndTfliteRoundTheBoundsDifferently) {
  // RELU_N1_TO_1 with scale 0.4 and zp 2: -1 / 0.4 = -2.5 -> TFLite -3 (away from zero) + 2 = -1,
  // XNNPACK rint(-2.5 + 2) = rint(-0.5) = -0 -> 0. Upper: 2.5 + 2 = 4.5 -> TFLite 3 + 2 = 5, XNNPACK 4.
  const Q q{0.4f, 2};
  EXPECT_EQ(act_bounds(ActivationFunctionType::RELU_N1_TO_1, q, kRef), std::make_pair(-1, 5));
  EXPECT_EQ(act_bounds(ActivationFunctionType::RELU_N1_TO_1, q, kXnn), std::make_pair(0, 4));
  const Q qa{0.02f, 0};
  for (IntegerNumerics n : {kXnn, kRef}) {
    const auto [lo, hi] = act_bounds(ActivationFunctionType::RELU_N1_TO_1, q, n);
    check_binary(BuiltinOperator::ADD, {64}, qa, {64}, qa, q, n,
                 [&, lo = lo, hi = hi](int32_t a, int32_t b) {
                   return std::clamp(n == kXnn ? xnnpack_add(qa, qa, q, false, {-128, 127})(a, b) : tflite_add(qa, qa, q, false, {-128, 127})(a, b),
                                     lo, hi);
                 },
                 add_options(ActivationFunctionType::RELU_N1_TO_1));
  }
}

TEST(Int8Arith, RejectsBadModels) {
  auto expect_error = [](const std::function<void(ModelBuilder&)>& build) {
    ModelBuilder mb;
    build(mb);
    EXPECT_THROW(Executor(std::make_shared<Model>(mb.model())), Error);
  };
  const Quantization q = q8({0.05f, 0});
  // shapes that do not broadcast
  expect_error([&](ModelBuilder& mb) {
    const int a = mb.input(DType::kInt8, {2, 3}, q), b = mb.input(DType::kInt8, {4}, q), y = mb.tensor(DType::kInt8, {2, 3}, q);
    mb.op(BuiltinOperator::ADD, {a, b}, {y});
    mb.output(y);
  });
  // wrong output shape
  expect_error([&](ModelBuilder& mb) {
    const int a = mb.input(DType::kInt8, {2, 3}, q), b = mb.input(DType::kInt8, {3}, q), y = mb.tensor(DType::kInt8, {3, 2}, q);
    mb.op(BuiltinOperator::MUL, {a, b}, {y});
    mb.output(y);
  });
  // a per-axis input
  expect_error([&](ModelBuilder& mb) {
    Quantization pa;
    pa.scale = {0.1f, 0.2f, 0.3f};
    pa.zero_point = {0, 0, 0};
    pa.quantized_dimension = 1;
    const int a = mb.input(DType::kInt8, {2, 3}, pa), b = mb.input(DType::kInt8, {2, 3}, q), y = mb.tensor(DType::kInt8, {2, 3}, q);
    mb.op(BuiltinOperator::SUB, {a, b}, {y});
    mb.output(y);
  });
  // a fused TANH is not a clamp
  expect_error([&](ModelBuilder& mb) {
    const int a = mb.input(DType::kInt8, {4}, q), b = mb.input(DType::kInt8, {4}, q), y = mb.tensor(DType::kInt8, {4}, q);
    tflite::AddOptionsT o;
    o.fused_activation_function = ActivationFunctionType::TANH;
    mb.op(BuiltinOperator::ADD, {a, b}, {y}, o);
    mb.output(y);
  });
  // MEAN: axis out of range, wrong output shape
  expect_error([&](ModelBuilder& mb) {
    const int a = mb.input(DType::kInt8, {2, 3}, q), ax = mb.constant_i32({1}, {2}), y = mb.tensor(DType::kInt8, {2}, q);
    mb.op(BuiltinOperator::MEAN, {a, ax}, {y});
    mb.output(y);
  });
  expect_error([&](ModelBuilder& mb) {
    const int a = mb.input(DType::kInt8, {2, 3}, q), ax = mb.constant_i32({1}, {1}), y = mb.tensor(DType::kInt8, {3}, q);
    mb.op(BuiltinOperator::MEAN, {a, ax}, {y});
    mb.output(y);
  });
  // pooling: rank 3 input, wrong output shape
  expect_error([&](ModelBuilder& mb) {
    const int a = mb.input(DType::kInt8, {4, 4, 2}, q), y = mb.tensor(DType::kInt8, {2, 2, 2}, q);
    tflite::Pool2DOptionsT o;
    o.filter_height = o.filter_width = o.stride_h = o.stride_w = 2;
    mb.op(BuiltinOperator::AVERAGE_POOL_2D, {a}, {y}, o);
    mb.output(y);
  });
  expect_error([&](ModelBuilder& mb) {
    const int a = mb.input(DType::kInt8, {1, 4, 4, 2}, q), y = mb.tensor(DType::kInt8, {1, 3, 3, 2}, q);
    tflite::Pool2DOptionsT o;
    o.padding = tflite::Padding::VALID;
    o.filter_height = o.filter_width = o.stride_h = o.stride_w = 2;
    mb.op(BuiltinOperator::MAX_POOL_2D, {a}, {y}, o);
    mb.output(y);
  });
}

}  // namespace
}  // namespace qcal
