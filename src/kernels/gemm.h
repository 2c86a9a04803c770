// The float GEMM behind CONV_2D, FULLY_CONNECTED and the transposed convolutions, plus the
// small helpers the conv and pool kernels share (activation ranges, TFLite padding, tiled
// parallel loops).
//
// The GEMM multiplies a row-major activation matrix A [M x K] (NHWC pixels x input
// channels, read in place) by a weight matrix B [K x N] packed once into 16-column strips,
// and fuses bias and the activation clamp into the store. How each output element is summed
// depends only on K (bias, then one multiply-add chain over ascending k, as XNNPACK sums), never
// on how rows or columns are tiled or how many threads run.
#pragma once

#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>

#include "qcal/kernel.h"

namespace qcal::kernels {

// ---- small shared helpers ------------------------------------------------------------------

struct ActivationRange {
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
  bool identity() const { return lo == -std::numeric_limits<float>::infinity() && hi == std::numeric_limits<float>::infinity(); }
};

// The clamp TFLite applies for a fused activation in conv/FC/pool kernels. TANH and SIGN_BIT
// are not clamps (TFLite's float kernels silently ignore them); rather than compute
// something else than the model's author meant, they are rejected.
ActivationRange activation_range(const OpContext& ctx, tflite::ActivationFunctionType act);

inline float clamp_activation(float x, const ActivationRange& r) {
  // Written so NaN propagates, as TFLite's std::min(std::max(x, lo), hi) does.
  x = x < r.lo ? r.lo : x;
  return x > r.hi ? r.hi : x;
}

// One spatial dimension of a conv/pool window: TFLite's output size and leading padding
// (tensorflow/lite/kernels/padding.h: ComputeOutSize / ComputePaddingWithOffset), computed in
// 64 bits. Fails the op on a stride, dilation or filter size below 1, and on a window that
// spans more than kMaxWindowSpan pixels, so that the int positions kernels derive from it
// (o * stride - pad + k * dilation) cannot overflow. out < 1: the filter does not fit the
// input (callers say so in their own words) and pad_before is 0.
constexpr int64_t kMaxWindowSpan = int64_t{1} << 30;
struct WindowDim {
  int out = 0, pad_before = 0;
};
WindowDim conv_window(const OpContext& ctx, tflite::Padding padding, int in, int filter, int stride, int dilation);
// The leading padding for a given output size (transposed convolutions and unpooling pad as
// the forward op from their output back to their input would), with the same checks.
int conv_padding_before(const OpContext& ctx, int in, int out, int filter, int stride, int dilation);

// A pooling window over an NHWC input (rank 4, not empty: callers check), output size and
// padding from conv_window; fails when the filter does not fit or a window would hold no
// input pixel (TFLite fails at eval on one that lies entirely in the padding).
struct PoolWindow {
  int batch = 0, ih = 0, iw = 0, c = 0, oh = 0, ow = 0;
  int fh = 1, fw = 1, sh = 1, sw = 1, pad_top = 0, pad_left = 0;
  // The window of output (oy, ox), clipped to the image: rows [y0, y1), columns [x0, x1).
  void window(int oy, int ox, int& y0, int& y1, int& x0, int& x1) const {
    const int iy = oy * sh - pad_top, ix = ox * sw - pad_left;
    y0 = std::max(0, iy), y1 = std::min(ih, iy + fh);
    x0 = std::max(0, ix), x1 = std::min(iw, ix + fw);
  }
};
PoolWindow pool_window(const OpContext& ctx, const TensorData& in, tflite::Padding padding, int stride_w, int stride_h,
                       int filter_w, int filter_h);

// Runs body(begin, end) over [0, n) in fixed tiles of `tile` items: in parallel (TBB) when
// threads > 1, else in order. Tiles never depend on the thread count.
void parallel_tiles(int64_t n, int64_t tile, int threads, const std::function<void(int64_t, int64_t)>& body);

// A per-thread scratch buffer of at least `floats` floats (64-byte aligned), reused across
// calls; valid until the next call on the same thread.
float* scratch_floats(size_t floats, int slot = 0);

// acc + a * b with two roundings: the multiply-then-add that XNNPACK's wasm SIMD kernels
// (LiteRT.js, and any build without FMA) perform. Conv, depthwise and FC use it in
// XNNPACK's order (bias first, then ascending k; depthwise taps column by column), which
// makes them bit-identical to LiteRT given the same inputs. An FMA would be one instruction
// instead of two, at the price of that agreement.
#if defined(__AVX512F__)
inline __m512 madd(__m512 a, __m512 b, __m512 acc) { return _mm512_add_ps(acc, _mm512_mul_ps(a, b)); }
#endif

// ---- the GEMM ------------------------------------------------------------------------------

// B [K x N] packed for the GEMM: strip s holds columns 16s..16s+15 as K rows of 16 floats
// (zero-padded past N), 64-byte aligned. Narrow matrices (N <= 2) also keep B transposed
// ([N x K]) for the dot-product kernel.
class PackedMatrix {
 public:
  // Packs B[k][n] = src[k * stride_k + n * stride_n].
  void pack(const float* src, int K, int N, ptrdiff_t stride_k, ptrdiff_t stride_n);
  // Floats of storage pack_into() needs, and packing into caller-provided (64-byte aligned)
  // storage, for weights that are only known at eval time.
  static size_t storage_floats(int K, int N);
  void pack_into(float* storage, const float* src, int K, int N, ptrdiff_t stride_k, ptrdiff_t stride_n);

  int rows() const { return K_; }
  int cols() const { return N_; }
  const float* strips() const { return data_; }
  const float* transposed() const { return transposed_; }  // nullptr unless N <= kMaxDotN
  static constexpr int kMaxDotN = 2;

 private:
  struct Free { void operator()(float* p) const { std::free(p); } };
  std::unique_ptr<float, Free> owned_;
  const float* data_ = nullptr;
  const float* transposed_ = nullptr;
  int K_ = 0, N_ = 0;
};

// The A operand, read in place ("implicit im2col"): row m, column k = seg * seg_len + j is
// base[m * row_stride + seg_offset[seg] + j]. A dense row-major matrix is one segment; a
// convolution window is one segment per filter row (KW*Cin contiguous floats of NHWC input).
struct MatrixA {
  const float* base = nullptr;
  ptrdiff_t row_stride = 0;
  int seg_len = 0;
  int num_segs = 1;
  const ptrdiff_t* seg_offset = nullptr;  // nullptr: one segment at offset 0

  static MatrixA dense(const float* a, ptrdiff_t lda, int K) { return {a, lda, K, 1, nullptr}; }
  MatrixA rows_from(int64_t m) const {
    MatrixA r = *this;
    r.base += m * row_stride;
    return r;
  }
};

// C[m][n] = clamp(bias[n] + sum_k A[m][k] * B[k][n]) for m < M and n in [n_begin, n_end)
// (n_end < 0: B.cols()); n_begin must be a multiple of 16. C and bias are indexed by the
// full n. bias may be nullptr (zero). C rows are ldc floats apart; A and C must not overlap.
// A's K (seg_len * num_segs) must equal B.rows().
void gemm(int64_t M, const MatrixA& A, const PackedMatrix& B, const float* bias, float* C, ptrdiff_t ldc,
          const ActivationRange& act, int n_begin = 0, int n_end = -1);

}  // namespace qcal::kernels
