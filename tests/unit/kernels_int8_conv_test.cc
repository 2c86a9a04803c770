// Int8 CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and TRANSPOSE_CONV, in both integer
// numerics, against naive loops written here: exact int64 accumulators, then requantization
// written out independently from the runtimes' definitions:
//  * XNNPACK: float scale = input_scale * weight_scale / output_scale; float(acc) * scale,
//    clamped to the quantized activation bounds (bound / output_scale + zp rounded to
//    nearest-even), rounded to nearest-even, + zp;
//  * TFLite reference: multiplier M0 * 2^shift from the double product (frexp, round half away
//    from zero to 31 bits), acc * M0 / 2^31 rounded half up (gemmlowp's
//    SaturatingRoundingDoublingHighMul: its nudge makes negative ties round toward zero), then
//    divided by 2^-shift rounded half away from zero (RoundingDivideByPOT), + zp, clamped to
//    zp + round(bound / output_scale).
#include <cmath>
#include <cstring>
#include <random>

#include "op_test_util.h"

namespace qcal {
namespace {

using test::ModelBuilder;
using tflite::ActivationFunctionType;
using tflite::BuiltinOperator;
using tflite::Padding;
using Act = ActivationFunctionType;

// ---- naive requantization ------------------------------------------------------------------

struct Bounds {
  double lo, hi;  // the fused activation in real values (+-inf: none)
};

Bounds bounds_of(Act a) {
  const double inf = std::numeric_limits<double>::infinity();
  switch (a) {
    case Act::RELU: return {0, inf};
    case Act::RELU6: return {0, 6};
    case Act::RELU_N1_TO_1: return {-1, 1};
    default: return {-inf, inf};
  }
}

// floor(v) for a rational v = num / den, den > 0.
__int128 floor_div(__int128 num, __int128 den) { return num >= 0 ? num / den : -((-num + den - 1) / den); }

// a / 2^e rounded to the nearest integer, halves up (toward +infinity).
int64_t div_pow2_half_up(__int128 a, int e) {
  const __int128 d = static_cast<__int128>(1) << e;
  return static_cast<int64_t>(floor_div(2 * a + d, 2 * d));  // floor(a / d + 1/2)
}

// a / 2^e rounded to the nearest integer, halves away from zero.
int64_t div_pow2_half_away(__int128 a, int e) {
  const int64_t r = div_pow2_half_up(a < 0 ? -a : a, e);
  return a < 0 ? -r : r;
}

struct Requant {
  IntegerNumerics numerics;
  float in_scale, out_scale;
  int32_t out_zp;
  Act act;
  bool fc_per_tensor = false;  // FULLY_CONNECTED with one weight scale: float product first

  int8_t operator()(int64_t acc64, float w_scale) const {
    const int32_t acc = static_cast<int32_t>(acc64);
    const Bounds b = bounds_of(act);
    if (numerics == IntegerNumerics::kXnnpack) {
      auto q = [&](double bound) {
        const float v = static_cast<float>(bound) / out_scale + static_cast<float>(out_zp);
        return static_cast<int32_t>(std::nearbyint(std::min(std::max(v, -128.0f), 127.0f)));
      };
      const int32_t qmin = q(b.lo), qmax = q(b.hi);
      const float scale = in_scale * w_scale / out_scale;
      float x = static_cast<float>(acc) * scale;
      x = std::min(std::max(x, static_cast<float>(qmin - out_zp)), static_cast<float>(qmax - out_zp));
      return static_cast<int8_t>(static_cast<int32_t>(std::nearbyint(x)) + out_zp);
    }
    const double real = fc_per_tensor ? double(in_scale * w_scale) / double(out_scale) : double(in_scale) * double(w_scale) / double(out_scale);
    int exp = 0;
    const double frac = std::frexp(real, &exp);
    int64_t m0 = static_cast<int64_t>(std::round(frac * 2147483648.0));
    if (m0 == (int64_t(1) << 31)) m0 /= 2, ++exp;
    if (exp < -31) m0 = 0, exp = 0;
    const int left = std::max(exp, 0), right = std::max(-exp, 0);
    const int64_t high = div_pow2_half_up(static_cast<__int128>(static_cast<int64_t>(acc) << left) * m0, 31);
    int64_t v = div_pow2_half_away(high, right) + out_zp;
    int64_t lo = -128, hi = 127;
    if (std::isfinite(b.lo)) lo = std::max<int64_t>(lo, out_zp + static_cast<int64_t>(std::round(static_cast<float>(b.lo) / out_scale)));
    if (std::isfinite(b.hi)) hi = std::min<int64_t>(hi, out_zp + static_cast<int64_t>(std::round(static_cast<float>(b.hi) / out_scale)));
    return static_cast<int8_t>(std::clamp(v, lo, hi));
  }
};

// ---- model building --------------------------------------------------------------------------

std::vector<int8_t> random_int8(size_t n, uint32_t seed, int lo = -128, int hi = 127) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<int8_t> v(n);
  for (int8_t& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}

std::vector<int32_t> random_bias(size_t n, uint32_t seed, int range = 5000) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-range, range);
  std::vector<int32_t> v(n);
  for (int32_t& x : v) x = d(rng);
  return v;
}

