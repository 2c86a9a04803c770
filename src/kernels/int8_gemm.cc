#include "int8_gemm.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "gemm.h"

namespace qcal::kernels::int8 {

uint8_t* scratch_bytes(size_t bytes, int slot) {
  return reinterpret_cast<uint8_t*>(scratch_floats((bytes + sizeof(float) - 1) / sizeof(float), slot));
}

// ---- packing -------------------------------------------------------------------------------

void PackedB::allocate(int K, int N) {
  K_ = K, N_ = N, Kp_ = (K + 3) / 4 * 4;
  const size_t bytes = static_cast<size_t>((N + 15) / 16) * Kp_ * 16;
  data_.reset(static_cast<int8_t*>(std::aligned_alloc(64, std::max<size_t>((bytes + 63) / 64 * 64, 64))));
  if (!data_) throw Error("out of memory packing " + std::to_string(bytes) + " bytes of int8 weights");
  std::memset(data_.get(), 0, bytes);  // zero padding: padded rows and columns add nothing
  col_sums_.assign(N, 0);
}

// VNNI: each strip holds Kp/4 blocks of [16 columns][4 rows] (one 64-byte vpdpbusd operand);
// otherwise Kp rows of 16 columns.
size_t PackedB::index(int k, int n) const {
  const size_t strip = static_cast<size_t>(n / 16) * Kp_ * 16;
  if constexpr (kVnni) return strip + static_cast<size_t>(k / 4) * 64 + (n % 16) * 4 + k % 4;
  return strip + static_cast<size_t>(k) * 16 + n % 16;
}

std::vector<int32_t> PackedB::column_offsets(const int32_t* bias, int32_t input_zero_point) const {
  std::vector<int32_t> off(N_);
  const uint32_t z = static_cast<uint32_t>(input_zero_point + kAOffset);
  for (int n = 0; n < N_; ++n)
    off[n] = static_cast<int32_t>((bias ? static_cast<uint32_t>(bias[n]) : 0u) - z * static_cast<uint32_t>(col_sums_[n]));
  return off;
}

// ---- requantization ------------------------------------------------------------------------

namespace {

// XNNPACK's xnn_qs8_quantize (bounds of the fused activation).
int32_t xnnpack_quantize(float v, float scale, int32_t zero_point) {
  return static_cast<int32_t>(std::lrintf(std::fmin(std::fmax(v / scale + static_cast<float>(zero_point), -128.0f), 127.0f)));
}

// TFLite's Quantize inside CalculateActivationRangeQuantized: float division, std::round.
// (TFLite refuses results outside int32; clamping keeps the cast defined and still saturates.)
int32_t tflite_quantize(float v, float scale, int32_t zero_point) {
  return zero_point + static_cast<int32_t>(std::clamp(std::round(v / scale), -1e9f, 1e9f));
}

}  // namespace

void Requantizer::init(const OpContext& ctx, float input_scale, const std::vector<float>& weight_scales, int channels,
                       float output_scale, int32_t output_zero_point, tflite::ActivationFunctionType act,
                       bool fc_per_tensor) {
  const ActivationRange range = activation_range(ctx, act);
  numerics_ = ctx.integer_numerics;
  zero_point_ = output_zero_point;
  auto w = [&](int c) { return weight_scales.size() == 1 ? weight_scales[0] : weight_scales.at(c); };
  if (numerics_ == IntegerNumerics::kXnnpack) {
    scale_.resize(channels);
    for (int c = 0; c < channels; ++c) scale_[c] = input_scale * w(c) / output_scale;  // float, left to right
    qmin_ = xnnpack_quantize(range.lo, output_scale, output_zero_point);
    qmax_ = xnnpack_quantize(range.hi, output_scale, output_zero_point);
  } else {
    multiplier_.resize(channels);
    for (int c = 0; c < channels; ++c) {
      const double m = fc_per_tensor ? static_cast<double>(input_scale * w(c)) / static_cast<double>(output_scale)
                                     : static_cast<double>(input_scale) * static_cast<double>(w(c)) / static_cast<double>(output_scale);
      multiplier_[c] = quant::quantize_multiplier(m);
    }
    qmin_ = -128, qmax_ = 127;
    if (std::isfinite(range.lo)) qmin_ = std::max(qmin_, tflite_quantize(range.lo, output_scale, output_zero_point));
    if (std::isfinite(range.hi)) qmax_ = std::min(qmax_, tflite_quantize(range.hi, output_scale, output_zero_point));
  }
  if (qmin_ > qmax_)
    ctx.fail("the fused activation leaves no output values (range [" + std::to_string(qmin_) + ", " + std::to_string(qmax_) +
             "] after quantization)");
}

void Requantizer::run(const int32_t* acc, const int32_t* offset, int c0, int n, int8_t* out) const {
  if (numerics_ == IntegerNumerics::kReference) {
    for (int i = 0; i < n; ++i) {
      const int32_t a = offset ? static_cast<int32_t>(static_cast<uint32_t>(acc[i]) + static_cast<uint32_t>(offset[i])) : acc[i];
      out[i] = static_cast<int8_t>(quant::requantize_fixed(a, multiplier_[c0 + i], zero_point_, qmin_, qmax_));
    }
    return;
  }
  // float(acc) * scale, clamped to [qmin - zp, qmax - zp], rounded to nearest-even by adding
  // 1.5 * 2^23 (exact for |x| < 2^22, and x is clamped to +-255) and reading the low bits: the
  // same result as lrintf, in a form the compiler vectorizes.
  const float lo = static_cast<float>(qmin_ - zero_point_), hi = static_cast<float>(qmax_ - zero_point_);
  const float* scale = scale_.data() + c0;
  const int32_t bias_bits = 0x4B400000 - zero_point_;
  auto one = [&](int32_t a, float s) {
    float x = static_cast<float>(a) * s;
    x = x < lo ? lo : x;
    x = x > hi ? hi : x;
    return static_cast<int8_t>(std::bit_cast<int32_t>(x + 12582912.0f) - bias_bits);
  };
  if (offset) {
    for (int i = 0; i < n; ++i)
      out[i] = one(static_cast<int32_t>(static_cast<uint32_t>(acc[i]) + static_cast<uint32_t>(offset[i])), scale[i]);
  } else {
    for (int i = 0; i < n; ++i) out[i] = one(acc[i], scale[i]);
  }
}

// ---- the GEMM ------------------------------------------------------------------------------

namespace {

constexpr int kMR = 8;          // rows per micro-kernel call
constexpr int kTileCols = 32;   // columns of the int32 tile a micro-kernel writes (2 strips)

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)

// Where a micro-kernel requantizes its results in registers (kXnnpack numerics).
struct Fp32Output {
  Fp32Lanes lanes;
  const int32_t* offset = nullptr;  // at the micro-kernel's first column
  const float* scale = nullptr;     // likewise
  int8_t* C = nullptr;              // row 0, first column
  ptrdiff_t ldc = 0;
  int cols = 0;                     // valid columns from the first one

