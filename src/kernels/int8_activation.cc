// Int8 kernels: LOGISTIC, TANH, HARD_SWISH, RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU, PRELU, SOFTMAX.
//
// Each kernel reproduces, bit for bit, what the runtime computes (IntegerNumerics):
//  * kXnnpack: LiteRT on CPU. Ops its XNNPACK delegate takes run XNNPACK's int8 code; the rest
//    fall back to TFLite's builtin kernels. Measured against LiteRT (@litertjs/core 2.5.3,
//    tests/interop/op_models/activation_cases.cc):
//      LOGISTIC, TANH   XNNPACK: a 256-entry table from its float reference op
//      LEAKY_RELU       XNNPACK qs8-vlrelu: 8-bit fractional integer multipliers
//      HARD_SWISH, RELU, RELU6, RELU_N1_TO_1, PRELU, SOFTMAX: TFLite's builtin kernels
//  * kReference: TFLite's builtin kernels (what BuiltinOpResolver registers): LUTs built in
//    float for LOGISTIC/TANH, fixed-point MultiplyByQuantizedMultiplier for the RELU family,
//    LEAKY_RELU and PRELU, 16-bit fixed point for HARD_SWISH, a float exp table for SOFTMAX.
//
// Every unary op is a function of the 256 input codes, so unary kernels evaluate the exact
// per-element formula once per code in prepare() and look results up in eval().
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "qcal/kernel.h"
#include "quant_util.h"
#include "tiles.h"

namespace qcal {
namespace {

using BOp = tflite::BuiltinOperator;


int32_t clamp_int8(int32_t v) { return std::clamp<int32_t>(v, -128, 127); }

// std::round (half away from zero) is what both TFLite's TfLiteRound and XNNPACK's reference
// quantize() use; the result is clamped to int8 in float first, so huge values are safe.
int32_t round_to_int8(float v) { return static_cast<int32_t>(std::clamp(std::round(v), -128.0f, 127.0f)); }


// TFLite's MultiplyByQuantizedMultiplier(x, QuantizeMultiplier(m)), the rescale of every
// fixed-point int8 kernel. TFLite passes float ratios of scales (computed in float) as m.
int32_t fixed_rescale(int32_t x, const quant::FixedMultiplier& m) { return quant::multiply_by_quantized_multiplier(x, m); }

// ---- unary ops: one table-driven kernel --------------------------------------------------

// The output code for one input code.
using Entry = std::function<int32_t(int32_t q)>;
// Builds the entry function of one operator instance from its options and quantization.
using EntryBuilder = Entry (*)(const OpContext& ctx, Quant in, Quant out);

class UnaryLutKernel : public OpKernel {
 public:
  explicit UnaryLutKernel(EntryBuilder build) : build_(build) {}

  void prepare(OpContext& ctx) override {
    ctx.expect_io(1, 1, 1);
    const Quant in = int8_quant(ctx, ctx.in(0), "the input");
    const Quant out = int8_quant(ctx, ctx.out(), "the output");
    ctx.expect_shape(ctx.out(), ctx.in(0).shape, "the output");
    if (ctx.in(0).constant && ctx.in(0).bytes < static_cast<size_t>(ctx.in(0).size()))
      ctx.fail("constant input has too little data for its shape");
    const Entry entry = build_(ctx, in, out);
    for (int32_t q = -128; q <= 127; ++q) table_[static_cast<uint8_t>(q)] = static_cast<int8_t>(clamp_int8(entry(q)));
  }

  void eval(OpContext& ctx) const override {
    const uint8_t* in = ctx.in(0).as<uint8_t>();  // int8 codes, as table indices
    int8_t* out = ctx.out().as<int8_t>();
    for_tiles(ctx, ctx.out().size(), 1 << 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) out[i] = table_[in[i]];
    });
  }

 private:
  EntryBuilder build_;
  std::array<int8_t, 256> table_{};
};

