// Int8 kernels: ADD, SUB, MUL, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM, MEAN, SUM, AVERAGE_POOL_2D, MAX_POOL_2D.
//
// Each kernel reproduces, bit for bit, what the runtime computes (IntegerNumerics):
//  * kXnnpack: LiteRT on CPU. Measured against LiteRT (@litertjs/core 2.5.3,
//    tests/interop/op_models/arith_cases.cc), its XNNPACK delegate takes
//      ADD, SUB   when |input scale / output scale| is in [2^-10, 2^8) for both inputs (qs8 vadd)
//      MUL        when input1 * input2 / output scale is in [2^-16, 2^8) (qs8 vmul, fp32)
//      MEAN, SUM  with constant int32 axes (int32 sums, one fp32 conversion)
//      MAX_POOL_2D
//    and runs the rest on TFLite's builtin kernels: SQUARED_DIFFERENCE, MAXIMUM, MINIMUM and
//    AVERAGE_POOL_2D (the delegate takes those for float32 only), and ADD/SUB/MUL outside the
//    scale ranges above.
//  * kReference: TFLite's builtin kernels (fixed-point MultiplyByQuantizedMultiplier).
// Fused activations clamp to bounds that XNNPACK rounds half to even (bound / scale + zp) and
// TFLite half away from zero (zp + round(bound / scale)).
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "gemm.h"
#include "qcal/kernel.h"
#include "quant_util.h"
#include "tiles.h"

namespace qcal {
namespace {

using BOp = tflite::BuiltinOperator;
using Act = tflite::ActivationFunctionType;

// ---- shared helpers -------------------------------------------------------------------------


void check_constant_bytes(const OpContext& ctx, int input, const char* role) {
  const TensorData& t = ctx.in(input);
  if (t.constant && t.bytes < static_cast<size_t>(t.size()) * dtype_size(t.dtype))
    ctx.fail(std::string(role) + " has too little data for its shape " + shape_str(t.shape));
}

bool is_xnnpack(const OpContext& ctx) { return ctx.integer_numerics == IntegerNumerics::kXnnpack; }

int8_t saturate_int8(int32_t v) { return static_cast<int8_t>(std::clamp<int32_t>(v, -128, 127)); }

float bits_to_float(uint32_t b) { return std::bit_cast<float>(b); }
uint32_t float_to_bits(float f) { return std::bit_cast<uint32_t>(f); }


// ---- fused activations -----------------------------------------------------------------------

// The quantized output range [lo, hi] a fused activation clamps to.
struct Bounds {
  int32_t lo = -128, hi = 127;
};

// The real-valued interval of a fused activation; TANH and SIGN_BIT are not clamps and
// neither TFLite's int8 kernels nor XNNPACK accept them.
void activation_interval(const OpContext& ctx, Act act, float& lo, float& hi) {
  lo = -INFINITY, hi = INFINITY;
  switch (act) {
    case Act::NONE: return;
    case Act::RELU: lo = 0.0f; return;
    case Act::RELU6: lo = 0.0f, hi = 6.0f; return;
    case Act::RELU_N1_TO_1: lo = -1.0f, hi = 1.0f; return;
    default: break;
  }
  ctx.fail(std::string("fused activation ") + tflite::EnumNameActivationFunctionType(act) + " is not supported for int8");
}

// TFLite's CalculateActivationRangeQuantized: zp + round(bound / scale), rounding half away
// from zero, intersected with [-128, 127].
Bounds tflite_bounds(const OpContext& ctx, Act act, Quant out) {
  float lo, hi;
  activation_interval(ctx, act, lo, hi);
  auto quantize = [&](float v) { return out.zero_point + static_cast<int32_t>(std::clamp(std::round(v / out.scale), -1e6f, 1e6f)); };
  Bounds b;
  if (std::isfinite(lo)) b.lo = std::max(b.lo, quantize(lo));
  if (std::isfinite(hi)) b.hi = std::min(b.hi, quantize(hi));
  return b;
}

// XNNPACK's xnn_qs8_quantize of the delegate's float output range:
// lrintf(clamp(bound / scale + zp, -128, 127)), rounding half to even.
Bounds xnnpack_bounds(const OpContext& ctx, Act act, Quant out) {
  float lo, hi;
  activation_interval(ctx, act, lo, hi);
  auto quantize = [&](float v) {
    const float q = std::min(std::max(v / out.scale + static_cast<float>(out.zero_point), -128.0f), 127.0f);
    return static_cast<int32_t>(std::nearbyint(q));
  };
  return {quantize(lo), quantize(hi)};
}

Bounds bounds_for(const OpContext& ctx, bool xnnpack, Act act, Quant out) {
  return xnnpack ? xnnpack_bounds(ctx, act, out) : tflite_bounds(ctx, act, out);
}

// ---- broadcasting ----------------------------------------------------------------------------

constexpr int kMaxBroadcastRank = 6;

// How two inputs map onto the output (numpy broadcasting). Adjacent dimensions that broadcast
// alike are merged, so the output is `rows` rows of `inner` elements, and along a row each
// input either runs (stride 1) or repeats one element (stride 0).
struct Broadcast {
  int outer_rank = 0;  // merged dimensions above the row
  std::array<int64_t, kMaxBroadcastRank> dim{}, a_stride{}, b_stride{};
  int64_t inner = 1, rows = 1;
  bool a_runs = true, b_runs = true;