  void store(__m512i acc, int r, int n) const {
    if (n >= cols) return;
    const __mmask16 m = first_lanes(cols - n);
    lanes.store(_mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(m, offset + n)), scale + n, m, C + r * ldc + n);
  }
};

// MR rows x NS strips of 16 columns: per block of 4 k, one broadcast of 4 A bytes per row (sign
// bits flipped: a + 128 as unsigned) and one 64-byte B load per strip feed MR * NS vpdpbusd
// (u8 x s8, 4 products summed into each int32 lane). A row's last bytes past K are read as 0
// (B is zero there), never past the row. The results are requantized in registers (fp32 set)
// or stored to the tile.
template <int MR, int NS>
void micro_kernel(const int8_t* A, ptrdiff_t lda, int K, const int8_t* B, size_t strip_bytes, int32_t* tile,
                  const Fp32Output* fp32) {
  __m512i acc[MR][NS];
  for (int r = 0; r < MR; ++r)
    for (int s = 0; s < NS; ++s) acc[r][s] = _mm512_setzero_si512();
  auto step = [&](int k, auto load) {
    __m512i b[NS];
    for (int s = 0; s < NS; ++s) b[s] = _mm512_load_si512(B + s * strip_bytes + static_cast<size_t>(k) * 16);
    for (int r = 0; r < MR; ++r) {
      const __m512i a = _mm512_set1_epi32(load(A + r * lda + k) ^ static_cast<int32_t>(0x80808080u));
      for (int s = 0; s < NS; ++s) acc[r][s] = _mm512_dpbusd_epi32(acc[r][s], a, b[s]);
    }
  };
  const int k4 = K & ~3;
  for (int k = 0; k < k4; k += 4)
    step(k, [](const int8_t* p) {
      int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    });
  if (k4 < K)
    step(k4, [n = K - k4](const int8_t* p) {
      int32_t v = 0;
      std::memcpy(&v, p, n);
      return v;
    });
  if (fp32) {
    for (int r = 0; r < MR; ++r)
      for (int s = 0; s < NS; ++s) fp32->store(acc[r][s], r, s * 16);
    return;
  }
  for (int r = 0; r < MR; ++r)
    for (int s = 0; s < NS; ++s) _mm512_store_si512(tile + r * kTileCols + s * 16, acc[r][s]);
}