// XNNPACK builds the tables of LOGISTIC and TANH by running its float reference op over the
// 256 codes: dequantize as (float(q) - float(zp)) * scale, apply, round(y / s + zp).
Entry xnnpack_float_lut(Quant in, Quant out, float (*f)(float)) {
  const float inv_scale = 1.0f / out.scale;
  return [=](int32_t q) {
    const float x = (static_cast<float>(q) - static_cast<float>(in.zero_point)) * in.scale;
    return round_to_int8(f(x) * inv_scale + static_cast<float>(out.zero_point));
  };
}

// TFLite's LUTPopulate<int8_t>: dequantize as scale * float(q - zp), apply,
// TfLiteRound(y / s), then + zp.
Entry tflite_float_lut(Quant in, Quant out, float (*f)(float)) {
  const float inv_scale = 1.0f / out.scale;
  return [=](int32_t q) {
    const float x = in.scale * static_cast<float>(q - in.zero_point);
    const float rescaled = std::round(f(x) * inv_scale);
    return static_cast<int32_t>(std::clamp(rescaled + static_cast<float>(out.zero_point), -128.0f, 127.0f));
  };
}

// ---- LOGISTIC ----
// XNNPACK's reference sigmoid runs in double; TFLite's is 1 / (1 + expf(-x)).
float xnnpack_sigmoid(float x) {
  if (x > 100.0f) return 1.0f;
  if (x < -100.0f) return 0.0f;
  const double e = std::exp(static_cast<double>(x));
  return static_cast<float>(e / (1.0 + e));
}
float tflite_sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

Entry logistic(const OpContext& ctx, Quant in, Quant out) {
  if (ctx.integer_numerics == IntegerNumerics::kXnnpack) return xnnpack_float_lut(in, out, xnnpack_sigmoid);
  // TFLite's Prepare insists on the fixed output scale 1/256.
  if (out.scale != 1.0f / 256) ctx.fail("int8 LOGISTIC needs output scale 1/256, has " + std::to_string(out.scale));
  return tflite_float_lut(in, out, tflite_sigmoid);
}

// ---- TANH ----
float float_tanh(float x) { return std::tanh(x); }

Entry tanh_entry(const OpContext& ctx, Quant in, Quant out) {
  if (ctx.integer_numerics == IntegerNumerics::kXnnpack) return xnnpack_float_lut(in, out, float_tanh);
  return tflite_float_lut(in, out, float_tanh);
}

// ---- HARD_SWISH ----
// TFLite's 16-bit fixed-point HardSwish (reference_ops::HardSwish), which LiteRT runs in both
// modes: x on a "hires" scale (x * 128), a relu-ish factor in [0, 1] from x / 3, and their
// product rescaled to the output.
int16_t srdhm16(int16_t a, int16_t b) {  // gemmlowp::SaturatingRoundingDoublingHighMul, int16
  if (a == b && a == std::numeric_limits<int16_t>::min()) return std::numeric_limits<int16_t>::max();
  const int32_t ab = static_cast<int32_t>(a) * b;
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return static_cast<int16_t>((ab + nudge) / (1 << 15));
}
int16_t sdhm16(int16_t a, int16_t b) {  // the same, truncating (TFLite's SaturatingDoublingHighMul)
  if (a == b && a == std::numeric_limits<int16_t>::min()) return std::numeric_limits<int16_t>::max();
  return static_cast<int16_t>(static_cast<int32_t>(a) * b / (1 << 15));
}
int16_t saturating_left_shift16(int16_t v, int amount) {
  return static_cast<int16_t>(std::clamp<int64_t>(static_cast<int64_t>(v) * (int64_t{1} << amount), -32768, 32767));
}
// QuantizeMultiplier then DownScaleInt32ToInt16Multiplier.
quant::FixedMultiplier int16_multiplier(float m) {
  quant::FixedMultiplier f = quant::quantize_multiplier(m);
  f.multiplier = f.multiplier >= std::numeric_limits<int32_t>::max() - (1 << 15) ? 32767 : (f.multiplier + (1 << 15)) >> 16;
  return f;
}