  // Input offsets of the first element of row r.
  void row_offsets(int64_t r, int64_t& a_off, int64_t& b_off) const {
    a_off = b_off = 0;
    for (int k = outer_rank - 1; k >= 0; --k) {
      const int64_t i = r % dim[k];
      r /= dim[k];
      a_off += i * a_stride[k];
      b_off += i * b_stride[k];
    }
  }
};

bool broadcast_shape(const Shape& a, const Shape& b, Shape& out) {
  const size_t r = std::max(a.size(), b.size());
  out.assign(r, 1);
  for (size_t i = 0; i < r; ++i) {
    const int32_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int32_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) return false;
    out[i] = da == 1 ? db : da;
  }
  return true;
}

Broadcast make_broadcast(const Shape& a, const Shape& b, const Shape& out) {
  const size_t r = out.size();
  std::vector<int64_t> dims;
  std::vector<bool> a_full, b_full;
  for (size_t i = 0; i < r; ++i) {
    if (out[i] == 1) continue;
    const int32_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int32_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    const bool fa = da == out[i], fb = db == out[i];
    if (!dims.empty() && a_full.back() == fa && b_full.back() == fb) {
      dims.back() *= out[i];
    } else {
      dims.push_back(out[i]);
      a_full.push_back(fa);
      b_full.push_back(fb);
    }
  }
  Broadcast p;
  if (dims.empty()) return p;  // a single element
  p.inner = dims.back();
  p.a_runs = a_full.back();
  p.b_runs = b_full.back();
  p.outer_rank = static_cast<int>(dims.size()) - 1;
  int64_t sa = p.a_runs ? p.inner : 1, sb = p.b_runs ? p.inner : 1;
  for (int k = p.outer_rank - 1; k >= 0; --k) {
    p.dim[k] = dims[k];
    p.a_stride[k] = a_full[k] ? sa : 0;
    p.b_stride[k] = b_full[k] ? sb : 0;
    if (a_full[k]) sa *= dims[k];
    if (b_full[k]) sb *= dims[k];
    p.rows *= dims[k];
  }
  return p;
}

// The checked inputs and output of an int8 binary op.
struct BinaryIo {
  Quant a, b, out;
  Broadcast plan;
};

BinaryIo prepare_binary(const OpContext& ctx) {
  ctx.expect_io(2, 2, 1);
  BinaryIo io;
  io.a = int8_quant(ctx, ctx.in(0), "input 1");
  io.b = int8_quant(ctx, ctx.in(1), "input 2");
  io.out = int8_quant(ctx, ctx.out(), "the output");
  check_constant_bytes(ctx, 0, "input 1");
  check_constant_bytes(ctx, 1, "input 2");
  Shape shape;
  if (!broadcast_shape(ctx.in(0).shape, ctx.in(1).shape, shape) || static_cast<int>(shape.size()) > kMaxBroadcastRank)
    ctx.fail("inputs " + shape_str(ctx.in(0).shape) + " and " + shape_str(ctx.in(1).shape) + " do not broadcast");
  ctx.expect_shape(ctx.out(), shape, "the output");
  io.plan = make_broadcast(ctx.in(0).shape, ctx.in(1).shape, shape);
  return io;
}

// y = op(a, b) over the broadcast, in fixed row tiles.
template <class Op>
void run_binary(const OpContext& ctx, const Broadcast& p, const Op& op) {
  const int8_t* a = ctx.in(0).as<int8_t>();
  const int8_t* b = ctx.in(1).as<int8_t>();
  int8_t* y = ctx.out().as<int8_t>();
  const int64_t n = p.inner;
  for_tiles(ctx, p.rows, std::max<int64_t>(1, 16384 / n), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t ao, bo;
      p.row_offsets(r, ao, bo);
      const int8_t* __restrict x0 = a + ao;
      const int8_t* __restrict x1 = b + bo;
      int8_t* __restrict o = y + r * n;
      if (p.a_runs && p.b_runs) {
        for (int64_t i = 0; i < n; ++i) o[i] = op(x0[i], x1[i]);
      } else if (p.a_runs) {
        const int32_t v = x1[0];
        for (int64_t i = 0; i < n; ++i) o[i] = op(x0[i], v);
      } else {
        const int32_t v = x0[0];
        for (int64_t i = 0; i < n; ++i) o[i] = op(v, x1[i]);
      }
    }
  });
}