#else

struct Fp32Output;  // only with VNNI

// Portable: MR rows x one strip, int8 x int8 products widened to int32 (the compiler
// vectorizes the 16 columns).
template <int MR, int NS>
void micro_kernel(const int8_t* A, ptrdiff_t lda, int K, const int8_t* B, size_t strip_bytes, int32_t* tile,
                  const Fp32Output*) {
  static_assert(NS == 1);
  int32_t acc[MR][16] = {};
  for (int k = 0; k < K; ++k) {
    const int8_t* b = B + static_cast<size_t>(k) * 16;
    for (int r = 0; r < MR; ++r) {
      const int32_t a = A[r * lda + k];
      for (int j = 0; j < 16; ++j) acc[r][j] += a * b[j];
    }
  }
  for (int r = 0; r < MR; ++r) std::memcpy(tile + r * kTileCols, acc[r], sizeof(acc[r]));
}

#endif

constexpr int kMaxStrips = kVnni ? 2 : 1;  // strips per micro-kernel call

using MicroKernel = void (*)(const int8_t*, ptrdiff_t, int, const int8_t*, size_t, int32_t*, const Fp32Output*);

template <int NS, size_t... R>
constexpr std::array<MicroKernel, kMR> kernels_for(std::index_sequence<R...>) {
  return {&micro_kernel<static_cast<int>(R) + 1, NS>...};
}

template <size_t... S>
constexpr std::array<std::array<MicroKernel, kMR>, kMaxStrips> kernel_table(std::index_sequence<S...>) {
  return {kernels_for<static_cast<int>(S) + 1>(std::make_index_sequence<kMR>())...};
}

// [strips - 1][rows - 1]
constexpr auto kKernels = kernel_table(std::make_index_sequence<kMaxStrips>());

void store_tile(const int32_t* tile, int rows, int64_t m0, int n0, int n1, const GemmOutput& o) {
  for (int r = 0; r < rows; ++r) {
    const int32_t* t = tile + r * kTileCols;
    const int64_t row = (m0 + r) * o.ldc;
    if (o.rq) {
      o.rq->run(t, o.offset + n0, o.channel_base + n0, n1 - n0, static_cast<int8_t*>(o.C) + row + n0);
    } else {
      int32_t* c = static_cast<int32_t*>(o.C) + row + n0;
      for (int n = 0; n < n1 - n0; ++n) c[n] = static_cast<int32_t>(static_cast<uint32_t>(t[n]) + static_cast<uint32_t>(o.offset[n0 + n]));
    }
  }
}

}  // namespace

void gemm(int64_t M, const int8_t* A, ptrdiff_t lda, const PackedB& B, int n_begin, int n_end, const GemmOutput& out) {
  alignas(64) int32_t tile[kMR * kTileCols];
  const size_t strip_bytes = static_cast<size_t>(B.padded_rows()) * 16;
  const int s_end = (n_end + 15) / 16;
  // With VNNI, XNNPACK-style requantization happens in the micro-kernel's registers; otherwise
  // (and for TFLite's fixed-point or int32 outputs) through the int32 tile.
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
  const bool fused = out.rq && out.rq->fp32();
  std::optional<Fp32Output> f;
  if (fused) f.emplace(Fp32Output{Fp32Lanes(*out.rq)}), f->ldc = out.ldc;
#else
  constexpr bool fused = false;
#endif
  // Strip pairs outside, rows inside: the strips' weights stay in cache while every row block
  // of the (already cache-sized) A tile streams past them.
  for (int s = n_begin / 16; s < s_end; s += kMaxStrips) {
    const int ns = std::min(kMaxStrips, s_end - s);
    const int n0 = s * 16, n1 = std::min(n_end, (s + ns) * 16);
    for (int64_t m = 0; m < M; m += kMR) {
      const int mr = static_cast<int>(std::min<int64_t>(kMR, M - m));
      const Fp32Output* fp32 = nullptr;
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
      if (fused) {
        f->offset = out.offset + n0;
        f->scale = out.rq->scales() + out.channel_base + n0;
        f->C = static_cast<int8_t*>(out.C) + m * out.ldc + n0;
        f->cols = n1 - n0;
        fp32 = &*f;
      }
#endif
      kKernels[ns - 1][mr - 1](A + m * lda, lda, B.rows(), B.strip(s), strip_bytes, tile, fp32);
      if (!fused) store_tile(tile, mr, m, n0, n1, out);
    }
  }
}

}  // namespace qcal::kernels::int8
