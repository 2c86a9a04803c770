// Type conversions: CAST, DEQUANTIZE and QUANTIZE. These sit between the float and integer
// worlds, so the executor always takes them from the float table, whatever the dtypes.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "qcal/kernel.h"

namespace qcal {
namespace {

using tflite::BuiltinOperator;

void check_constant_bytes(const OpContext& ctx, int input, const char* role) {
  const TensorData& t = ctx.in(input);
  if (t.constant && t.bytes != static_cast<size_t>(t.size()) * dtype_size(t.dtype))
    ctx.fail(std::string(role) + " holds " + std::to_string(t.bytes) + " bytes, expected " +
             std::to_string(t.size() * dtype_size(t.dtype)));
}

bool is_quantized_type(DType t) { return t == DType::kInt8 || t == DType::kUInt8 || t == DType::kInt16; }

template <typename T>
constexpr int32_t qmin() { return std::numeric_limits<T>::min(); }
template <typename T>
constexpr int32_t qmax() { return std::numeric_limits<T>::max(); }

// Calls f(T{}) with the storage type of a quantized integer dtype.
template <class F>
void visit_quantized(DType t, F&& f) {
  switch (t) {
    case DType::kInt8: return f(int8_t{});
    case DType::kUInt8: return f(uint8_t{});
    case DType::kInt16: return f(int16_t{});
    default: return;
  }
}

// Where per-axis parameters apply: [outer, channels, inner] around the quantized dimension.
struct AxisLayout {
  int64_t outer = 1, channels = 1, inner = 1;
};
AxisLayout axis_layout(const Shape& shape, int axis) {
  AxisLayout l;
  for (int i = 0; i < axis; ++i) l.outer *= shape[i];
  l.channels = shape[axis];
  for (size_t i = axis + 1; i < shape.size(); ++i) l.inner *= shape[i];
  return l;
}

// Scales and zero points of a quantized tensor, one per channel (or one for the tensor),
// checked against its shape.
struct QuantParams {
  std::vector<float> scale;
  std::vector<int32_t> zero_point;
  bool per_axis = false;
  AxisLayout layout;
};
QuantParams quant_params(const OpContext& ctx, const TensorData& t, const char* role, bool allow_per_axis) {
  if (!t.quant || !t.quant->has_scale()) ctx.fail(std::string(role) + " (" + dtype_name(t.dtype) + ") has no quantization parameters");
  const Quantization& q = *t.quant;
  QuantParams p;
  p.scale = q.scale;
  const size_t n = q.scale.size();
  if (!q.zero_point.empty() && q.zero_point.size() != n && q.zero_point.size() != 1)
    ctx.fail(std::string(role) + " has " + std::to_string(n) + " scales but " + std::to_string(q.zero_point.size()) + " zero points");
  for (size_t i = 0; i < n; ++i) {
    const int64_t zp = q.zero_point.empty() ? 0 : q.zero_point[q.zero_point.size() == 1 ? 0 : i];
    if (zp < std::numeric_limits<int32_t>::min() || zp > std::numeric_limits<int32_t>::max())
      ctx.fail(std::string(role) + " has zero point " + std::to_string(zp) + " out of range");
    p.zero_point.push_back(static_cast<int32_t>(zp));
  }
  if (n > 1) {
    if (!allow_per_axis) ctx.fail(std::string(role) + " must be quantized per tensor, has " + std::to_string(n) + " scales");
    const int axis = q.quantized_dimension;
    if (axis < 0 || axis >= t.rank() || t.shape[axis] != static_cast<int32_t>(n))
      ctx.fail(std::string(role) + " has " + std::to_string(n) + " per-axis scales along dimension " + std::to_string(axis) +
               ", which does not match its shape " + shape_str(t.shape));
    p.per_axis = true;
    p.layout = axis_layout(t.shape, axis);
  } else {
    p.layout.outer = 1;
    p.layout.channels = 1;
    p.layout.inner = t.size();
  }
  return p;
}

// ---- DEQUANTIZE ---------------------------------------------------------------------------

// float16 -> float32 (exact), or int8/uint8/int16 -> float32 as scale * (q - zero_point)
// per tensor or per channel. The float product of two exact operands is the correctly
// rounded value TFLite's double computation rounds to.
class DequantizeKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(1, 1, 1);
    const TensorData& in = ctx.in(0);
    ctx.expect_dtype(ctx.out(), DType::kFloat32, "the output");
    ctx.expect_shape(ctx.out(), in.shape, "the output");
    check_constant_bytes(ctx, 0, "the input");
    if (in.dtype == DType::kFloat16) return;
    if (!is_quantized_type(in.dtype))
      ctx.fail(std::string("the input must be float16, int8, uint8 or int16, is ") + dtype_name(in.dtype));
    params_ = quant_params(ctx, in, "the input", true);
  }
  void eval(OpContext& ctx) const override {
    const TensorData& in = ctx.in(0);
    float* out = ctx.out().as<float>();
    if (in.dtype == DType::kFloat16) {
      const Eigen::half* x = in.as<Eigen::half>();
      const int64_t n = in.size();
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(x[i]);
      return;
    }
    visit_quantized(in.dtype, [&](auto tag) {
      using T = decltype(tag);
      const T* x = in.as<T>();
      const AxisLayout& l = params_.layout;
      for (int64_t o = 0; o < l.outer; ++o) {
        for (int64_t c = 0; c < l.channels; ++c) {
          const float scale = params_.scale[c];
          const int32_t zp = params_.zero_point[c];
          const int64_t base = (o * l.channels + c) * l.inner;
          for (int64_t i = 0; i < l.inner; ++i) out[base + i] = static_cast<float>(int32_t{x[base + i]} - zp) * scale;
        }
      }
    });
  }