// TFLite's MultiplyByQuantizedMultiplier (double rounding) with the multiplier of `m`.
int32_t fixed_mul(int32_t x, const quant::FixedMultiplier& m) { return quant::multiply_by_quantized_multiplier(x, m); }

// ---- ADD / SUB -------------------------------------------------------------------------------

// XNNPACK's qs8 vadd (SUB is the same kernel with input 2's scale negated): each input is
// scaled by an integer multiplier, the two are summed with the zero points folded into a
// bias, and one arithmetic shift (rounding half up) brings the sum to the output scale.
// The shift gives the larger |input scale / output scale| 21 significant bits.
struct XnnpackAdd {
  int32_t a_mult = 0, b_mult = 0, bias = 0, zero_point = 0;
  int shift = 0;
  Bounds bounds;

  XnnpackAdd(Quant a, Quant b, Quant out, bool subtract, Bounds clamp) : zero_point(out.zero_point), bounds(clamp) {
    const float a_ratio = a.scale / out.scale;
    const float b_ratio = (subtract ? -b.scale : b.scale) / out.scale;
    const float max_abs = std::max(std::fabs(a_ratio), std::fabs(b_ratio));
    shift = 20 - (static_cast<int>(float_to_bits(max_abs) >> 23) - 127);
    // |ratio| * 2^shift (exact: the exponent is incremented), rounded half to even.
    auto multiplier = [&](float ratio) {
      const float scaled = bits_to_float(float_to_bits(std::fabs(ratio)) + (static_cast<uint32_t>(shift) << 23));
      const int32_t m = static_cast<int32_t>(std::nearbyint(scaled));
      return std::signbit(ratio) ? -m : m;
    };
    a_mult = multiplier(a_ratio);
    b_mult = multiplier(b_ratio);
    bias = (int32_t{1} << (shift - 1)) - a_mult * a.zero_point - b_mult * b.zero_point;
  }
  // The delegate only hands XNNPACK ratios |input scale / output scale| in [2^-10, 2^8).
  static bool accepts(Quant a, Quant b, Quant out) {
    auto ok = [&](float s) { const float r = s / out.scale; return r >= 0x1.0p-10f && r < 0x1.0p+8f; };
    return ok(a.scale) && ok(b.scale);
  }
  int8_t operator()(int32_t a, int32_t b) const {
    const int32_t acc = bias + a * a_mult + b * b_mult;
    return static_cast<int8_t>(std::clamp((acc >> shift) + zero_point, bounds.lo, bounds.hi));
  }
};

// TFLite's int8 Add/Sub: both inputs (minus their zero points) are shifted left by 20 and
// rescaled to twice the larger input scale, summed, and rescaled to the output, every step
// with MultiplyByQuantizedMultiplier (multipliers derived in double).
struct TfliteAdd {
  static constexpr int kLeftShift = 20;
  int32_t a_zp = 0, b_zp = 0, out_zp = 0;
  quant::FixedMultiplier a_mult, b_mult, out_mult;
  bool subtract = false;
  Bounds bounds;

  TfliteAdd(Quant a, Quant b, Quant out, bool sub, Bounds clamp)
      : a_zp(a.zero_point), b_zp(b.zero_point), out_zp(out.zero_point), subtract(sub), bounds(clamp) {
    const double twice_max = 2.0 * static_cast<double>(std::max(a.scale, b.scale));
    a_mult = quant::quantize_multiplier(static_cast<double>(a.scale) / twice_max);
    b_mult = quant::quantize_multiplier(static_cast<double>(b.scale) / twice_max);
    out_mult = quant::quantize_multiplier(twice_max / (static_cast<double>(1 << kLeftShift) * static_cast<double>(out.scale)));
  }
  int8_t operator()(int32_t a, int32_t b) const {
    const int32_t sa = fixed_mul((a - a_zp) * (1 << kLeftShift), a_mult);
    const int32_t sb = fixed_mul((b - b_zp) * (1 << kLeftShift), b_mult);
    const int32_t raw = fixed_mul(subtract ? sa - sb : sa + sb, out_mult) + out_zp;
    return static_cast<int8_t>(std::clamp(raw, bounds.lo, bounds.hi));
  }
};