Entry hard_swish(const OpContext& ctx, Quant in, Quant out) {
  const float hires_input_scale = (1.0f / 128.0f) * in.scale;
  const float reluish_scale = 3.0f / 32768.0f;
  const quant::FixedMultiplier out_m = int16_multiplier(hires_input_scale / out.scale);
  const quant::FixedMultiplier relu_m = int16_multiplier(hires_input_scale / reluish_scale);
  if (out_m.shift > 0) ctx.fail("output scale is too small for the input scale (TFLite needs in_scale / 128 < out_scale)");
  return [=](int32_t q) {
    const int16_t hires = static_cast<int16_t>((q - in.zero_point) * 128);
    const int16_t preshift_out = srdhm16(hires, static_cast<int16_t>(out_m.multiplier));
    int16_t relu = hires;  // x / 3 on a scale where 3.0 is 32768, saturating
    if (relu_m.shift > 0) relu = saturating_left_shift16(relu, relu_m.shift - 1);
    relu = srdhm16(relu, static_cast<int16_t>(relu_m.multiplier));
    if (relu_m.shift > 0) relu = saturating_left_shift16(relu, 1);
    if (relu_m.shift < 0) relu = static_cast<int16_t>(quant::rounding_divide_by_pot(relu, -relu_m.shift));
    relu = static_cast<int16_t>((relu + (1 << 15)) >> 1);  // [-1, 1] -> [0, 1]
    const int16_t preshift = sdhm16(relu, preshift_out);
    // TFLite adds the zero point in int16 (it could only wrap for absurd scale ratios).
    return static_cast<int16_t>(quant::rounding_divide_by_pot(preshift, -out_m.shift) + out.zero_point);
  };
}

// ---- RELU, RELU6, RELU_N1_TO_1 ----
// TFLite's ReluX (LiteRT runs it in both modes): rescale by in/out scale, clamp to the
// quantized bounds zp + round(bound / scale).
Entry relu_range(Quant in, Quant out, float lo, float hi) {
  const quant::FixedMultiplier m = quant::quantize_multiplier(in.scale / out.scale);  // a float ratio
  const int32_t q_lo = std::max(-128, out.zero_point + static_cast<int32_t>(std::round(lo / out.scale)));
  const int32_t q_hi = std::isinf(hi) ? 127 : std::min(127, out.zero_point + static_cast<int32_t>(std::round(hi / out.scale)));
  return [=](int32_t q) { return std::clamp(out.zero_point + fixed_rescale(q - in.zero_point, m), q_lo, q_hi); };
}
Entry relu(const OpContext&, Quant in, Quant out) { return relu_range(in, out, 0.0f, INFINITY); }
Entry relu6(const OpContext&, Quant in, Quant out) { return relu_range(in, out, 0.0f, 6.0f); }
Entry relu_n1_to_1(const OpContext&, Quant in, Quant out) { return relu_range(in, out, -1.0f, 1.0f); }

// ---- LEAKY_RELU ----
Entry leaky_relu(const OpContext& ctx, Quant in, Quant out) {
  const float alpha = options_of<tflite::LeakyReluOptionsT>(*ctx.op).alpha;
  const float positive_scale = in.scale / out.scale;
  const float negative_scale = positive_scale * alpha;
  // XNNPACK's qs8-vlrelu: multipliers with 8 fractional bits, one rounding shift. It takes
  // scales in [2^-8, 2^7) only; LiteRT runs the others on TFLite's kernel (measured for
  // |in/out * alpha| < 2^-8, e.g. alpha 0.003 at in/out 0.83).
  auto in_range = [](float s) { return std::abs(s) >= 0x1.0p-8f && std::abs(s) < 0x1.0p+7f; };
  if (ctx.integer_numerics == IntegerNumerics::kXnnpack && in_range(positive_scale) && in_range(negative_scale)) {
    const int32_t pos = static_cast<int32_t>(std::lrint(256.0f * positive_scale));
    const int32_t neg = static_cast<int32_t>(std::lrint(256.0f * negative_scale));
    return [=](int32_t q) {
      const int32_t x = q - in.zero_point;
      return (out.zero_point * 256 + 128 + x * (x >= 0 ? pos : neg)) >> 8;  // arithmetic shift: floor
    };
  }
  // TFLite's QuantizeLeakyRelu: identity or alpha multiplier (float ratios), fixed point.
  const quant::FixedMultiplier identity = quant::quantize_multiplier(in.scale / out.scale);
  const quant::FixedMultiplier scaled_alpha = quant::quantize_multiplier(in.scale * alpha / out.scale);
  return [=](int32_t q) {
    const int32_t x = q - in.zero_point;
    return out.zero_point + fixed_rescale(x, x >= 0 ? identity : scaled_alpha);
  };
}