 private:
  QuantParams params_;
};

// ---- QUANTIZE -----------------------------------------------------------------------------

// TFLite's fixed-point rescaling (QuantizeMultiplier / MultiplyByQuantizedMultiplier with
// its default double rounding), used to requantize between integer types.
struct FixedMultiplier {
  int32_t multiplier = 0;
  int shift = 0;  // > 0: left shift
};
FixedMultiplier quantize_multiplier(double m) {
  FixedMultiplier f;
  if (m == 0.0) return f;
  const double q = std::frexp(m, &f.shift);
  int64_t q_fixed = static_cast<int64_t>(std::round(q * (1ll << 31)));
  if (q_fixed == (1ll << 31)) {
    q_fixed /= 2;
    ++f.shift;
  }
  if (f.shift < -31) {
    f.shift = 0;
    q_fixed = 0;
  }
  if (f.shift > 30) {
    f.shift = 30;
    q_fixed = (1ll << 31) - 1;
  }
  f.multiplier = static_cast<int32_t>(q_fixed);
  return f;
}
int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  if (a == b && a == std::numeric_limits<int32_t>::min()) return std::numeric_limits<int32_t>::max();
  const int64_t ab = int64_t{a} * b;
  const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return static_cast<int32_t>((ab + nudge) / (1ll << 31));
}
int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((1ll << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}
int32_t multiply_by_quantized_multiplier(int32_t x, FixedMultiplier m) {
  const int left = m.shift > 0 ? m.shift : 0, right = m.shift > 0 ? 0 : -m.shift;
  // TFLite multiplies in int32 (overflow is undefined there); saturate instead.
  const int64_t shifted = std::clamp<int64_t>(int64_t{x} * (int64_t{1} << left), std::numeric_limits<int32_t>::min(),
                                              std::numeric_limits<int32_t>::max());
  return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(static_cast<int32_t>(shifted), m.multiplier), right);
}

// Round half away from zero (TfLiteRound = std::round), written so it vectorizes.
inline float round_half_away(float v) {
  const float t = std::trunc(v);
  const float d = v - t;  // exact
  return t + (d >= 0.5f ? 1.0f : 0.0f) - (d <= -0.5f ? 1.0f : 0.0f);
}