template <bool kSubtract>
class AddSubKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    io_ = prepare_binary(ctx);
    const Act act = kSubtract ? options_of<tflite::SubOptionsT>(*ctx.op).fused_activation_function
                              : options_of<tflite::AddOptionsT>(*ctx.op).fused_activation_function;
    xnnpack_ = is_xnnpack(ctx) && XnnpackAdd::accepts(io_.a, io_.b, io_.out);
    const Bounds bounds = bounds_for(ctx, xnnpack_, act, io_.out);
    if (xnnpack_) xnn_.emplace(io_.a, io_.b, io_.out, kSubtract, bounds);
    else tfl_.emplace(io_.a, io_.b, io_.out, kSubtract, bounds);
  }
  void eval(OpContext& ctx) const override {
    if (xnnpack_) run_binary(ctx, io_.plan, *xnn_);
    else run_binary(ctx, io_.plan, *tfl_);
  }

 private:
  BinaryIo io_;
  bool xnnpack_ = false;
  std::optional<XnnpackAdd> xnn_;
  std::optional<TfliteAdd> tfl_;
};

// ---- MUL -------------------------------------------------------------------------------------

// XNNPACK's qs8 vmul: (a - a_zp) * (b - b_zp) requantized in fp32 with the float scale
// a_scale * b_scale / out_scale (round half to even).
struct XnnpackMul {
  int32_t a_zp, b_zp, out_zp;
  float scale;
  Bounds bounds;
  XnnpackMul(Quant a, Quant b, Quant out, Bounds clamp)
      : a_zp(a.zero_point), b_zp(b.zero_point), out_zp(out.zero_point), scale(a.scale * b.scale / out.scale), bounds(clamp) {}
  // The delegate only hands XNNPACK product/output scale ratios in [2^-16, 2^8).
  static bool accepts(Quant a, Quant b, Quant out) {
    const float r = a.scale * b.scale / out.scale;
    return r >= 0x1.0p-16f && r < 0x1.0p+8f;
  }
  int8_t operator()(int32_t a, int32_t b) const {
    return static_cast<int8_t>(quant::requantize_fp32((a - a_zp) * (b - b_zp), scale, out_zp, bounds.lo, bounds.hi));
  }
};

// TFLite's int8 Mul: the product of the zero-point-free inputs, MultiplyByQuantizedMultiplier
// by a_scale * b_scale / out_scale (computed in float, then quantized as a double).
struct TfliteMul {
  int32_t a_zp, b_zp, out_zp;
  quant::FixedMultiplier mult;
  Bounds bounds;
  TfliteMul(Quant a, Quant b, Quant out, Bounds clamp)
      : a_zp(a.zero_point), b_zp(b.zero_point), out_zp(out.zero_point),
        mult(quant::quantize_multiplier(static_cast<double>(a.scale * b.scale / out.scale))), bounds(clamp) {}
  int8_t operator()(int32_t a, int32_t b) const {
    return static_cast<int8_t>(std::clamp(out_zp + fixed_mul((a - a_zp) * (b - b_zp), mult), bounds.lo, bounds.hi));
  }
};

class MulKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    io_ = prepare_binary(ctx);
    const Act act = options_of<tflite::MulOptionsT>(*ctx.op).fused_activation_function;
    xnnpack_ = is_xnnpack(ctx) && XnnpackMul::accepts(io_.a, io_.b, io_.out);
    const Bounds bounds = bounds_for(ctx, xnnpack_, act, io_.out);
    if (xnnpack_) xnn_.emplace(io_.a, io_.b, io_.out, bounds);
    else tfl_.emplace(io_.a, io_.b, io_.out, bounds);
  }
  void eval(OpContext& ctx) const override {
    if (xnnpack_) run_binary(ctx, io_.plan, *xnn_);
    else run_binary(ctx, io_.plan, *tfl_);
  }

 private:
  BinaryIo io_;
  bool xnnpack_ = false;
  std::optional<XnnpackMul> xnn_;
  std::optional<TfliteMul> tfl_;
};

// ---- SQUARED_DIFFERENCE ----------------------------------------------------------------------