std::vector<float> random_scales(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(0.004f, 0.02f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

Quantization q8(float scale, int32_t zp) {
  Quantization q;
  q.scale = {scale};
  q.zero_point = {zp};
  return q;
}

Quantization per_axis(const std::vector<float>& scales, int axis) {
  Quantization q;
  q.scale = scales;
  q.zero_point.assign(scales.size(), 0);
  q.quantized_dimension = scales.size() > 1 ? axis : 0;
  return q;
}

// An output scale that keeps about 3 standard deviations of a K-term accumulator of random
// int8 values inside int8.
float output_scale_for(float in_scale, const std::vector<float>& w_scales, int K) {
  double m = 0;
  for (float s : w_scales) m += s;
  m /= w_scales.size();
  return static_cast<float>(in_scale * m * std::sqrt(double(K)) * 74.0 * 73.0 * 3.0 / 127.0);
}

std::vector<HostTensor> run(const ModelBuilder& b, const std::vector<HostTensor>& inputs, IntegerNumerics numerics, int threads = 1) {
  ExecutorOptions o;
  o.threads = threads;
  o.integer_numerics = numerics;
  Executor ex(std::make_shared<Model>(const_cast<ModelBuilder&>(b).model()), o, "int8 test model");
  std::vector<HostTensor> in = inputs;
  auto& sg = const_cast<ModelBuilder&>(b).sg();
  for (size_t k = 0; k < in.size(); ++k) in[k].name = sg.tensors[sg.inputs[k]].name;
  return ex.run(in);
}

HostTensor host8(const Shape& shape, const std::vector<int8_t>& v) { return test::host<int8_t>(shape, v, DType::kInt8); }

void expect_equal(const std::vector<int8_t>& got, const std::vector<int8_t>& want) {
  ASSERT_EQ(got.size(), want.size());
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i] && bad++ == 0) first = i;
  EXPECT_EQ(bad, 0u) << "first mismatch at element " << first << ": got " << int(got[first]) << ", want " << int(want[first]);
}

constexpr IntegerNumerics kModes[] = {IntegerNumerics::kXnnpack, IntegerNumerics::kReference};
const char* mode_name(IntegerNumerics n) { return n == IntegerNumerics::kXnnpack ? "xnnpack" : "reference"; }

int out_size(Padding p, int in, int k, int s, int d) {
  const int eff = (k - 1) * d + 1;
  return p == Padding::SAME ? (in + s - 1) / s : (in - eff + s) / s;
}
int pad_before(int in, int out, int k, int s, int d) { return std::max(0, (out - 1) * s + (k - 1) * d + 1 - in) / 2; }

// ---- CONV_2D ---------------------------------------------------------------------------------

struct ConvCase {
  int n, h, w, ic, oc, kh, kw, sh, sw, dh, dw;
  Padding pad;
  Act act;
  bool per_tensor, bias;
  int in_zp, out_zp;
  int groups = 1;
};