// Two runtimes, picked by OpContext::integer_numerics:
//  * TFLite's builtin kernel (kReference, and what LiteRT runs for what its XNNPACK delegate
//    rejects): float32 -> int8/uint8/int16 as q = clamp(round(x / scale) + zero_point), half
//    away from zero, per tensor or per channel (AffineQuantize / PerChannelQuantize);
//    int8/uint8/int16 -> int8/uint8/int16 with the fixed-point Requantize (multiplier
//    input_scale / output_scale).
//  * XNNPACK (kXnnpack), which LiteRT's delegate uses for float32 -> per-tensor int8/uint8,
//    and for int8 -> int8 / uint8 -> uint8 when input_scale / output_scale is in
//    [1/256, 128]: see xnnpack_quantize() and xnnpack_requantize().
class QuantizeKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(1, 1, 1);
    const TensorData& in = ctx.in(0);
    const TensorData& out = ctx.out();
    ctx.expect_shape(out, in.shape, "the output");
    check_constant_bytes(ctx, 0, "the input");
    if (!is_quantized_type(out.dtype))
      ctx.fail(std::string("the output must be int8, uint8 or int16, is ") + dtype_name(out.dtype));
    const bool xnnpack_out = ctx.integer_numerics == IntegerNumerics::kXnnpack &&
                             (out.dtype == DType::kInt8 || out.dtype == DType::kUInt8);
    auto per_tensor_in_range = [&](const QuantParams& p) {
      return !p.per_axis && p.zero_point[0] >= (out.dtype == DType::kInt8 ? -128 : 0) &&
             p.zero_point[0] <= (out.dtype == DType::kInt8 ? 127 : 255);
    };
    if (in.dtype == DType::kFloat32) {
      out_ = quant_params(ctx, out, "the output", true);
      xnnpack_ = xnnpack_out && per_tensor_in_range(out_);
    } else if (is_quantized_type(in.dtype)) {
      in_ = quant_params(ctx, in, "the input", false);
      out_ = quant_params(ctx, out, "the output", false);
      if (!(out_.scale[0] > 0.0f)) ctx.fail("the output scale must be positive");
      requant_ = quantize_multiplier(static_cast<double>(in_.scale[0]) / static_cast<double>(out_.scale[0]));
      const float ratio = in_.scale[0] / out_.scale[0];
      xnnpack_ = xnnpack_out && in.dtype == out.dtype && per_tensor_in_range(in_) && per_tensor_in_range(out_) &&
                 ratio >= 1.0f / 256.0f && ratio <= 128.0f;
      if (xnnpack_) cvt_multiplier_ = static_cast<int32_t>(std::lrint(256.0f * ratio));
      return;
    } else {
      ctx.fail(std::string("the input must be float32, int8, uint8 or int16, is ") + dtype_name(in.dtype));
    }
    for (float s : out_.scale)
      if (!(s > 0.0f)) ctx.fail("the output scale must be positive, is " + std::to_string(s));
    if (xnnpack_) inv_scale_ = 1.0f / out_.scale[0];
  }
  void eval(OpContext& ctx) const override {
    const TensorData& in = ctx.in(0);
    TensorData& out = ctx.out();
    visit_quantized(out.dtype, [&](auto out_tag) {
      using O = decltype(out_tag);
      if (in.dtype == DType::kFloat32) {
        if (xnnpack_) xnnpack_quantize(in.as<float>(), out.as<O>(), in.size());
        else quantize(in.as<float>(), out.as<O>());
      } else if (xnnpack_) {
        xnnpack_requantize(in.as<O>(), out.as<O>(), in.size());
      } else {
        visit_quantized(in.dtype, [&](auto in_tag) { requantize(in.as<decltype(in_tag)>(), out.as<O>(), in.size()); });
      }
    });
  }

 private:
  template <typename O>
  void quantize(const float* x, O* y) const {
    const AxisLayout& l = out_.layout;
    for (int64_t o = 0; o < l.outer; ++o) {
      for (int64_t c = 0; c < l.channels; ++c) {
        const float scale = out_.scale[c];
        const int32_t zp = out_.zero_point[c];
        // Clamp in float (before converting) so out-of-range and NaN inputs are defined.
        const float lo = static_cast<float>(int64_t{qmin<O>()} - zp), hi = static_cast<float>(int64_t{qmax<O>()} - zp);
        const int64_t base = (o * l.channels + c) * l.inner;
        for (int64_t i = 0; i < l.inner; ++i) {
          float r = round_half_away(x[base + i] / scale);
          r = r > lo ? r : lo;
          r = r < hi ? r : hi;
          y[base + i] = static_cast<O>(static_cast<int32_t>(r) + zp);
        }
      }
    }
  }
  // XNNPACK's f32 -> qs8/qu8 convert: x times the float reciprocal of the scale, rounded half
  // to even, plus the zero point, saturated; NaN becomes the largest code (its magic-bias
  // rounding reads NaN's bits as a large integer). Measured against LiteRT, ties included.
  template <typename O>
  void xnnpack_quantize(const float* x, O* y, int64_t n) const {
    const int32_t zp = out_.zero_point[0];
    const float lo = static_cast<float>(qmin<O>() - zp), hi = static_cast<float>(qmax<O>() - zp);
    for (int64_t i = 0; i < n; ++i) {
      const float t = x[i] * inv_scale_;
      y[i] = std::isnan(t) ? static_cast<O>(qmax<O>()) : static_cast<O>(static_cast<int32_t>(std::nearbyint(std::clamp(t, lo, hi))) + zp);
    }
  }
  // XNNPACK's qs8/qu8 convert: the ratio of the scales as an 8-bit fractional multiplier
  // (lrintf(256 * in/out)), one rounding shift (half up), plus the zero point, saturated.
  template <typename O>
  void xnnpack_requantize(const O* x, O* y, int64_t n) const {
    const int32_t in_zp = in_.zero_point[0], out_zp = out_.zero_point[0];
    for (int64_t i = 0; i < n; ++i) {
      const int32_t v = (((int32_t{x[i]} - in_zp) * cvt_multiplier_ + 128) >> 8) + out_zp;
      y[i] = static_cast<O>(std::clamp<int32_t>(v, qmin<O>(), qmax<O>()));
    }
  }
  template <typename I, typename O>
  void requantize(const I* x, O* y, int64_t n) const {
    const int32_t in_zp = in_.zero_point[0], out_zp = out_.zero_point[0];
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = int64_t{multiply_by_quantized_multiplier(int32_t{x[i]} - in_zp, requant_)} + out_zp;
      y[i] = static_cast<O>(std::clamp<int64_t>(v, qmin<O>(), qmax<O>()));
    }
  }

  QuantParams in_, out_;
  FixedMultiplier requant_;
  bool xnnpack_ = false;
  float inv_scale_ = 0.0f;
  int32_t cvt_multiplier_ = 0;
};

