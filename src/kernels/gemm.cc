#include "gemm.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace qcal::kernels {

// ---- helpers -------------------------------------------------------------------------------

ActivationRange activation_range(const OpContext& ctx, tflite::ActivationFunctionType act) {
  using A = tflite::ActivationFunctionType;
  switch (act) {
    case A::NONE: return {};
    case A::RELU: return {0.0f, std::numeric_limits<float>::infinity()};
    case A::RELU_N1_TO_1: return {-1.0f, 1.0f};
    case A::RELU6: return {0.0f, 6.0f};
    default:
      ctx.fail("fused activation " + std::string(tflite::EnumNameActivationFunctionType(act)) +
               " is not supported here (TFLite only fuses RELU, RELU_N1_TO_1 and RELU6 into this op)");
  }
}

namespace {

// The filter's extent in input pixels, (filter - 1) * dilation + 1, after checking the parameters.
int64_t filter_extent(const OpContext& ctx, int filter, int stride, int dilation) {
  if (stride < 1) ctx.fail("strides must be >= 1");
  if (dilation < 1) ctx.fail("dilation factors must be >= 1");
  if (filter < 1) ctx.fail("filter sizes must be >= 1");
  if (stride > kMaxWindowSpan) ctx.fail("stride " + std::to_string(stride) + " is too large (at most 2^30)");
  const int64_t extent = int64_t{filter - 1} * dilation + 1;
  if (extent > kMaxWindowSpan)
    ctx.fail("a filter of " + std::to_string(filter) + " taps at dilation " + std::to_string(dilation) + " spans " +
             std::to_string(extent) + " pixels (at most 2^30)");
  return extent;
}

int padding_before(const OpContext& ctx, int64_t in, int64_t out, int64_t extent, int64_t stride) {
  // out <= 2^31 and stride, extent <= 2^30: no overflow in 64 bits.
  const int64_t span = (out - 1) * stride + extent;
  if (span > kMaxWindowSpan)
    ctx.fail("the window spans " + std::to_string(span) + " pixels of a " + std::to_string(in) + "-pixel input (at most 2^30)");
  return static_cast<int>(std::max<int64_t>(0, (span - in) / 2));
}

}  // namespace

WindowDim conv_window(const OpContext& ctx, tflite::Padding padding, int in, int filter, int stride, int dilation) {
  const int64_t extent = filter_extent(ctx, filter, stride, dilation);
  const int64_t out = padding == tflite::Padding::SAME ? (int64_t{in} + stride - 1) / stride : (int64_t{in} + stride - extent) / stride;
  if (out < 1) return {static_cast<int>(std::max<int64_t>(out, -1)), 0};
  return {static_cast<int>(out), padding_before(ctx, in, out, extent, stride)};
}

int conv_padding_before(const OpContext& ctx, int in, int out, int filter, int stride, int dilation) {
  return padding_before(ctx, in, out, filter_extent(ctx, filter, stride, dilation), stride);
}

PoolWindow pool_window(const OpContext& ctx, const TensorData& in, tflite::Padding padding, int stride_w, int stride_h,
                       int filter_w, int filter_h) {
  PoolWindow g;
  g.batch = in.dim(0), g.ih = in.dim(1), g.iw = in.dim(2), g.c = in.dim(3);
  g.fh = filter_h, g.fw = filter_w, g.sh = stride_h, g.sw = stride_w;
  const WindowDim y = conv_window(ctx, padding, g.ih, g.fh, g.sh, 1), x = conv_window(ctx, padding, g.iw, g.fw, g.sw, 1);
  g.oh = y.out, g.ow = x.out, g.pad_top = y.pad_before, g.pad_left = x.pad_before;
  if (g.oh < 1 || g.ow < 1) ctx.fail("the filter is larger than the input");
  for (int oy = 0; oy < g.oh; ++oy)
    if (oy * g.sh - g.pad_top >= g.ih || oy * g.sh - g.pad_top + g.fh <= 0) ctx.fail("a pooling window lies outside the input");
  for (int ox = 0; ox < g.ow; ++ox)
    if (ox * g.sw - g.pad_left >= g.iw || ox * g.sw - g.pad_left + g.fw <= 0) ctx.fail("a pooling window lies outside the input");
  return g;
}