void check_conv(const ConvCase& c, uint32_t seed, bool filter_as_input = false) {
  SCOPED_TRACE(testing::Message() << "conv " << c.n << "x" << c.h << "x" << c.w << "x" << c.ic << " -> " << c.oc << " k" << c.kh
                                  << "x" << c.kw << " s" << c.sh << "," << c.sw << " d" << c.dh << "," << c.dw << " pad "
                                  << int(c.pad) << " act " << int(c.act) << " groups " << c.groups << " zp " << c.in_zp);
  const float in_scale = 0.021f;
  const int gic = c.ic / c.groups, goc = c.oc / c.groups, K = c.kh * c.kw * gic;
  const int oh = out_size(c.pad, c.h, c.kh, c.sh, c.dh), ow = out_size(c.pad, c.w, c.kw, c.sw, c.dw);
  const auto in = random_int8(size_t(c.n) * c.h * c.w * c.ic, seed);
  const auto f = random_int8(size_t(c.oc) * K, seed + 1, -127, 127);
  const auto bias = random_bias(c.oc, seed + 2);
  const auto ws = random_scales(c.per_tensor ? 1 : c.oc, seed + 3);
  const float out_scale = output_scale_for(in_scale, ws, K);

  ModelBuilder b;
  const int x = b.input(DType::kInt8, {c.n, c.h, c.w, c.ic}, q8(in_scale, c.in_zp));
  const Shape fshape{c.oc, c.kh, c.kw, gic};
  const int fi = filter_as_input ? b.input(DType::kInt8, fshape, per_axis(ws, 0))
                                 : b.constant(DType::kInt8, fshape, test::to_bytes(f), per_axis(ws, 0));
  const int bi = c.bias ? b.constant(DType::kInt32, {c.oc}, test::to_bytes(bias)) : kNoTensor;
  const int y = b.tensor(DType::kInt8, {c.n, oh, ow, c.oc}, q8(out_scale, c.out_zp));
  tflite::Conv2DOptionsT o;
  o.padding = c.pad, o.stride_h = c.sh, o.stride_w = c.sw, o.dilation_h_factor = c.dh, o.dilation_w_factor = c.dw;
  o.fused_activation_function = c.act;
  b.op(BuiltinOperator::CONV_2D, {x, fi, bi}, {y}, o);
  b.output(y);
  std::vector<HostTensor> inputs{host8({c.n, c.h, c.w, c.ic}, in)};
  if (filter_as_input) inputs.push_back(host8(fshape, f));

  const int pt = pad_before(c.h, oh, c.kh, c.sh, c.dh), pl = pad_before(c.w, ow, c.kw, c.sw, c.dw);
  for (IntegerNumerics mode : kModes) {
    SCOPED_TRACE(mode_name(mode));
    const Requant rq{mode, in_scale, out_scale, c.out_zp, c.act};
    std::vector<int8_t> want(size_t(c.n) * oh * ow * c.oc);
    for (int bt = 0; bt < c.n; ++bt)
      for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox)
          for (int co = 0; co < c.oc; ++co) {
            const int g = co / goc;
            int64_t acc = c.bias ? bias[co] : 0;
            for (int ky = 0; ky < c.kh; ++ky)
              for (int kx = 0; kx < c.kw; ++kx) {
                const int iy = oy * c.sh - pt + ky * c.dh, ix = ox * c.sw - pl + kx * c.dw;
                if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                for (int ci = 0; ci < gic; ++ci)
                  acc += (int64_t(in[((size_t(bt) * c.h + iy) * c.w + ix) * c.ic + g * gic + ci]) - c.in_zp) *
                         f[((size_t(co) * c.kh + ky) * c.kw + kx) * gic + ci];
              }
            want[((size_t(bt) * oh + oy) * ow + ox) * c.oc + co] = rq(acc, ws[c.per_tensor ? 0 : co]);
          }
    const auto got = run(b, inputs, mode, 1);
    expect_equal(test::from_bytes<int8_t>(got[0].data), want);
    EXPECT_EQ(got[0].data, run(b, inputs, mode, 2)[0].data) << "2 threads differ from 1";
  }
}

TEST(Int8Conv2D, MatchesNaiveComputation) {
  uint32_t seed = 100;
  const ConvCase cases[] = {
      {1, 10, 12, 8, 16, 3, 3, 1, 1, 1, 1, Padding::SAME, Act::RELU, false, true, -7, -90},
      {1, 15, 13, 3, 12, 3, 3, 2, 2, 1, 1, Padding::VALID, Act::RELU6, false, true, 5, -128},  // first layer, K = 27
      {2, 9, 11, 5, 7, 3, 3, 1, 1, 1, 1, Padding::VALID, Act::RELU_N1_TO_1, false, true, 0, 3},
      {1, 8, 9, 24, 40, 1, 1, 1, 1, 1, 1, Padding::SAME, Act::NONE, true, true, 20, 3},  // 1x1, one weight scale
      {1, 5, 7, 7, 20, 1, 1, 1, 1, 1, 1, Padding::VALID, Act::RELU, false, true, -60, -9},  // 1x1 in place, K % 4 = 3
      {1, 12, 11, 6, 10, 3, 3, 1, 1, 2, 2, Padding::SAME, Act::NONE, false, true, -30, 0},  // dilation
      {1, 12, 13, 4, 10, 3, 2, 2, 1, 2, 3, Padding::VALID, Act::NONE, false, false, 11, -1},  // dilation, VALID, no bias
      {1, 14, 16, 4, 8, 5, 5, 2, 2, 1, 1, Padding::SAME, Act::NONE, false, true, 127, 10},   // zp at the int8 edge
      {1, 9, 10, 8, 12, 3, 3, 1, 1, 1, 1, Padding::SAME, Act::NONE, false, true, 9, 2, 2},   // grouped
      {1, 7, 6, 6, 6, 1, 1, 1, 1, 1, 1, Padding::SAME, Act::RELU, false, true, -3, 0, 3},    // grouped 1x1
      {1, 3, 2, 5, 4, 5, 5, 1, 1, 1, 1, Padding::SAME, Act::NONE, false, true, -128, 0},     // filter larger than image
      {1, 9, 9, 64, 33, 3, 3, 1, 1, 1, 1, Padding::SAME, Act::RELU, false, true, -3, -20},   // K = 576, odd Cout
      {1, 30, 23, 7, 70, 3, 3, 1, 1, 1, 1, Padding::SAME, Act::RELU6, false, true, 1, -128}, // several pixel tiles, 5 strips
      // Large enough to run on 2 threads: pixel tiles, then column tiles (few pixels).
      {1, 40, 36, 32, 48, 3, 3, 1, 1, 1, 1, Padding::SAME, Act::NONE, false, true, -5, 1},
      {1, 4, 4, 1024, 330, 1, 1, 1, 1, 1, 1, Padding::VALID, Act::RELU, false, true, 2, -100},
  };
  for (const ConvCase& c : cases) check_conv(c, seed += 5);
}

