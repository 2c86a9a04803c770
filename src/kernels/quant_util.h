// Requantization arithmetic shared by the int8 kernels, in the two flavours a runtime may
// use (see IntegerNumerics in qcal/kernel.h and docs/architecture.md):
//  * XNNPACK (what LiteRT runs on CPU): the int32 accumulator is converted to float,
//    multiplied by a float scale, clamped and rounded to nearest-even;
//  * TFLite's builtin/reference kernels: fixed-point QuantizeMultiplier +
//    MultiplyByQuantizedMultiplier with double rounding (TFLITE_SINGLE_ROUNDING off).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "qcal/kernel.h"

namespace qcal::quant {

// A real multiplier M as M0 * 2^(shift - 31), M0 in [2^30, 2^31) (TFLite's QuantizeMultiplier).
struct FixedMultiplier {
  int32_t multiplier = 0;
  int shift = 0;
};

inline FixedMultiplier quantize_multiplier(double m) {
  if (m == 0.0) return {};
  int shift = 0;
  const double q = std::frexp(m, &shift);
  // TfLiteRound is std::round: half away from zero.
  int64_t q_fixed = static_cast<int64_t>(std::round(q * (1LL << 31)));
  if (q_fixed == (1LL << 31)) {
    q_fixed /= 2;
    ++shift;
  }
  if (shift < -31) return {};  // tiny multipliers flush to zero, as TFLite does
  return {static_cast<int32_t>(q_fixed), shift};
}

// gemmlowp's SaturatingRoundingDoublingHighMul.
inline int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  if (a == b && a == std::numeric_limits<int32_t>::min()) return std::numeric_limits<int32_t>::max();
  const int64_t ab = static_cast<int64_t>(a) * b;
  const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return static_cast<int32_t>((ab + nudge) / (1LL << 31));
}

// gemmlowp's RoundingDivideByPOT: rounds half away from zero.
inline int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((1LL << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

inline int32_t multiply_by_quantized_multiplier(int32_t x, FixedMultiplier m) {
  const int left_shift = m.shift > 0 ? m.shift : 0;
  const int right_shift = m.shift > 0 ? 0 : -m.shift;
  // TFLite computes x * (1 << left_shift) in int32, which wraps; so does this, without the
  // undefined behaviour of shifting by 32 or more (a multiplier of 2^100 has left_shift 101).
  const int32_t shifted =
      left_shift >= 32 ? 0 : static_cast<int32_t>(static_cast<uint32_t>(x) << left_shift);
  return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, m.multiplier), right_shift);
}

// XNNPACK's fp32 requantization: float(acc) * scale, clamped to [qmin, qmax] - zp, rounded
// to nearest-even (lrintf / the magic-bias trick), plus zp.
inline int32_t requantize_fp32(int32_t acc, float scale, int32_t zero_point, int32_t qmin, int32_t qmax) {
  float x = static_cast<float>(acc) * scale;
  x = std::max(x, static_cast<float>(qmin - zero_point));
  x = std::min(x, static_cast<float>(qmax - zero_point));
  return static_cast<int32_t>(std::nearbyint(x)) + zero_point;
}

// TFLite's fixed-point path: MultiplyByQuantizedMultiplier, + zp, clamped.
inline int32_t requantize_fixed(int32_t acc, FixedMultiplier m, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const int32_t x = multiply_by_quantized_multiplier(acc, m) + zero_point;
  return std::clamp(x, qmin, qmax);
}

}  // namespace qcal::quant

namespace qcal {

// Per-tensor quantization of an int8 activation, checked (one-line errors naming the op).
struct Quant {
  float scale = 0.0f;
  int32_t zero_point = 0;
};

inline Quant int8_quant(const OpContext& ctx, const TensorData& t, const char* role) {
  ctx.expect_dtype(t, DType::kInt8, role);
  if (!t.quant || !t.quant->has_scale()) ctx.fail(std::string(role) + " has no quantization");
  if (t.quant->per_axis()) ctx.fail(std::string(role) + " must be quantized per tensor");
  if (!(t.scale() > 0.0f) || !std::isfinite(t.scale())) ctx.fail(std::string(role) + " has a non-positive scale");
  if (t.zero_point() < -128 || t.zero_point() > 127) ctx.fail(std::string(role) + " has a zero point outside [-128, 127]");
  return {t.scale(), t.zero_point()};
}

}  // namespace qcal