// TFLite's int8 SquaredDifference (LiteRT's XNNPACK delegate takes only float32, so both
// modes run it): inputs shifted left by 7 and rescaled to twice the larger input scale, the
// difference squared, rescaled to the output; all MultiplyByQuantizedMultiplier.
struct TfliteSquaredDifference {
  static constexpr int kLeftShift = 7;
  int32_t a_zp, b_zp, out_zp;
  quant::FixedMultiplier a_mult, b_mult, out_mult;
  TfliteSquaredDifference(Quant a, Quant b, Quant out) : a_zp(a.zero_point), b_zp(b.zero_point), out_zp(out.zero_point) {
    const double twice_max = 2.0 * static_cast<double>(std::max(a.scale, b.scale));
    a_mult = quant::quantize_multiplier(static_cast<double>(a.scale) / twice_max);
    b_mult = quant::quantize_multiplier(static_cast<double>(b.scale) / twice_max);
    out_mult = quant::quantize_multiplier(twice_max * twice_max /
                                          (static_cast<double>(1 << (2 * kLeftShift)) * static_cast<double>(out.scale)));
  }
  int8_t operator()(int32_t a, int32_t b) const {
    const int32_t sa = fixed_mul((a - a_zp) * (1 << kLeftShift), a_mult);
    const int32_t sb = fixed_mul((b - b_zp) * (1 << kLeftShift), b_mult);
    const int32_t d = sa - sb;  // |d| <= 255 * 2^6: the square fits in int32
    return saturate_int8(fixed_mul(d * d, out_mult) + out_zp);
  }
};

class SquaredDifferenceKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    io_ = prepare_binary(ctx);
    op_.emplace(io_.a, io_.b, io_.out);
  }
  void eval(OpContext& ctx) const override { run_binary(ctx, io_.plan, *op_); }

 private:
  BinaryIo io_;
  std::optional<TfliteSquaredDifference> op_;
};

// ---- MAXIMUM / MINIMUM -----------------------------------------------------------------------

// TFLite's int8 Maximum/Minimum (the delegate takes only float32): the larger/smaller raw
// code, whatever the quantization (the converter gives inputs and output one scale).
template <bool kMax>
struct PickCode {
  int8_t operator()(int32_t a, int32_t b) const { return static_cast<int8_t>(kMax ? std::max(a, b) : std::min(a, b)); }
};

template <bool kMax>
class MinMaxKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override { io_ = prepare_binary(ctx); }
  void eval(OpContext& ctx) const override { run_binary(ctx, io_.plan, PickCode<kMax>{}); }

 private:
  BinaryIo io_;
};

// ---- MEAN / SUM ------------------------------------------------------------------------------

// The int32 sums of the raw input codes over the reduced axes, one per output element, in
// output order (exact, so the summation order does not matter).
struct ReduceGeometry {
  Shape in_shape;
  std::vector<bool> reduced;
  std::vector<int> axes;        // normalized, ascending, unique
  int64_t count = 1;            // input elements per output element
  int64_t out_size = 1;
  std::vector<int64_t> out_stride;  // per input dimension, 0 where reduced

  void sums(const int8_t* x, int32_t* acc) const {
    std::fill(acc, acc + out_size, 0);
    const int rank = static_cast<int>(in_shape.size());
    if (rank == 0) {
      acc[0] = x[0];
      return;
    }
    const int64_t inner = in_shape[rank - 1];
    const int64_t inner_stride = out_stride[rank - 1];
    const int64_t rows = inner > 0 ? num_elements(in_shape) / inner : 0;
    std::vector<int64_t> idx(rank, 0);
    int64_t off = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const int8_t* row = x + r * inner;
      if (inner_stride == 0) {
        int32_t s = 0;
        for (int64_t i = 0; i < inner; ++i) s += row[i];
        acc[off] += s;
      } else {
        for (int64_t i = 0; i < inner; ++i) acc[off + i] += row[i];
      }
      for (int k = rank - 2; k >= 0; --k) {  // odometer over the outer dimensions
        off += out_stride[k];
        if (++idx[k] < in_shape[k]) break;
        off -= out_stride[k] * in_shape[k];
        idx[k] = 0;
      }
    }
  }
};