TEST(Int8Conv2D, NonConstantFilterIsPackedAtEval) {
  check_conv({1, 8, 9, 5, 20, 3, 3, 1, 1, 1, 1, Padding::SAME, Act::RELU, false, true, 4, -5}, 7, /*filter_as_input=*/true);
}

// ---- DEPTHWISE_CONV_2D -----------------------------------------------------------------------

void check_depthwise(const ConvCase& c, uint32_t seed) {
  SCOPED_TRACE(testing::Message() << "depthwise " << c.n << "x" << c.h << "x" << c.w << "x" << c.ic << " -> " << c.oc << " k"
                                  << c.kh << "x" << c.kw << " s" << c.sh << "," << c.sw << " d" << c.dh << "," << c.dw
                                  << " pad " << int(c.pad) << " act " << int(c.act) << " zp " << c.in_zp);
  const float in_scale = 0.019f;
  const int mult = c.oc / c.ic;
  const int oh = out_size(c.pad, c.h, c.kh, c.sh, c.dh), ow = out_size(c.pad, c.w, c.kw, c.sw, c.dw);
  const auto in = random_int8(size_t(c.n) * c.h * c.w * c.ic, seed);
  const auto f = random_int8(size_t(c.kh) * c.kw * c.oc, seed + 1, -127, 127);
  const auto bias = random_bias(c.oc, seed + 2);
  const auto ws = random_scales(c.per_tensor ? 1 : c.oc, seed + 3);
  const float out_scale = output_scale_for(in_scale, ws, c.kh * c.kw);

  ModelBuilder b;
  const int x = b.input(DType::kInt8, {c.n, c.h, c.w, c.ic}, q8(in_scale, c.in_zp));
  const int fi = b.constant(DType::kInt8, {1, c.kh, c.kw, c.oc}, test::to_bytes(f), per_axis(ws, 3));
  const int bi = c.bias ? b.constant(DType::kInt32, {c.oc}, test::to_bytes(bias)) : kNoTensor;
  const int y = b.tensor(DType::kInt8, {c.n, oh, ow, c.oc}, q8(out_scale, c.out_zp));
  tflite::DepthwiseConv2DOptionsT o;
  o.padding = c.pad, o.stride_h = c.sh, o.stride_w = c.sw, o.dilation_h_factor = c.dh, o.dilation_w_factor = c.dw;
  o.depth_multiplier = mult;
  o.fused_activation_function = c.act;
  b.op(BuiltinOperator::DEPTHWISE_CONV_2D, {x, fi, bi}, {y}, o);
  b.output(y);
  const std::vector<HostTensor> inputs{host8({c.n, c.h, c.w, c.ic}, in)};

  const int pt = pad_before(c.h, oh, c.kh, c.sh, c.dh), pl = pad_before(c.w, ow, c.kw, c.sw, c.dw);
  for (IntegerNumerics mode : kModes) {
    SCOPED_TRACE(mode_name(mode));
    const Requant rq{mode, in_scale, out_scale, c.out_zp, c.act};
    std::vector<int8_t> want(size_t(c.n) * oh * ow * c.oc);
    for (int bt = 0; bt < c.n; ++bt)
      for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox)
          for (int co = 0; co < c.oc; ++co) {
            int64_t acc = c.bias ? bias[co] : 0;
            for (int ky = 0; ky < c.kh; ++ky)
              for (int kx = 0; kx < c.kw; ++kx) {
                const int iy = oy * c.sh - pt + ky * c.dh, ix = ox * c.sw - pl + kx * c.dw;
                if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                acc += (int64_t(in[((size_t(bt) * c.h + iy) * c.w + ix) * c.ic + co / mult]) - c.in_zp) *
                       f[(size_t(ky) * c.kw + kx) * c.oc + co];
              }
            want[((size_t(bt) * oh + oy) * ow + ox) * c.oc + co] = rq(acc, ws[c.per_tensor ? 0 : co]);
          }
    const auto got = run(b, inputs, mode, 1);
    expect_equal(test::from_bytes<int8_t>(got[0].data), want);
    EXPECT_EQ(got[0].data, run(b, inputs, mode, 2)[0].data) << "2 threads differ from 1";
  }
}