void parallel_tiles(int64_t n, int64_t tile, int threads, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  tile = std::max<int64_t>(tile, 1);
  const int64_t tiles = (n + tile - 1) / tile;
  if (threads <= 1 || tiles == 1) {
    for (int64_t t = 0; t < tiles; ++t) body(t * tile, std::min(n, (t + 1) * tile));
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, tiles, 1), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t t = r.begin(); t < r.end(); ++t) body(t * tile, std::min(n, (t + 1) * tile));
  });
}

float* scratch_floats(size_t floats, int slot) {
  struct Slot {
    float* ptr = nullptr;
    size_t size = 0;
    ~Slot() { std::free(ptr); }
  };
  thread_local std::array<Slot, 4> slots;
  Slot& s = slots.at(slot);
  if (s.size < floats) {
    std::free(s.ptr);
    const size_t bytes = (std::max<size_t>(floats, 16) * sizeof(float) + 63) / 64 * 64;
    s.ptr = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!s.ptr) throw Error("out of memory allocating " + std::to_string(bytes) + " bytes of kernel scratch");
    s.size = bytes / sizeof(float);
  }
  return s.ptr;
}

// ---- packing -------------------------------------------------------------------------------

size_t PackedMatrix::storage_floats(int K, int N) {
  size_t n = static_cast<size_t>((N + 15) / 16) * K * 16;
  if (N <= kMaxDotN) n += static_cast<size_t>(N) * K;
  return std::max<size_t>(n, 16);
}

void PackedMatrix::pack_into(float* storage, const float* src, int K, int N, ptrdiff_t stride_k, ptrdiff_t stride_n) {
  K_ = K;
  N_ = N;
  const int strips = (N + 15) / 16;
  for (int s = 0; s < strips; ++s) {
    float* dst = storage + static_cast<size_t>(s) * K * 16;
    for (int k = 0; k < K; ++k)
      for (int l = 0; l < 16; ++l) {
        const int n = s * 16 + l;
        dst[k * 16 + l] = n < N ? src[k * stride_k + n * stride_n] : 0.0f;
      }
  }
  data_ = storage;
  transposed_ = nullptr;
  if (N <= kMaxDotN) {
    float* t = storage + static_cast<size_t>(strips) * K * 16;
    for (int n = 0; n < N; ++n)
      for (int k = 0; k < K; ++k) t[static_cast<size_t>(n) * K + k] = src[k * stride_k + n * stride_n];
    transposed_ = t;
  }
}