ReduceGeometry reduce_geometry(const OpContext& ctx) {
  ctx.expect_io(2, 2, 1);
  check_constant_bytes(ctx, 0, "the input");
  const TensorData& in = ctx.in(0);
  ReduceGeometry g;
  g.in_shape = in.shape;
  const int rank = in.rank();
  g.reduced.assign(rank, false);
  // An empty axis list has no data, so the file cannot mark it constant.
  const TensorData& axis = ctx.in(1);
  if (axis.size() > 0) ctx.expect_constant(1, "the axis");
  if (axis.dtype != DType::kInt32 && axis.dtype != DType::kInt64)
    ctx.fail(std::string("the axis must be int32 or int64, is ") + dtype_name(axis.dtype));
  check_constant_bytes(ctx, 1, "the axis");
  for (int64_t i = 0; i < axis.size(); ++i) {
    const int64_t a = axis.dtype == DType::kInt32 ? axis.as<int32_t>()[i] : axis.as<int64_t>()[i];
    if (a < -rank || a >= rank) ctx.fail("axis " + std::to_string(a) + " is out of range for a rank-" + std::to_string(rank) + " input");
    g.reduced[a < 0 ? a + rank : a] = true;
  }
  for (int d = 0; d < rank; ++d)
    if (g.reduced[d]) g.axes.push_back(d), g.count *= in.shape[d];
  const bool keep_dims = options_of<tflite::ReducerOptionsT>(*ctx.op).keep_dims;
  Shape want;
  for (int d = 0; d < rank; ++d) {
    if (!g.reduced[d]) want.push_back(in.shape[d]);
    else if (keep_dims) want.push_back(1);
  }
  auto squeeze = [](const Shape& s) {
    Shape r;
    for (int32_t d : s)
      if (d != 1) r.push_back(d);
    return r;
  };
  if (ctx.out().shape != want && squeeze(ctx.out().shape) != squeeze(want))
    ctx.fail("the output has shape " + shape_str(ctx.out().shape) + ", expected " + shape_str(want));
  if (in.size() == 0 || g.count == 0) ctx.fail("empty input " + shape_str(in.shape));
  if (g.count > (int64_t{1} << 23)) ctx.fail("too many elements per output for an int32 sum");
  g.out_size = ctx.out().size();
  g.out_stride.assign(rank, 0);
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    if (g.reduced[d]) continue;
    g.out_stride[d] = stride;
    stride *= in.shape[d];
  }
  return g;
}

// How the sum s of `count` input codes becomes an output code.
enum class Finish {
  kXnnpack,     // XNNPACK's qs8 reduce: rne(float(s) * scale + (zp_out - count * zp_in * scale))
  kTfliteHW,    // TFLite's optimized_integer_ops::Mean (4D input, axes {1, 2}, keep_dims)
  kTfliteFixed, // TFLite's reference_ops::QuantizedMeanOrSum (its other MEANs): fixed point
  kTfliteFloat  // TFLite's optimized_ops::QuantizedMeanOrSum (its SUM): float, half away
};