TEST(Int8DepthwiseConv2D, MatchesNaiveComputation) {
  uint32_t seed = 300;
  const ConvCase cases[] = {
      {1, 12, 12, 32, 32, 3, 3, 1, 1, 1, 1, Padding::SAME, Act::RELU6, false, true, -12, -128},
      {1, 11, 13, 20, 20, 3, 3, 2, 2, 1, 1, Padding::SAME, Act::RELU, false, true, 3, -60},      // Cout not a multiple of 16
      {2, 10, 9, 37, 37, 3, 3, 2, 2, 1, 1, Padding::VALID, Act::NONE, false, false, 100, 7},     // batch, no bias
      {1, 14, 13, 20, 20, 5, 5, 1, 1, 2, 2, Padding::SAME, Act::RELU_N1_TO_1, true, true, 0, 0}, // dilation, one scale
      {1, 11, 13, 6, 12, 3, 3, 2, 2, 1, 1, Padding::VALID, Act::NONE, false, true, 33, -4},      // multiplier 2
      {1, 7, 8, 3, 9, 3, 2, 1, 2, 1, 1, Padding::SAME, Act::RELU, false, true, -40, 5},          // multiplier 3
      {1, 9, 10, 8, 8, 1, 1, 1, 1, 1, 1, Padding::SAME, Act::NONE, false, true, 5, 5},           // 1x1
      {1, 4, 3, 16, 16, 9, 9, 1, 1, 1, 1, Padding::SAME, Act::NONE, false, true, -1, 0},         // 81 taps, window > image
      {1, 64, 60, 96, 96, 3, 3, 1, 1, 1, 1, Padding::SAME, Act::RELU6, false, true, 7, -128},    // 2 threads
  };
  for (const ConvCase& c : cases) check_depthwise(c, seed += 5);
}

// ---- FULLY_CONNECTED -------------------------------------------------------------------------

struct FcCase {
  Shape in;
  int units;
  Act act;
  bool per_tensor, bias, keep_num_dims;
  int in_zp, out_zp;
};

void check_fc(const FcCase& c, uint32_t seed, bool weights_as_input = false) {
  SCOPED_TRACE(testing::Message() << "fully connected " << shape_str(c.in) << " -> " << c.units << " act " << int(c.act)
                                  << (c.per_tensor ? " per-tensor" : " per-channel") << (c.bias ? " bias" : "")
                                  << (c.keep_num_dims ? " keep_num_dims" : ""));
  const float in_scale = 0.02f;
  const int depth = c.in.back();
  const int64_t rows = num_elements(c.in) / depth;
  const auto in = random_int8(num_elements(c.in), seed);
  const auto wt = random_int8(size_t(c.units) * depth, seed + 1, -127, 127);
  const auto bias = random_bias(c.units, seed + 2);
  const auto ws = random_scales(c.per_tensor ? 1 : c.units, seed + 3);
  const float out_scale = output_scale_for(in_scale, ws, depth);

  ModelBuilder b;
  const int x = b.input(DType::kInt8, c.in, q8(in_scale, c.in_zp));
  const Shape wshape{c.units, depth};
  const int wi = weights_as_input ? b.input(DType::kInt8, wshape, per_axis(ws, 0))
                                  : b.constant(DType::kInt8, wshape, test::to_bytes(wt), per_axis(ws, 0));
  const int bi = c.bias ? b.constant(DType::kInt32, {c.units}, test::to_bytes(bias)) : kNoTensor;
  Shape out_shape = c.in;
  out_shape.back() = c.units;
  if (!c.keep_num_dims) out_shape = {static_cast<int32_t>(rows), c.units};
  const int y = b.tensor(DType::kInt8, out_shape, q8(out_scale, c.out_zp));
  tflite::FullyConnectedOptionsT o;
  o.fused_activation_function = c.act;
  o.keep_num_dims = c.keep_num_dims;
  b.op(BuiltinOperator::FULLY_CONNECTED, {x, wi, bi}, {y}, o);
  b.output(y);
  std::vector<HostTensor> inputs{host8(c.in, in)};
  if (weights_as_input) inputs.push_back(host8(wshape, wt));

  for (IntegerNumerics mode : kModes) {
    SCOPED_TRACE(mode_name(mode));
    const Requant rq{mode, in_scale, out_scale, c.out_zp, c.act, c.per_tensor};
    std::vector<int8_t> want(size_t(rows) * c.units);
    for (int64_t r = 0; r < rows; ++r)
      for (int u = 0; u < c.units; ++u) {
        int64_t acc = c.bias ? bias[u] : 0;
        for (int k = 0; k < depth; ++k) acc += (int64_t(in[r * depth + k]) - c.in_zp) * wt[size_t(u) * depth + k];
        want[r * c.units + u] = rq(acc, ws[c.per_tensor ? 0 : u]);
      }
    const auto got = run(b, inputs, mode, 1);
    EXPECT_EQ(got[0].shape, out_shape);
    expect_equal(test::from_bytes<int8_t>(got[0].data), want);
    EXPECT_EQ(got[0].data, run(b, inputs, mode, 2)[0].data) << "2 threads differ from 1";
  }
}