// ---- CAST ---------------------------------------------------------------------------------

struct Bool {};  // tag: bool elements, stored as one byte

template <typename T>
using storage_t = std::conditional_t<std::is_same_v<T, Bool>, uint8_t, T>;

template <class F>
bool visit_cast_type(DType t, F&& f) {
  switch (t) {
    case DType::kFloat32: f(float{}); return true;
    case DType::kFloat16: f(Eigen::half{}); return true;
    case DType::kFloat64: f(double{}); return true;
    case DType::kInt8: f(int8_t{}); return true;
    case DType::kUInt8: f(uint8_t{}); return true;
    case DType::kInt16: f(int16_t{}); return true;
    case DType::kUInt16: f(uint16_t{}); return true;
    case DType::kInt32: f(int32_t{}); return true;
    case DType::kUInt32: f(uint32_t{}); return true;
    case DType::kInt64: f(int64_t{}); return true;
    case DType::kBool: f(Bool{}); return true;
    default: return false;
  }
}

// One element, with C++ conversion semantics as TFLite's CAST (static_cast): floats truncate
// toward zero, integers wrap, anything -> bool is "!= 0". Where static_cast is undefined
// (float out of the integer range, NaN) this saturates (NaN -> 0) instead.
template <typename D, typename S>
storage_t<D> cast_one(storage_t<S> s) {
  if constexpr (std::is_same_v<S, Eigen::half>) {
    return cast_one<D, float>(static_cast<float>(s));
  } else if constexpr (std::is_same_v<D, Bool>) {
    return s != storage_t<S>(0) ? 1 : 0;
  } else if constexpr (std::is_same_v<S, Bool>) {
    return cast_one<D, int32_t>(s ? 1 : 0);
  } else if constexpr (std::is_same_v<D, Eigen::half>) {
    return Eigen::half(static_cast<float>(s));
  } else if constexpr (std::is_floating_point_v<D>) {
    return static_cast<D>(s);
  } else if constexpr (std::is_floating_point_v<S>) {
    if (std::isnan(s)) return 0;
    if (s <= static_cast<S>(std::numeric_limits<D>::min())) return std::numeric_limits<D>::min();
    if (s >= static_cast<S>(std::numeric_limits<D>::max())) return std::numeric_limits<D>::max();
    return static_cast<D>(s);
  } else {
    return static_cast<D>(s);  // modular since C++20
  }
}

class CastKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(1, 1, 1);
    const TensorData& in = ctx.in(0);
    const TensorData& out = ctx.out();
    ctx.expect_shape(out, in.shape, "the output");
    check_constant_bytes(ctx, 0, "the input");
    auto ok = [](DType t) { return visit_cast_type(t, [](auto) {}); };
    if (!ok(in.dtype)) ctx.fail(std::string("casting from ") + dtype_name(in.dtype) + " is not supported");
    if (!ok(out.dtype)) ctx.fail(std::string("casting to ") + dtype_name(out.dtype) + " is not supported");
  }
  void eval(OpContext& ctx) const override {
    const TensorData& in = ctx.in(0);
    TensorData& out = ctx.out();
    const int64_t n = in.size();
    visit_cast_type(in.dtype, [&](auto src_tag) {
      using S = decltype(src_tag);
      visit_cast_type(out.dtype, [&](auto dst_tag) {
        using D = decltype(dst_tag);
        const storage_t<S>* x = in.as<storage_t<S>>();
        storage_t<D>* y = out.as<storage_t<D>>();
        if constexpr (std::is_same_v<S, D>) {
          std::memcpy(y, x, static_cast<size_t>(n) * sizeof(storage_t<S>));
        } else {
          for (int64_t i = 0; i < n; ++i) y[i] = cast_one<D, S>(x[i]);
        }
      });
    });
  }
};

}  // namespace

void register_conversion_kernels(KernelRegistry& r) {
  r.add_builtin(BuiltinOperator::DEQUANTIZE, make_factory<DequantizeKernel>(), Numerics::kFloat);
  r.add_builtin(BuiltinOperator::QUANTIZE, make_factory<QuantizeKernel>(), Numerics::kFloat);
  r.add_builtin(BuiltinOperator::CAST, make_factory<CastKernel>(), Numerics::kFloat);
}

}  // namespace qcal