void PackedMatrix::pack(const float* src, int K, int N, ptrdiff_t stride_k, ptrdiff_t stride_n) {
  const size_t bytes = storage_floats(K, N) * sizeof(float);
  owned_.reset(static_cast<float*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
  if (!owned_) throw Error("out of memory packing a " + std::to_string(K) + "x" + std::to_string(N) + " weight matrix");
  pack_into(owned_.get(), src, K, N, stride_k, stride_n);
}

// ---- kernels -------------------------------------------------------------------------------

namespace {

constexpr ptrdiff_t kZeroOffset[1] = {0};

// What every micro-kernel call of one gemm() shares.
struct GemmArgs {
  ptrdiff_t lda;           // A row stride
  int seg_len, num_segs;   // A's K = seg_len * num_segs
  const ptrdiff_t* seg_offset;
  ptrdiff_t bstride;       // floats between B strips (K * 16)
  ptrdiff_t ldc;
  float lo, hi;
};

// Dot-product kernels are worth it when N is tiny: the strip kernel spends about K
// instructions per row whatever N is, a dot product about N * (2 per 16 k + ~4 for its share
// of the horizontal reduction and store).
bool use_dot(const GemmArgs& g, int N, int K) {
  // Off: a dot product sums k in 16 interleaved partial sums, while LiteRT (XNNPACK) sums
  // each output in one ascending chain, and qcal's float results follow LiteRT's bit for bit.
  (void)g, (void)N, (void)K;
  return false;
}

#if defined(__AVX512F__)

// GCC 12 schedules the k loop ~25% faster when it is unrolled by two in the source (clang
// does best without); both orders are the same FMA chain, so results do not change.
#if defined(__clang__)
constexpr bool kUnrollK2 = false;
#else
constexpr bool kUnrollK2 = true;
#endif

// `tiles` consecutive tiles of MR rows x NB strips of C: accumulators start at the bias,
// take one FMA per k (in ascending k), and are clamped and stored once. Only the last strip
// can be partial (`last` masks its lanes). Looping over tiles here, not in the caller, pays
// the call and setup once per GEMM call instead of once per tile (it matters for small K).
template <int MR, int NB, bool kClamp>
void micro_kernel(const GemmArgs& g, int64_t tiles, const float* A, const float* B, const float* bias, float* C,
                  __mmask16 last) {
  const ptrdiff_t lda = g.lda, bstride = g.bstride, ldc = g.ldc;
  const int num_segs = g.num_segs, seg_len = g.seg_len;  // both >= 1
  const ptrdiff_t* seg_offset = g.seg_offset;
  const __m512 vlo = _mm512_set1_ps(g.lo), vhi = _mm512_set1_ps(g.hi);
  for (int64_t t = 0; t < tiles; ++t, A += MR * lda, C += MR * ldc) {
    __m512 acc[MR][NB];
    for (int j = 0; j < NB; ++j) {
      const __m512 b = bias ? _mm512_maskz_loadu_ps(j == NB - 1 ? last : __mmask16(0xFFFF), bias + 16 * j) : _mm512_setzero_ps();
      for (int r = 0; r < MR; ++r) acc[r][j] = b;
    }
    const float* bk = B;
    int s = 0;
    do {
      // Rows 3q, 3q+1, 3q+2 are read from one pointer ap[q], advanced along k: with lda in a
      // register x86 addresses them as [p], [p + 4*lda], [p + 8*lda], so a 12-row tile needs
      // 4 row pointers instead of 12 (which did not fit the 16 GPRs and were spilled).
      constexpr int kGroups = (MR + 2) / 3;
      const float* ap[kGroups];
      for (int q = 0; q < kGroups; ++q) ap[q] = A + seg_offset[s] + 3 * q * lda;
      const auto row = [&](int r, int k) { return ap[r / 3][(r % 3) * lda + k]; };
      int k = 0;
      for (; kUnrollK2 && k + 2 <= seg_len; k += 2) {
        __m512 bv[NB], bw[NB];
        for (int j = 0; j < NB; ++j) bv[j] = _mm512_load_ps(bk + j * bstride);
        for (int j = 0; j < NB; ++j) bw[j] = _mm512_load_ps(bk + 16 + j * bstride);
        for (int r = 0; r < MR; ++r) {
          const __m512 av = _mm512_set1_ps(row(r, 0));
          for (int j = 0; j < NB; ++j) acc[r][j] = madd(av, bv[j], acc[r][j]);
        }
        for (int r = 0; r < MR; ++r) {
          const __m512 av = _mm512_set1_ps(row(r, 1));
          for (int j = 0; j < NB; ++j) acc[r][j] = madd(av, bw[j], acc[r][j]);
        }
        for (int q = 0; q < kGroups; ++q) ap[q] += 2;
        bk += 32;
      }
      for (; k < seg_len; ++k) {
        __m512 bv[NB];
        for (int j = 0; j < NB; ++j) bv[j] = _mm512_load_ps(bk + j * bstride);
        for (int r = 0; r < MR; ++r) {
          const __m512 av = _mm512_set1_ps(row(r, 0));
          for (int j = 0; j < NB; ++j) acc[r][j] = madd(av, bv[j], acc[r][j]);
        }
        for (int q = 0; q < kGroups; ++q) ap[q] += 1;
        bk += 16;
      }
    } while (++s < num_segs);
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < NB; ++j) {
        __m512 v = acc[r][j];
        if constexpr (kClamp) v = _mm512_maskz_min_ps(0xFFFF, vhi, _mm512_maskz_max_ps(0xFFFF, vlo, v));  // NaN-propagating order; maskz: GCC 12 warns on plain
        if (j == NB - 1)
          _mm512_mask_storeu_ps(C + r * ldc + 16 * j, last, v);
        else
          _mm512_storeu_ps(C + r * ldc + 16 * j, v);
      }
  }
}

using MicroFn = void (*)(const GemmArgs&, int64_t, const float*, const float*, const float*, float*, __mmask16);

// Rows per micro-tile for 1..4 strips: as many accumulators as the 32 zmm registers allow.
constexpr int kMaxNB = 4;
constexpr int kMR[kMaxNB + 1] = {0, 12, 12, 8, 6};
constexpr int kMaxMR = 12;

template <int NB, bool kClamp, size_t... R>
constexpr std::array<MicroFn, sizeof...(R)> make_row_table(std::index_sequence<R...>) {
  return {&micro_kernel<static_cast<int>(R) + 1, NB, kClamp>...};
}

template <bool kClamp>
struct Tables {
  static constexpr std::array<std::array<MicroFn, kMaxMR>, kMaxNB> fns = {
      make_row_table<1, kClamp>(std::make_index_sequence<kMaxMR>{}),
      make_row_table<2, kClamp>(std::make_index_sequence<kMaxMR>{}),
      make_row_table<3, kClamp>(std::make_index_sequence<kMaxMR>{}),
      make_row_table<4, kClamp>(std::make_index_sequence<kMaxMR>{}),
  };
};

// Sum of the 16 lanes in a fixed tree. The maskz forms because GCC 12 warns about the
// undefined pass-through of the plain ones (and of _mm512_reduce_add_ps).
inline float lane_sum(__m512 v) {
  v = _mm512_add_ps(v, _mm512_maskz_shuffle_f32x4(0xFFFF, v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_maskz_shuffle_f32x4(0xFFFF, v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  v = _mm512_add_ps(v, _mm512_maskz_permute_ps(0xFFFF, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_maskz_permute_ps(0xFFFF, v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_cvtss_f32(v);
}

// R rows x N (<= 2) columns as dot products over k, 16 lanes at a time; the lanes are summed
// at the end (a fixed tree), then the bias is added.
template <int R, int N>
void dot_kernel(const GemmArgs& g, const float* A, const float* Bt, int K, const float* bias, float* C) {
  __m512 acc[R][N];
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) acc[r][n] = _mm512_setzero_ps();
  for (int s = 0; s < g.num_segs; ++s) {
    const float* a = A + g.seg_offset[s];
    const float* b = Bt + static_cast<ptrdiff_t>(s) * g.seg_len;
    for (int j = 0; j < g.seg_len; j += 16) {
      const __mmask16 m = g.seg_len - j >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (g.seg_len - j)) - 1u);
      __m512 bv[N];
      for (int n = 0; n < N; ++n) bv[n] = _mm512_maskz_loadu_ps(m, b + static_cast<ptrdiff_t>(n) * K + j);
      for (int r = 0; r < R; ++r) {
        const __m512 av = _mm512_maskz_loadu_ps(m, a + r * g.lda + j);
        for (int n = 0; n < N; ++n) acc[r][n] = _mm512_fmadd_ps(av, bv[n], acc[r][n]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) {
      const float v = (bias ? bias[n] : 0.0f) + lane_sum(acc[r][n]);
      C[r * g.ldc + n] = clamp_activation(v, {g.lo, g.hi});
    }
}

// The lane sums of 16 vectors at once: lane i of the result is the sum of v[i]'s lanes,
// added in exactly lane_sum()'s order (blocks 0+2 and 1+3, then those two; inside the
// 128-bit block elements 0+2 and 1+3, then those two), so a row's result does not depend
// on whether it was reduced alone or in a group of 16.
inline __m512 lane_sums16(const __m512* v) {
  __m512 a[8], c[4], d[2];
  for (int i = 0; i < 8; ++i)
    a[i] = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(0xFFFF, v[2 * i], v[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_maskz_shuffle_f32x4(0xFFFF, v[2 * i], v[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  for (int i = 0; i < 4; ++i)  // block k of c[i]: the 4 partial sums of vector 4i + k
    c[i] = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(0xFFFF, a[2 * i], a[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_maskz_shuffle_f32x4(0xFFFF, a[2 * i], a[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  for (int i = 0; i < 2; ++i)
    d[i] = _mm512_add_ps(_mm512_maskz_shuffle_ps(0xFFFF, c[2 * i], c[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_maskz_shuffle_ps(0xFFFF, c[2 * i], c[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 r = _mm512_add_ps(_mm512_maskz_shuffle_ps(0xFFFF, d[0], d[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_maskz_shuffle_ps(0xFFFF, d[0], d[1], _MM_SHUFFLE(3, 1, 3, 1)));
  // Lane 4k + j of r holds vector k + 4j.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(order, r);
}

// 16 / N rows x N columns as dot products, reduced together by lane_sums16.
template <int N>
void dot_kernel16(const GemmArgs& g, const float* A, const float* Bt, int K, const float* bias, float* C) {
  constexpr int R = 16 / N;
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();
  for (int s = 0; s < g.num_segs; ++s) {
    const float* a = A + g.seg_offset[s];
    const float* b = Bt + static_cast<ptrdiff_t>(s) * g.seg_len;
    for (int j = 0; j < g.seg_len; j += 16) {
      const __mmask16 m = g.seg_len - j >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (g.seg_len - j)) - 1u);
      __m512 bv[N];
      for (int n = 0; n < N; ++n) bv[n] = _mm512_maskz_loadu_ps(m, b + static_cast<ptrdiff_t>(n) * K + j);
      for (int r = 0; r < R; ++r) {
        const __m512 av = _mm512_maskz_loadu_ps(m, a + r * g.lda + j);
        for (int n = 0; n < N; ++n) acc[r * N + n] = _mm512_fmadd_ps(av, bv[n], acc[r * N + n]);
      }
    }
  }
  __m512 sums = lane_sums16(acc);  // lane r * N + n: row r, column n
  alignas(64) float out[16];
  _mm512_store_ps(out, sums);
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n)
      C[r * g.ldc + n] = clamp_activation((bias ? bias[n] : 0.0f) + out[r * N + n], {g.lo, g.hi});
}

template <int N>
void dot_rows(const GemmArgs& g, int64_t M, const float* A, const float* Bt, int K, const float* bias, float* C) {
  constexpr int R16 = 16 / N;
  int64_t m = 0;
  for (; m + R16 <= M; m += R16) dot_kernel16<N>(g, A + m * g.lda, Bt, K, bias, C + m * g.ldc);
  for (; m < M; ++m) dot_kernel<1, N>(g, A + m * g.lda, Bt, K, bias, C + m * g.ldc);
}

void gemm_impl(int64_t M, const GemmArgs& g, const float* A, const PackedMatrix& B, const float* bias, float* C,
               bool clamp, int n_begin, int n_end) {
  const int K = B.rows(), N = B.cols();
  if (B.transposed() && use_dot(g, N, K)) {  // N <= 2: the range is all columns
    if (N == 1) dot_rows<1>(g, M, A, B.transposed(), K, bias, C);
    else dot_rows<2>(g, M, A, B.transposed(), K, bias, C);
    return;
  }
  const int s_begin = n_begin / 16, strips = (n_end + 15) / 16;
  // Split the strips into groups of nearly equal width (9 strips -> 3+3+3, not 4+4+1).
  const int groups = (strips - s_begin + kMaxNB - 1) / kMaxNB;
  const int per_group = (strips - s_begin + groups - 1) / groups;
  const auto& table = clamp ? Tables<true>::fns : Tables<false>::fns;
  const int tail = n_end - (strips - 1) * 16;
  const __mmask16 tail_mask = static_cast<__mmask16>((1u << tail) - 1u);

  for (int s0 = s_begin; s0 < strips; s0 += per_group) {
    const int nb = std::min(per_group, strips - s0);
    const int mr = kMR[nb];
    const __mmask16 last = s0 + nb == strips ? tail_mask : __mmask16(0xFFFF);
    const float* Bg = B.strips() + s0 * g.bstride;
    const float* bias_g = bias ? bias + 16 * s0 : nullptr;
    const auto& row_fns = table[nb - 1];
    const int64_t full = M / mr, m = full * mr;
    if (full) row_fns[mr - 1](g, full, A, Bg, bias_g, C + 16 * s0, last);
    if (m < M) row_fns[M - m - 1](g, 1, A + m * g.lda, Bg, bias_g, C + m * g.ldc + 16 * s0, last);
  }
}

#else  // portable fallback: the same arithmetic, left to the compiler's vectorizer

void gemm_impl(int64_t M, const GemmArgs& g, const float* A, const PackedMatrix& B, const float* bias, float* C,
               bool clamp, int n_begin, int n_end) {
  const int K = B.rows(), N = n_end;
  const ActivationRange act{g.lo, g.hi};
  for (int64_t m = 0; m < M; ++m) {
    const float* a = A + m * g.lda;
    for (int s = n_begin / 16; s < (N + 15) / 16; ++s) {
      const float* b = B.strips() + static_cast<size_t>(s) * K * 16;
      float acc[16];
      for (int l = 0; l < 16; ++l) acc[l] = bias && s * 16 + l < N ? bias[s * 16 + l] : 0.0f;
      for (int seg = 0; seg < g.num_segs; ++seg) {
        const float* as = a + g.seg_offset[seg];
        const float* bs = b + static_cast<size_t>(seg) * g.seg_len * 16;
        for (int k = 0; k < g.seg_len; ++k)
          for (int l = 0; l < 16; ++l) acc[l] += as[k] * bs[k * 16 + l];
      }
      const int lanes = std::min(16, N - s * 16);
      for (int l = 0; l < lanes; ++l) C[m * g.ldc + s * 16 + l] = clamp ? clamp_activation(acc[l], act) : acc[l];
    }
  }
}

#endif

}  // namespace

void gemm(int64_t M, const MatrixA& A, const PackedMatrix& B, const float* bias, float* C, ptrdiff_t ldc,
          const ActivationRange& act, int n_begin, int n_end) {
  if (n_end < 0 || n_end > B.cols()) n_end = B.cols();
  if (M <= 0 || n_begin >= n_end) return;
  GemmArgs g{A.row_stride, A.seg_len, A.num_segs, A.seg_offset ? A.seg_offset : kZeroOffset,
             static_cast<ptrdiff_t>(B.rows()) * 16, ldc, act.lo, act.hi};
  if (g.seg_len < 1 || g.num_segs < 1 || static_cast<int64_t>(g.seg_len) * g.num_segs != B.rows() ||
      (!A.seg_offset && A.num_segs != 1))
    throw Error("internal error: GEMM operand K mismatch (" + std::to_string(g.seg_len) + "x" + std::to_string(g.num_segs) +
                " vs " + std::to_string(B.rows()) + ")");
  if (n_begin % 16 != 0) throw Error("internal error: GEMM column range must start at a multiple of 16");
  gemm_impl(M, g, A.base, B, bias, C, !act.identity(), n_begin, n_end);
}

}  // namespace qcal::kernels