TEST(Int8FullyConnected, MatchesNaiveComputation) {
  uint32_t seed = 500;
  const FcCase cases[] = {
      {{1, 64}, 32, Act::RELU, false, true, false, -9, -100},
      {{3, 40}, 20, Act::NONE, true, false, false, 14, 6},            // one weight scale, no bias
      {{1, 4, 5, 24}, 10, Act::RELU6, false, true, true, -2, -30},    // keep_num_dims
      {{2, 3, 4, 16}, 50, Act::NONE, true, true, false, 40, 0},       // flattened 4-D input
      {{2, 1536}, 48, Act::NONE, false, true, false, -1, 12},         // K = 1536
      {{300, 27}, 17, Act::RELU_N1_TO_1, false, true, false, 3, 0},   // K not a multiple of 4, several row tiles
      {{1, 7}, 1, Act::NONE, false, true, false, -128, 127},          // one unit
      {{1, 2048}, 2500, Act::NONE, false, true, false, 3, 3},         // 2 threads: column tiles
      {{100, 500}, 90, Act::RELU, true, true, false, -7, -50},        // 2 threads: row tiles
  };
  for (const FcCase& c : cases) check_fc(c, seed += 5);
}

TEST(Int8FullyConnected, NonConstantWeightsArePackedAtEval) {
  check_fc({{5, 33}, 21, Act::NONE, false, true, false, 2, -3}, 9, /*weights_as_input=*/true);
}

// Accumulators above 2^24, where float(acc) itself rounds: every x - zp is non-negative and
// every weight positive, and a tiny requantization scale keeps the outputs inside int8.
TEST(Int8FullyConnected, HugeAccumulatorsConvertLikeXnnpack) {
  const int depth = 4096, units = 24;
  const float in_scale = 0.02f;
  const auto in = random_int8(depth, 1);
  const auto wt = random_int8(size_t(units) * depth, 2, 0, 127);
  const auto bias = random_bias(units, 3, 1000000);
  const auto ws = random_scales(units, 4);
  const float out_scale = in_scale * 0.012f / 3.0e-6f;
  ModelBuilder b;
  const int x = b.input(DType::kInt8, {1, depth}, q8(in_scale, -128));
  const int wi = b.constant(DType::kInt8, {units, depth}, test::to_bytes(wt), per_axis(ws, 0));
  const int bi = b.constant(DType::kInt32, {units}, test::to_bytes(bias));
  const int y = b.tensor(DType::kInt8, {1, units}, q8(out_scale, -40));
  b.op(BuiltinOperator::FULLY_CONNECTED, {x, wi, bi}, {y}, tflite::FullyConnectedOptionsT{});
  b.output(y);
  int large = 0;
  for (IntegerNumerics mode : kModes) {
    SCOPED_TRACE(mode_name(mode));
    const Requant rq{mode, in_scale, out_scale, -40, Act::NONE};
    std::vector<int8_t> want(units);
    for (int u = 0; u < units; ++u) {
      int64_t acc = bias[u];
      for (int k = 0; k < depth; ++k) acc += (int64_t(in[k]) + 128) * wt[size_t(u) * depth + k];
      large += acc > (1 << 24);
      want[u] = rq(acc, ws[u]);
    }
    expect_equal(test::from_bytes<int8_t>(run(b, {host8({1, depth}, in)}, mode)[0].data), want);
  }
  EXPECT_EQ(large, 2 * units);
}

// ---- TRANSPOSE_CONV --------------------------------------------------------------------------