// MEAN and SUM. LiteRT's delegate hands every int8 MEAN/SUM with constant int32 axes (at
// least one) to XNNPACK, which sums the raw codes exactly in int32, then converts once in fp32:
// the raw sum times a float scale (in/out, and for MEAN times 1/count, as two float multiplies
// folded in that order), plus one float bias that carries both zero points
// (zp_out - count * zp_in * scale), rounded half to even. Subtracting the input zero point in
// int32 first is the same number but not the same fp32 rounding: near a tie it lands on the
// other side (selfie_segmentation's and segm_full_v679's global pools, one LSB, measured
// against LiteRT); so does adding the output zero point after rounding when it is odd.
template <bool kMean>
class ReduceKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    g_ = reduce_geometry(ctx);
    in_ = int8_quant(ctx, ctx.in(0), "the input");
    out_ = int8_quant(ctx, ctx.out(), "the output");
    const bool keep_dims = options_of<tflite::ReducerOptionsT>(*ctx.op).keep_dims;
    if (is_xnnpack(ctx) && ctx.in(1).dtype == DType::kInt32 && ctx.in(1).size() > 0) {
      finish_ = Finish::kXnnpack;
      scale_ = in_.scale / out_.scale;
      if (kMean) scale_ *= 1.0f / static_cast<float>(g_.count);
      const float zp_sum = static_cast<float>(static_cast<int64_t>(g_.count) * in_.zero_point);
      float_bias_ = static_cast<float>(out_.zero_point) - zp_sum * scale_;
      return;
    }
    if (kMean && keep_dims && g_.in_shape.size() == 4 && g_.axes == std::vector<int>{1, 2}) {
      // The sum of raw codes times in / (count * out) (float, then fixed point), plus a bias
      // that carries both zero points, rounded half away from zero in float.
      finish_ = Finish::kTfliteHW;
      float temp = static_cast<float>(in_.zero_point) * in_.scale / out_.scale;
      temp = temp > 0 ? temp + 0.5f : temp - 0.5f;
      bias_ = out_.zero_point - static_cast<int32_t>(temp);
      mult_ = quant::quantize_multiplier(in_.scale / (static_cast<float>(g_.count) * out_.scale));
      return;
    }
    if (!kMean) {
      // round(float(s) * in/out + bias), the zero points as a float bias.
      finish_ = Finish::kTfliteFloat;
      scale_ = in_.scale / out_.scale;
      float_bias_ = static_cast<float>(-in_.zero_point) * scale_ * static_cast<float>(g_.count);
      return;
    }
    // The zero-point-free sum times in/out (a double), with 1/count folded into the multiplier
    // in integer arithmetic: multiplier * 2^k / count with k = floor(log2(count)).
    finish_ = Finish::kTfliteFixed;
    mult_ = quant::quantize_multiplier(static_cast<double>(in_.scale) / static_cast<double>(out_.scale));
    int shift = 63 - std::countl_zero(static_cast<uint64_t>(g_.count));
    shift = std::min({shift, 32, 31 + mult_.shift});
    mult_.multiplier = static_cast<int32_t>((static_cast<int64_t>(mult_.multiplier) << shift) / g_.count);
    mult_.shift -= shift;
  }

  void eval(OpContext& ctx) const override {
    std::vector<int32_t> sums(static_cast<size_t>(g_.out_size));
    g_.sums(ctx.in(0).as<int8_t>(), sums.data());
    int8_t* y = ctx.out().as<int8_t>();
    const int32_t zp_sum = static_cast<int32_t>(g_.count) * in_.zero_point;
    for (int64_t i = 0; i < g_.out_size; ++i) {
      const int32_t s = sums[i];
      switch (finish_) {
        case Finish::kXnnpack: {
          const float v = static_cast<float>(s) * scale_ + float_bias_;
          y[i] = static_cast<int8_t>(std::nearbyint(std::clamp(v, -128.0f, 127.0f)));
          break;
        }
        case Finish::kTfliteHW: y[i] = saturate_int8(fixed_mul(s, mult_) + bias_); break;
        case Finish::kTfliteFixed: y[i] = saturate_int8(fixed_mul(s - zp_sum, mult_) + out_.zero_point); break;
        case Finish::kTfliteFloat: {
          const float r = std::clamp(std::round(static_cast<float>(s) * scale_ + float_bias_), -1e6f, 1e6f);
          y[i] = saturate_int8(static_cast<int32_t>(r) + out_.zero_point);
          break;
        }
      }
    }
  }

 private:
  ReduceGeometry g_;
  Quant in_, out_;
  Finish finish_ = Finish::kXnnpack;
  float scale_ = 0.0f, float_bias_ = 0.0f;
  quant::FixedMultiplier mult_;
  int32_t bias_ = 0;
};

// ---- AVERAGE_POOL_2D / MAX_POOL_2D -----------------------------------------------------------

using PoolGeometry = kernels::PoolWindow;

class Pool2DKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(1, 1, 1);
    const TensorData& in = ctx.in(0);
    const Quant qin = int8_quant(ctx, in, "the input");
    const Quant qout = int8_quant(ctx, ctx.out(), "the output");
    check_constant_bytes(ctx, 0, "the input");
    ctx.expect_rank(in, 4, "the input");
    if (in.size() == 0) ctx.fail("empty input " + shape_str(in.shape));
    const auto& o = options_of<tflite::Pool2DOptionsT>(*ctx.op);
    g_ = kernels::pool_window(ctx, in, o.padding, o.stride_w, o.stride_h, o.filter_width, o.filter_height);
    const PoolGeometry& g = g_;
    ctx.expect_shape(ctx.out(), {g.batch, g.oh, g.ow, g.c}, "the output");
    // The delegate leaves pools whose stride exceeds the filter (1x1 included) to TFLite.
    const bool delegated = o.stride_w <= o.filter_width && o.stride_h <= o.filter_height;
    configure(ctx, qin, qout, o.fused_activation_function, is_xnnpack(ctx) && delegated);
  }

  void eval(OpContext& ctx) const override {
    const PoolGeometry& g = g_;
    const int8_t* in = ctx.in(0).as<int8_t>();
    int8_t* out = ctx.out().as<int8_t>();
    const int64_t out_rows = static_cast<int64_t>(g.batch) * g.oh;
    for_tiles(ctx, out_rows, 4, [&](int64_t r0, int64_t r1) {
      std::vector<int32_t> acc(static_cast<size_t>(g.c));
      for (int64_t r = r0; r < r1; ++r) {
        const int b = static_cast<int>(r / g.oh), oy = static_cast<int>(r % g.oh);
        const int8_t* img = in + static_cast<int64_t>(b) * g.ih * g.iw * g.c;
        for (int ox = 0; ox < g.ow; ++ox) {
          int y0, y1, x0, x1;
          g.window(oy, ox, y0, y1, x0, x1);
          pixel(img, y0, y1, x0, x1, acc.data(), out + ((r * g.ow) + ox) * g.c);
        }
      }
    });
  }

 protected:
  virtual void configure(const OpContext& ctx, Quant in, Quant out, Act act, bool xnnpack) = 0;
  // Pools the window [y0, y1) x [x0, x1) of one image into o[0..c).
  virtual void pixel(const int8_t* img, int y0, int y1, int x0, int x1, int32_t* acc, int8_t* o) const = 0;
  PoolGeometry g_;
  Bounds bounds_;
};

