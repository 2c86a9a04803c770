// The int8 GEMM behind the int8 CONV_2D, FULLY_CONNECTED and TRANSPOSE_CONV kernels, and the
// per-channel requantization every int8 conv-like kernel shares.
//
// C[m][n] = requantize(offset[n] + sum_k A[m][k] * B[k][n]), where A is int8 activations,
// B int8 weights packed once, and offset[n] folds the bias and the input zero point
// (sum_k (a - zp) * b = sum_k a * b - zp * colsum[n]). Integer accumulation is exact, so the
// result never depends on tiling, threads or instruction set; only requantization (float
// scale as XNNPACK does, or TFLite's fixed-point multiplier) decides the output bits.
//
// With AVX-512 VNNI, the kernel flips the sign bit of each A byte (a + 128: the instruction
// multiplies unsigned by signed bytes) and the offsets subtract 128 * colsum[n] as well.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "qcal/kernel.h"
#include "quant_util.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace qcal::kernels::int8 {

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
inline constexpr bool kVnni = true;
#else
inline constexpr bool kVnni = false;
#endif
// What the GEMM's kernel adds to every activation it multiplies (see above).
inline constexpr int32_t kAOffset = kVnni ? 128 : 0;

// A per-thread scratch buffer of at least `bytes` bytes (64-byte aligned); see scratch_floats().
uint8_t* scratch_bytes(size_t bytes, int slot);

// ---- packed weights ------------------------------------------------------------------------

// B [K x N] in 16-column strips, rows padded with zeros to a multiple of 4 (padded_rows()), and
// each column's sum for the zero-point correction.
class PackedB {
 public:
  // B[k][n] = at(k, n).
  template <typename At>
  void pack(int K, int N, At&& at) {
    allocate(K, N);
    for (int n = 0; n < N; ++n) {
      int32_t sum = 0;
      for (int k = 0; k < K; ++k) {
        const int8_t v = at(k, n);
        sum += v;
        data_.get()[index(k, n)] = v;
      }
      col_sums_[n] = sum;
    }
  }
  int rows() const { return K_; }
  int padded_rows() const { return Kp_; }
  int cols() const { return N_; }
  const int8_t* strip(int s) const { return data_.get() + static_cast<size_t>(s) * Kp_ * 16; }
  // Per column: bias[n] (0 when bias is null) - (input_zero_point + kAOffset) * colsum[n],
  // in wrapping int32 arithmetic as the runtimes use.
  std::vector<int32_t> column_offsets(const int32_t* bias, int32_t input_zero_point) const;

 private:
  void allocate(int K, int N);
  size_t index(int k, int n) const;
  struct Free {
    void operator()(int8_t* p) const { std::free(p); }
  };
  std::unique_ptr<int8_t, Free> data_;
  std::vector<int32_t> col_sums_;
  int K_ = 0, Kp_ = 0, N_ = 0;
};

// ---- requantization ------------------------------------------------------------------------

// int32 accumulator (bias and zero-point correction included) -> int8 output, per channel.
//  * kXnnpack: scale[c] = input_scale * weight_scale[c] / output_scale in float (XNNPACK's
//    operator creation); float(acc) * scale[c], clamped to the output range, rounded to
//    nearest-even, + zero point. The fused activation's bounds (0, 6, +-1, +-inf, as TFLite's
//    XNNPACK delegate passes them) are quantized as XNNPACK's xnn_qs8_quantize does:
//    lrintf(clamp(bound / output_scale + zp, -128, 127)).
//  * kReference: TFLite's QuantizeMultiplier of the double product
//    input_scale * weight_scale[c] / output_scale (FULLY_CONNECTED with one weight scale
//    multiplies the two scales in float first, as GetQuantizedConvolutionMultipler does),
//    MultiplyByQuantizedMultiplier, + zero point, clamped to CalculateActivationRangeQuantized's
//    bounds (zp + round-half-away(bound / output_scale)).
class Requantizer {
 public:
  // weight_scales holds one scale per channel, or one for all.
  void init(const OpContext& ctx, float input_scale, const std::vector<float>& weight_scales, int channels,
            float output_scale, int32_t output_zero_point, tflite::ActivationFunctionType act,
            bool fc_per_tensor = false);
  // out[i] = requantize(acc[i] + offset[i], channel c0 + i) for i < n; offset may be null.
  void run(const int32_t* acc, const int32_t* offset, int c0, int n, int8_t* out) const;
  int32_t qmin() const { return qmin_; }
  int32_t qmax() const { return qmax_; }
  int32_t zero_point() const { return zero_point_; }
  bool fp32() const { return numerics_ == IntegerNumerics::kXnnpack; }
  const float* scales() const { return scale_.data(); }  // kXnnpack only

 private:
  IntegerNumerics numerics_ = IntegerNumerics::kXnnpack;
  std::vector<float> scale_;
  std::vector<quant::FixedMultiplier> multiplier_;
  int32_t zero_point_ = 0, qmin_ = -128, qmax_ = 127;
};

#if defined(__AVX512F__)
// Requantizer's kXnnpack arithmetic on 16 accumulators of consecutive channels, for kernels
// that keep them in registers: the bounds are (qmin - zp, qmax - zp) as floats.
struct Fp32Lanes {
  __m512 lo, hi;
  __m512i zero_point;
  explicit Fp32Lanes(const Requantizer& rq)
      : lo(_mm512_set1_ps(static_cast<float>(rq.qmin() - rq.zero_point()))),
        hi(_mm512_set1_ps(static_cast<float>(rq.qmax() - rq.zero_point()))),
        zero_point(_mm512_set1_epi32(rq.zero_point())) {}
  // Stores the lanes selected by m as int8.
  void store(__m512i acc, const float* scale, __mmask16 m, int8_t* out) const {
    __m512 x = _mm512_mul_ps(_mm512_cvt_roundepi32_ps(acc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                             _mm512_maskz_loadu_ps(m, scale));
    x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
    const __m512i q = _mm512_add_epi32(_mm512_cvt_roundps_epi32(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zero_point);
    _mm512_mask_cvtsepi32_storeu_epi8(out, m, q);
  }
};

inline __mmask16 first_lanes(int n) { return n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u); }
#endif

// ---- the GEMM ------------------------------------------------------------------------------

// Where the GEMM's results go: requantized to int8 (rq set) or stored as int32 (rq null), with
// offset[n] added first. C rows are ldc elements apart; column n of B lands in C column n and
// uses requantizer channel channel_base + n.
struct GemmOutput {
  const int32_t* offset = nullptr;
  const Requantizer* rq = nullptr;
  int channel_base = 0;
  void* C = nullptr;
  ptrdiff_t ldc = 0;
};

// Rows [0, M) of A (int8, rows lda bytes apart, B.rows() bytes read from each, in place) times
// columns [n_begin, n_end) of B (n_begin a multiple of 16).
void gemm(int64_t M, const int8_t* A, ptrdiff_t lda, const PackedB& B, int n_begin, int n_end, const GemmOutput& out);

}  // namespace qcal::kernels::int8