void check_transpose_conv(int n, int h, int w, int ic, int oc, int kh, int kw, int s, Padding pad, Act act, bool with_bias,
                          int in_zp, uint32_t seed) {
  SCOPED_TRACE(testing::Message() << "transpose conv " << h << "x" << w << "x" << ic << " -> " << oc << " k" << kh << "x" << kw
                                  << " s" << s << " pad " << int(pad));
  const float in_scale = 0.02f;
  const int oh = pad == Padding::SAME ? h * s : (h - 1) * s + kh, ow = pad == Padding::SAME ? w * s : (w - 1) * s + kw;
  const auto in = random_int8(size_t(n) * h * w * ic, seed);
  const auto f = random_int8(size_t(oc) * kh * kw * ic, seed + 1, -127, 127);
  const auto bias = random_bias(oc, seed + 2);
  const auto ws = random_scales(oc, seed + 3);
  const float out_scale = output_scale_for(in_scale, ws, std::max(1, (kh / s) * (kw / s)) * ic);
  const int out_zp = -3;

  ModelBuilder b;
  const int x = b.input(DType::kInt8, {n, h, w, ic}, q8(in_scale, in_zp));
  const int shape = b.constant_i32({4}, {n, oh, ow, oc});
  const int fi = b.constant(DType::kInt8, {oc, kh, kw, ic}, test::to_bytes(f), per_axis(ws, 0));
  const int y = b.tensor(DType::kInt8, {n, oh, ow, oc}, q8(out_scale, out_zp));
  tflite::TransposeConvOptionsT o;
  o.padding = pad, o.stride_h = s, o.stride_w = s;
  o.fused_activation_function = act;
  std::vector<int32_t> op_inputs{shape, fi, x};
  if (with_bias) op_inputs.push_back(b.constant(DType::kInt32, {oc}, test::to_bytes(bias)));
  b.op(BuiltinOperator::TRANSPOSE_CONV, op_inputs, {y}, o);
  b.output(y);
  const std::vector<HostTensor> inputs{host8({n, h, w, ic}, in)};

  // TFLite pads as the forward convolution from the output would.
  const int pt = pad_before(oh, out_size(pad, oh, kh, s, 1), kh, s, 1), pl = pad_before(ow, out_size(pad, ow, kw, s, 1), kw, s, 1);
  std::vector<int64_t> acc(size_t(n) * oh * ow * oc, 0);
  for (int bt = 0; bt < n; ++bt)
    for (int iy = 0; iy < h; ++iy)
      for (int ix = 0; ix < w; ++ix)
        for (int ky = 0; ky < kh; ++ky)
          for (int kx = 0; kx < kw; ++kx) {
            const int oy = iy * s - pt + ky, ox = ix * s - pl + kx;
            if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
            for (int co = 0; co < oc; ++co)
              for (int ci = 0; ci < ic; ++ci)
                acc[((size_t(bt) * oh + oy) * ow + ox) * oc + co] +=
                    (int64_t(in[((size_t(bt) * h + iy) * w + ix) * ic + ci]) - in_zp) * f[((size_t(co) * kh + ky) * kw + kx) * ic + ci];
          }
  for (IntegerNumerics mode : kModes) {
    SCOPED_TRACE(mode_name(mode));
    const Requant rq{mode, in_scale, out_scale, out_zp, act};
    std::vector<int8_t> want(acc.size());
    for (size_t i = 0; i < acc.size(); ++i) want[i] = rq(acc[i] + (with_bias ? bias[i % oc] : 0), ws[i % oc]);
    const auto got = run(b, inputs, mode, 1);
    expect_equal(test::from_bytes<int8_t>(got[0].data), want);
    EXPECT_EQ(got[0].data, run(b, inputs, mode, 2)[0].data) << "2 threads differ from 1";
  }
}

TEST(Int8TransposeConv, MatchesNaiveComputation) {
  check_transpose_conv(1, 5, 6, 8, 6, 2, 2, 2, Padding::VALID, Act::NONE, true, 6, 700);
  check_transpose_conv(1, 6, 5, 12, 10, 3, 3, 2, Padding::SAME, Act::RELU, true, -20, 710);
  check_transpose_conv(2, 4, 4, 5, 3, 4, 4, 2, Padding::SAME, Act::RELU6, false, 0, 720);
  check_transpose_conv(1, 3, 4, 7, 20, 3, 3, 1, Padding::VALID, Act::NONE, true, 1, 730);
}

// ---- where the two numerics differ -----------------------------------------------------------

// RELU6's upper bound lands exactly half-way between two steps (6 / scale + zp = 114.5):
// XNNPACK rounds it to even (114), TFLite's CalculateActivationRangeQuantized away from zero (115).
TEST(Int8Conv2D, Relu6BoundAtHalfStepRoundsPerRuntime) {
  float out_scale = 6.0f / 242.5f;
  while (6.0f / out_scale != 242.5f) out_scale = std::nextafter(out_scale, 1.0f);
  ModelBuilder b;
  const int x = b.input(DType::kInt8, {1, 1, 1, 4}, q8(0.05f, 0));
  const int f = b.constant(DType::kInt8, {2, 1, 1, 4}, test::to_bytes(std::vector<int8_t>(8, 100)), per_axis({0.01f, 0.01f}, 0));
  const int bias = b.constant(DType::kInt32, {2}, test::to_bytes(std::vector<int32_t>{0, 0}));
  const int y = b.tensor(DType::kInt8, {1, 1, 1, 2}, q8(out_scale, -128));
  tflite::Conv2DOptionsT o;
  o.stride_h = o.stride_w = 1;
  o.fused_activation_function = Act::RELU6;
  b.op(BuiltinOperator::CONV_2D, {x, f, bias}, {y}, o);
  b.output(y);
  const std::vector<HostTensor> in{host8({1, 1, 1, 4}, {127, 127, 127, 127})};  // 25.4 real: far above 6
  EXPECT_EQ(test::from_bytes<int8_t>(run(b, in, IntegerNumerics::kXnnpack)[0].data), (std::vector<int8_t>{114, 114}));
  EXPECT_EQ(test::from_bytes<int8_t>(run(b, in, IntegerNumerics::kReference)[0].data), (std::vector<int8_t>{115, 115}));
}