// TFLite's int8 AveragePool (LiteRT's XNNPACK delegate takes only float32): the sum of the
// raw codes in the clipped window divided by their count, rounding half away from zero,
// then clamped to the activation range. No rescaling: input and output share one scale.
// A pool lowered from uint8 keeps uint8's rounding, half up: in codes shifted by -128 that is
// floor((sum + count / 2) / count), since 128 * count divides evenly.
class AveragePoolKernel final : public Pool2DKernel {
  void configure(const OpContext& ctx, Quant, Quant out, Act act, bool) override {
    bounds_ = tflite_bounds(ctx, act, out);
    half_up_ = ctx.op->legacy_uint8;
  }
  bool half_up_ = false;
  void pixel(const int8_t* img, int y0, int y1, int x0, int x1, int32_t* acc, int8_t* o) const override {
    const int c = g_.c;
    std::fill(acc, acc + c, 0);
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        const int8_t* p = img + (static_cast<int64_t>(y) * g_.iw + x) * c;
        for (int ch = 0; ch < c; ++ch) acc[ch] += p[ch];
      }
    const int32_t count = (y1 - y0) * (x1 - x0);
    for (int ch = 0; ch < c; ++ch) {
      const int32_t a = acc[ch];
      int32_t avg;
      if (half_up_) {
        const int32_t n = a + count / 2;
        avg = n / count - (n % count < 0 ? 1 : 0);  // floor division
      } else {
        avg = a > 0 ? (a + count / 2) / count : (a - count / 2) / count;
      }
      o[ch] = static_cast<int8_t>(std::clamp(avg, bounds_.lo, bounds_.hi));
    }
  }
};

// Max pooling: the largest raw code in the clipped window, clamped to the activation range
// (XNNPACK and TFLite agree except in how they round the range's bounds).
class MaxPoolKernel final : public Pool2DKernel {
  void configure(const OpContext& ctx, Quant, Quant out, Act act, bool xnnpack) override {
    bounds_ = bounds_for(ctx, xnnpack, act, out);
  }
  void pixel(const int8_t* img, int y0, int y1, int x0, int x1, int32_t* acc, int8_t* o) const override {
    const int c = g_.c;
    std::fill(acc, acc + c, -128);
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        const int8_t* p = img + (static_cast<int64_t>(y) * g_.iw + x) * c;
        for (int ch = 0; ch < c; ++ch) acc[ch] = std::max<int32_t>(acc[ch], p[ch]);
      }
    for (int ch = 0; ch < c; ++ch) o[ch] = static_cast<int8_t>(std::clamp(acc[ch], bounds_.lo, bounds_.hi));
  }
};

}  // namespace

void register_int8_arith_kernels(KernelRegistry& r) {
  r.add_builtin(BOp::ADD, make_factory<AddSubKernel<false>>(), Numerics::kInt8);
  r.add_builtin(BOp::SUB, make_factory<AddSubKernel<true>>(), Numerics::kInt8);
  r.add_builtin(BOp::MUL, make_factory<MulKernel>(), Numerics::kInt8);
  r.add_builtin(BOp::SQUARED_DIFFERENCE, make_factory<SquaredDifferenceKernel>(), Numerics::kInt8);
  r.add_builtin(BOp::MAXIMUM, make_factory<MinMaxKernel<true>>(), Numerics::kInt8);
  r.add_builtin(BOp::MINIMUM, make_factory<MinMaxKernel<false>>(), Numerics::kInt8);
  r.add_builtin(BOp::MEAN, make_factory<ReduceKernel<true>>(), Numerics::kInt8);
  r.add_builtin(BOp::SUM, make_factory<ReduceKernel<false>>(), Numerics::kInt8);
  r.add_builtin(BOp::AVERAGE_POOL_2D, make_factory<AveragePoolKernel>(), Numerics::kInt8);
  r.add_builtin(BOp::MAX_POOL_2D, make_factory<MaxPoolKernel>(), Numerics::kInt8);
}

}  // namespace qcal