// ---- PRELU ----------------------------------------------------------------------------------

// TFLite's Prelu/BroadcastPrelu4DSlow (LiteRT runs the builtin kernel in both modes):
// x >= 0: x * in/out scale; else x * alpha * in*alpha/out scale, both fixed point. alpha
// broadcasts against the input (numpy rules), e.g. [C] or [1, 1, C] for NHWC.
class PreluKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(2, 2, 1);
    const TensorData& x = ctx.in(0);
    const TensorData& alpha = ctx.in(1);
    in_ = int8_quant(ctx, x, "the input");
    alpha_q_ = int8_quant(ctx, alpha, "alpha");
    out_ = int8_quant(ctx, ctx.out(), "the output");
    ctx.expect_shape(ctx.out(), x.shape, "the output");
    if (alpha.rank() > x.rank() || x.rank() > kMaxRank)
      ctx.fail("alpha " + shape_str(alpha.shape) + " does not broadcast to the input " + shape_str(x.shape));
    for (int i = 0; i < 2; ++i)
      if (ctx.in(i).constant && ctx.in(i).bytes < static_cast<size_t>(ctx.in(i).size())) ctx.fail("constant input has too little data");
    // Alpha strides per input dimension, 0 where alpha broadcasts.
    rank_ = x.rank();
    int64_t stride = 1;
    for (int d = rank_ - 1, a = alpha.rank() - 1; d >= 0; --d, --a) {
      dims_[d] = x.dim(d);
      const int32_t ad = a >= 0 ? alpha.dim(a) : 1;
      if (ad != 1 && ad != x.dim(d))
        ctx.fail("alpha " + shape_str(alpha.shape) + " does not broadcast to the input " + shape_str(x.shape));
      alpha_strides_[d] = ad == 1 ? 0 : stride;
      stride *= ad;
    }
    positive_ = quant::quantize_multiplier(in_.scale / out_.scale);
    negative_ = quant::quantize_multiplier(in_.scale * alpha_q_.scale / out_.scale);
  }

  void eval(OpContext& ctx) const override {
    const int8_t* x = ctx.in(0).as<int8_t>();
    const int8_t* alpha = ctx.in(1).as<int8_t>();
    int8_t* y = ctx.out().as<int8_t>();
    const int64_t inner = rank_ > 0 ? dims_[rank_ - 1] : 1;
    const int64_t inner_stride = rank_ > 0 ? alpha_strides_[rank_ - 1] : 0;
    const int64_t rows = inner > 0 ? ctx.out().size() / inner : 0;
    for_tiles(ctx, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        // Alpha offset of the row: decompose the row index over the outer dimensions.
        int64_t a_off = 0;
        for (int64_t d = rank_ - 2, rest = r; d >= 0; --d) {
          a_off += (rest % dims_[d]) * alpha_strides_[d];
          rest /= dims_[d];
        }
        const int8_t* xr = x + r * inner;
        int8_t* yr = y + r * inner;
        for (int64_t i = 0; i < inner; ++i) {
          const int32_t v = xr[i] - in_.zero_point;
          const int32_t a = alpha[a_off + i * inner_stride] - alpha_q_.zero_point;
          const int32_t scaled = v >= 0 ? fixed_rescale(v, positive_) : fixed_rescale(v * a, negative_);
          yr[i] = static_cast<int8_t>(clamp_int8(scaled + out_.zero_point));
        }
      }
    });
  }

 private:
  static constexpr int kMaxRank = 6;
  Quant in_, alpha_q_, out_;
  quant::FixedMultiplier positive_, negative_;
  int rank_ = 0;
  std::array<int64_t, kMaxRank> dims_{}, alpha_strides_{};
};