// Accumulators whose scaled values are exact ties: XNNPACK rounds half to even, TFLite's
// fixed-point multiply (shift 0 here, so no RoundingDivideByPOT) half up.
TEST(Int8FullyConnected, TiesRoundPerRuntime) {
  // scale = 0.5 * 0.25 / 0.25 = 0.5 exactly: acc 5 -> 2.5, acc -5 -> -2.5, acc 7 -> 3.5.
  ModelBuilder b;
  const int x = b.input(DType::kInt8, {3, 1}, q8(0.5f, 0));
  const int w = b.constant(DType::kInt8, {1, 1}, test::to_bytes(std::vector<int8_t>{1}), q8(0.25f, 0));
  const int y = b.tensor(DType::kInt8, {3, 1}, q8(0.25f, 0));
  b.op(BuiltinOperator::FULLY_CONNECTED, {x, w, kNoTensor}, {y}, tflite::FullyConnectedOptionsT{});
  b.output(y);
  const std::vector<HostTensor> in{host8({3, 1}, {5, -5, 7})};
  EXPECT_EQ(test::from_bytes<int8_t>(run(b, in, IntegerNumerics::kXnnpack)[0].data), (std::vector<int8_t>{2, -2, 4}));
  EXPECT_EQ(test::from_bytes<int8_t>(run(b, in, IntegerNumerics::kReference)[0].data), (std::vector<int8_t>{3, -2, 4}));
}

// ---- malformed ops -----------------------------------------------------------------------------

template <typename F>
void expect_error(F&& f, const std::string& fragment) {
  try {
    f();
    FAIL() << "expected an error mentioning '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Int8Conv2D, RejectsMalformedQuantization) {
  auto build = [](Quantization wq, DType in_type = DType::kInt8, Act act = Act::NONE) {
    ModelBuilder b;
    const int x = b.input(in_type, {1, 4, 4, 3}, q8(0.1f, 0));
    const int f = b.constant(DType::kInt8, {2, 3, 3, 3}, test::to_bytes(std::vector<int8_t>(54, 1)), wq);
    const int bias = b.constant(DType::kInt32, {2}, test::to_bytes(std::vector<int32_t>{0, 0}));
    const int y = b.tensor(DType::kInt8, {1, 4, 4, 2}, q8(0.1f, 0));
    tflite::Conv2DOptionsT o;
    o.stride_h = o.stride_w = 1;
    o.fused_activation_function = act;
    b.op(BuiltinOperator::CONV_2D, {x, f, bias}, {y}, o);
    b.output(y);
    run(b, {HostTensor::zeros("", in_type, {1, 4, 4, 3})}, IntegerNumerics::kXnnpack);
  };
  Quantization nonzero = per_axis({0.1f, 0.1f}, 0);
  nonzero.zero_point = {0, 3};
  expect_error([&] { build(nonzero); }, "filter zero points must be 0");
  Quantization three = per_axis({0.1f, 0.1f, 0.1f}, 0);
  expect_error([&] { build(three); }, "filter has 3 scales, expected 1 or 2");
  expect_error([&] { build(per_axis({0.1f, 0.1f}, 0), DType::kUInt8); }, "mixes uint8 and int8 quantized tensors");
  expect_error([&] { build(per_axis({0.1f, 0.1f}, 0), DType::kInt8, Act::TANH); }, "TANH");
}

TEST(Int8DepthwiseConv2D, RejectsPerChannelScalesOnTheWrongAxis) {
  ModelBuilder b;
  const int x = b.input(DType::kInt8, {1, 4, 4, 2}, q8(0.1f, 0));
  const int f = b.constant(DType::kInt8, {1, 3, 3, 2}, test::to_bytes(std::vector<int8_t>(18, 1)), per_axis({0.1f, 0.1f}, 0));
  const int y = b.tensor(DType::kInt8, {1, 4, 4, 2}, q8(0.1f, 0));
  tflite::DepthwiseConv2DOptionsT o;
  o.stride_h = o.stride_w = 1;
  b.op(BuiltinOperator::DEPTHWISE_CONV_2D, {x, f, kNoTensor}, {y}, o);
  b.output(y);
  expect_error([&] { run(b, {HostTensor::zeros("", DType::kInt8, {1, 4, 4, 2})}, IntegerNumerics::kXnnpack); },
               "filter is quantized along dimension 0, expected 3");
}

}  // namespace
}  // namespace qcal