// ---- SOFTMAX --------------------------------------------------------------------------------

// TFLite's builtin int8 softmax (optimized_ops::Softmax; LiteRT runs it in both modes, XNNPACK
// has no int8 softmax): a float table of exp(-scale * beta * d) for the 256 distances d to
// the row's maximum, a float sum in element order, p = exp * 1 / (sum * out_scale), rounded.
// (TFLite's reference_ops::Softmax and TFLite Micro use a gemmlowp fixed-point exp instead;
// aarch64 builds with clang use a uint16 table: neither is what LiteRT runs here.)
class SoftmaxKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(1, 1, 1);
    const Quant in = int8_quant(ctx, ctx.in(0), "the input");
    out_ = int8_quant(ctx, ctx.out(), "the output");
    ctx.expect_shape(ctx.out(), ctx.in(0).shape, "the output");
    if (ctx.in(0).rank() < 1) ctx.fail("the input must have rank >= 1");
    if (ctx.in(0).constant && ctx.in(0).bytes < static_cast<size_t>(ctx.in(0).size()))
      ctx.fail("constant input has too little data for its shape");
    // TFLite's Prepare: the output must be (1/256, -128).
    if (out_.zero_point != -128 || std::abs(out_.scale - 1.0f / 256) > 0.001f / 256)
      ctx.fail("int8 SOFTMAX needs output quantization (1/256, -128)");
    const float beta = options_of<tflite::SoftmaxOptionsT>(*ctx.op).beta;
    const float scale = -in.scale * beta;
    for (int32_t d = 0; d <= 255; ++d) exp_[255 - d] = std::exp(scale * static_cast<float>(d));
  }

  void eval(OpContext& ctx) const override {
    const int8_t* x = ctx.in(0).as<int8_t>();
    int8_t* y = ctx.out().as<int8_t>();
    const int64_t depth = ctx.in(0).dim(-1);
    const int64_t rows = depth > 0 ? ctx.in(0).size() / depth : 0;
    for_tiles(ctx, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(depth, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int8_t* xr = x + r * depth;
        int8_t* yr = y + r * depth;
        int32_t max_code = -128;
        for (int64_t j = 0; j < depth; ++j) max_code = std::max<int32_t>(max_code, xr[j]);
        // e[code] = exp(-scale * beta * (max - code)), as TFLite's offset table pointer.
        const float* e = exp_.data() + 255 - max_code;
        float sum = 0.0f;
        for (int64_t j = 0; j < depth; ++j) sum += e[xr[j]];
        const float inv_sum = 1.0f / (sum * out_.scale);
        for (int64_t j = 0; j < depth; ++j)
          yr[j] = static_cast<int8_t>(clamp_int8(static_cast<int32_t>(std::round(e[xr[j]] * inv_sum)) + out_.zero_point));
      }
    });
  }

 private:
  Quant out_;
  std::array<float, 256> exp_{};
};

void add_lut(KernelRegistry& r, BOp op, EntryBuilder build) {
  r.add_builtin(op, [build] { return std::make_unique<UnaryLutKernel>(build); }, Numerics::kInt8);
}

}  // namespace

void register_int8_activation_kernels(KernelRegistry& r) {
  add_lut(r, BOp::LOGISTIC, logistic);
  add_lut(r, BOp::TANH, tanh_entry);
  add_lut(r, BOp::HARD_SWISH, hard_swish);
  add_lut(r, BOp::RELU, relu);
  add_lut(r, BOp::RELU6, relu6);
  add_lut(r, BOp::RELU_N1_TO_1, relu_n1_to_1);
  add_lut(r, BOp::LEAKY_RELU, leaky_relu);
  r.add_builtin(BOp::PRELU, make_factory<PreluKernel>(), Numerics::kInt8);
  r.add_builtin(BOp::SOFTMAX, make_factory<SoftmaxKernel>(), Numerics::kInt8);
}

}  // namespace qcal
