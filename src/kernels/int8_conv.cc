// Int8 kernels: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV, with TFLite's int8
// scheme: int8 activations with a per-tensor scale and zero point, symmetric int8 weights with
// one scale per output channel (or one for all), int32 bias at input_scale * weight_scale[c].
//
// Each output is an exact int32 accumulator sum((x - zp_in) * w) + bias, requantized per output
// channel as the chosen runtime does (int8_gemm.h: Requantizer). Since integer sums are exact,
// loop order and tiling never change a result: the outputs are bit-identical to LiteRT's
// (XNNPACK's) in kXnnpack mode, and to TFLite's reference kernels in kReference mode (which
// TFLite's builtin DEPTHWISE_CONV_2D and TRANSPOSE_CONV also match; its builtin CONV_2D and
// FULLY_CONNECTED run through ruy, which rounds the fixed-point product once instead of twice).
//
// CONV_2D: the int8 GEMM (int8_gemm.h) with weights packed at prepare(), on an im2col copy of
// each tile of output pixels (1x1 stride-1 convolutions read the input in place).
// FULLY_CONNECTED: the same GEMM on the input rows. DEPTHWISE_CONV_2D: direct loops over
// 16 channels at a time (AVX-512) or plain loops the compiler vectorizes. TRANSPOSE_CONV: one
// GEMM to per-tap int32 columns, then each output pixel gathers its taps.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gemm.h"
#include "int8_gemm.h"
#include "qcal/kernel.h"
#include "quant_util.h"

#if defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
#endif

namespace qcal {
namespace {

using kernels::int8::GemmOutput;
using kernels::int8::PackedB;
using kernels::int8::Requantizer;

constexpr int kRowTile = 4;          // output rows per parallel tile (depthwise, transpose conv gather)
constexpr int kColumnTile = 64;      // output channels per parallel tile when running on several threads
constexpr size_t kATileBytes = 96 << 10;  // im2col / A tile: stays in L2 while the GEMM sweeps the weights

std::string str(int64_t v) { return std::to_string(v); }

// ---- quantization checks -------------------------------------------------------------------

struct ActivationQuant {
  float scale;
  int32_t zero_point;
};

// An int8 activation tensor with one scale and zero point.
ActivationQuant activation_quant(const OpContext& ctx, const TensorData& t, const char* role) {
  ctx.expect_dtype(t, DType::kInt8, role);
  if (!t.quant || t.quant->scale.size() != 1)
    ctx.fail(std::string(role) + " must be quantized with one scale (has " + str(t.quant ? t.quant->scale.size() : 0) + ")");
  const float s = t.quant->scale[0];
  if (!std::isfinite(s) || s <= 0.0f) ctx.fail(std::string(role) + " has scale " + std::to_string(s) + ", must be positive");
  const int32_t zp = t.zero_point();
  if (zp < -128 || zp > 127) ctx.fail(std::string(role) + " has zero point " + str(zp) + ", outside int8");
  return {s, zp};
}

// Int8 weights: one scale, or one per output channel along `axis`. Zero points are 0
// (TFLite's int8 scheme), except that weights with one scale may have one zero point: what
// legacy uint8 weights become (lower_uint8_to_int8).
struct WeightQuant {
  std::vector<float> scales;
  int32_t zero_point = 0;
};

WeightQuant weight_quant(const OpContext& ctx, const TensorData& w, int axis, int channels) {
  ctx.expect_dtype(w, DType::kInt8, "filter");
  if (!w.quant || w.quant->scale.empty()) ctx.fail("filter is int8 but not quantized");
  const Quantization& q = *w.quant;
  if (q.scale.size() != 1 && static_cast<int>(q.scale.size()) != channels)
    ctx.fail("filter has " + str(q.scale.size()) + " scales, expected 1 or " + str(channels));
  if (q.scale.size() > 1 && q.quantized_dimension != axis)
    ctx.fail("filter is quantized along dimension " + str(q.quantized_dimension) + ", expected " + str(axis));
  WeightQuant wq{q.scale, 0};
  if (q.scale.size() == 1 && q.zero_point.size() == 1) {
    if (q.zero_point[0] < -128 || q.zero_point[0] > 127) ctx.fail("filter has zero point " + str(q.zero_point[0]) + ", outside int8");
    wq.zero_point = static_cast<int32_t>(q.zero_point[0]);
  } else {
    for (int64_t z : q.zero_point)
      if (z != 0) ctx.fail("per-channel filter zero points must be 0 (symmetric int8 weights), found " + str(z));
  }
  for (float s : q.scale)
    if (!std::isfinite(s) || s < 0.0f) ctx.fail("filter has scale " + std::to_string(s));
  return wq;
}

// C = requantize(acc - w_zp * sum_k (A[r][k] - in_zp)) for weights with a zero point: the GEMM
// gives acc = offset + sum_k A * B in int32, the row sums of A supply the rest.
void gemm_with_weight_zero_point(int64_t rows, const int8_t* a, ptrdiff_t lda, const PackedB& B, int n0, int n1,
                                 const int32_t* offset, const Requantizer& rq, int channel_base, int8_t* dst, ptrdiff_t ldd,
                                 int32_t in_zp, int32_t w_zp) {
  const int cols = B.cols(), K = B.rows();
  int32_t* acc = reinterpret_cast<int32_t*>(kernels::int8::scratch_bytes(static_cast<size_t>(rows) * cols * sizeof(int32_t), 1));
  kernels::int8::gemm(rows, a, lda, B, n0, n1, GemmOutput{offset, nullptr, 0, acc, cols});
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* row = a + r * lda;
    int32_t sum = 0;
    for (int k = 0; k < K; ++k) sum += row[k] - in_zp;
    const uint32_t correction = static_cast<uint32_t>(w_zp) * static_cast<uint32_t>(sum);
    int32_t* c = acc + r * cols;
    for (int n = n0; n < n1; ++n) c[n] = static_cast<int32_t>(static_cast<uint32_t>(c[n]) - correction);
    rq.run(c + n0, nullptr, channel_base + n0, n1 - n0, dst + r * ldd + n0);
  }
}

// The optional int32 bias [channels]; its scale is not checked (TFLite's int8 kernels don't).
void check_bias(const OpContext& ctx, int index, int channels) {
  if (!ctx.has_input(index)) return;
  ctx.expect_dtype(ctx.in(index), DType::kInt32, "bias");
  ctx.expect_shape(ctx.in(index), {channels}, "bias");
}

const int32_t* bias_of(const OpContext& ctx, int index) { return ctx.has_input(index) ? ctx.in(index).as<int32_t>() : nullptr; }

// Weights and bias are usually constants, packed once; otherwise they are packed per eval.
bool weights_known(const OpContext& ctx, int filter, int bias) {
  return ctx.in(filter).constant && (!ctx.has_input(bias) || ctx.in(bias).constant);
}

// ---- geometry ------------------------------------------------------------------------------

// One NHWC convolution window: input, output and filter sizes, strides, dilations, padding.
struct Window {
  int batch = 0, ih = 0, iw = 0, ic = 0, oh = 0, ow = 0;
  int kh = 0, kw = 0, sh = 1, sw = 1, dh = 1, dw = 1, pad_top = 0, pad_left = 0;
};

Window make_window(const OpContext& ctx, const TensorData& in, int kh, int kw, tflite::Padding padding, int sh, int sw,
                   int dh, int dw) {
  Window g;
  g.batch = in.dim(0), g.ih = in.dim(1), g.iw = in.dim(2), g.ic = in.dim(3);
  g.kh = kh, g.kw = kw, g.sh = sh, g.sw = sw, g.dh = dh, g.dw = dw;
  const kernels::WindowDim y = kernels::conv_window(ctx, padding, g.ih, kh, sh, dh);
  const kernels::WindowDim x = kernels::conv_window(ctx, padding, g.iw, kw, sw, dw);
  g.oh = y.out, g.ow = x.out, g.pad_top = y.pad_before, g.pad_left = x.pad_before;
  if (g.oh < 1 || g.ow < 1) ctx.fail("the filter is larger than the (padded) input");
  return g;
}

// For each output index along one dimension, the filter taps [lo, hi) that land inside the input.
std::vector<std::pair<int, int>> tap_ranges(int out, int in, int k, int stride, int dilation, int pad) {
  std::vector<std::pair<int, int>> r(out);
  for (int o = 0; o < out; ++o) {
    int lo = 0, hi = k;
    while (lo < k && o * stride - pad + lo * dilation < 0) ++lo;
    while (hi > lo && o * stride - pad + (hi - 1) * dilation >= in) --hi;
    r[o] = {lo, hi};
  }
  return r;
}

// Output pixels [p0, p1) of one image in tiles of up to `tile` pixels, times groups, times
// column tiles: the parallel work units of a GEMM-based kernel. Small GEMMs run on one thread
// (waking workers costs more than they save), and columns are only split when several threads
// would otherwise lack pixel tiles (a column tile repeats its pixels' im2col, cheap next to the
// GEMM). Results never depend on the split: integer sums are exact.
struct GemmTiles {
  int64_t pixels, tile;
  int groups, cols, col_tile, threads;
  int64_t count() const { return (pixels + tile - 1) / tile * groups * col_tiles(); }
  int col_tiles() const { return (cols + col_tile - 1) / col_tile; }
};

// Threads for `work` multiply-adds (or comparable steps): one below a few million.
int threads_for(const OpContext& ctx, double work) { return work >= 4e6 ? ctx.threads : 1; }

GemmTiles gemm_tiles(const OpContext& ctx, int64_t pixels, int K, int groups, int cols) {
  const int64_t tile = std::clamp<int64_t>(static_cast<int64_t>(kATileBytes / K) / 8 * 8, 8, 256);
  const int64_t pixel_tiles = (pixels + tile - 1) / tile * groups;
  const int threads = threads_for(ctx, static_cast<double>(pixels) * K * cols * groups);
  const int col_tile = threads > 1 && pixel_tiles < 2 * threads ? kColumnTile : (cols + 15) / 16 * 16;
  return {pixels, tile, groups, cols, col_tile, threads};
}

// ---- CONV_2D -------------------------------------------------------------------------------

class Conv2DInt8 final : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(2, 3, 1);
    const auto& o = options_of<tflite::Conv2DOptionsT>(*ctx.op);
    const TensorData& in = ctx.in(0);
    const TensorData& filter = ctx.in(1);
    const TensorData& out = ctx.out();
    ctx.expect_rank(in, 4, "input");
    ctx.expect_rank(filter, 4, "filter");
    if (in.size() == 0 || filter.size() == 0) ctx.fail("empty input or filter");
    const ActivationQuant qi = activation_quant(ctx, in, "input"), qo = activation_quant(ctx, out, "output");
    g_ = make_window(ctx, in, filter.dim(1), filter.dim(2), o.padding, o.stride_h, o.stride_w, o.dilation_h_factor,
                     o.dilation_w_factor);
    oc_ = filter.dim(0), gic_ = filter.dim(3);
    // TFLite infers groups from the channel counts (input C = groups * filter C).
    if (g_.ic % gic_ != 0) ctx.fail("input has " + str(g_.ic) + " channels, not a multiple of the filter's " + str(gic_));
    groups_ = g_.ic / gic_;
    if (oc_ % groups_ != 0) ctx.fail(str(oc_) + " output channels cannot be split into " + str(groups_) + " groups");
    goc_ = oc_ / groups_;
    ctx.expect_shape(out, {g_.batch, g_.oh, g_.ow, oc_}, "output");
    check_bias(ctx, 2, oc_);
    const WeightQuant wq = weight_quant(ctx, filter, 0, oc_);
    rq_.init(ctx, qi.scale, wq.scales, oc_, qo.scale, qo.zero_point, o.fused_activation_function);
    in_zp_ = qi.zero_point;
    w_zp_ = wq.zero_point;
    K_ = g_.kh * g_.kw * gic_;
    rows_ = tap_ranges(g_.oh, g_.ih, g_.kh, g_.sh, g_.dh, g_.pad_top);
    cols_ = tap_ranges(g_.ow, g_.iw, g_.kw, g_.sw, g_.dw, g_.pad_left);
    pointwise_ = g_.kh == 1 && g_.kw == 1 && g_.sh == 1 && g_.sw == 1 && groups_ == 1;
    if (weights_known(ctx, 1, 2)) weights_ = pack(ctx);
  }

  void eval(OpContext& ctx) const override {
    const int8_t* in = ctx.in(0).as<int8_t>();
    int8_t* out = ctx.out().as<int8_t>();
    Weights local;
    const Weights& w = weights_.B.empty() ? (local = pack(ctx)) : weights_;
    const GemmTiles tiles = gemm_tiles(ctx, static_cast<int64_t>(g_.oh) * g_.ow, K_, groups_, goc_);
    const size_t in_image = static_cast<size_t>(g_.ih) * g_.iw * g_.ic;
    for (int b = 0; b < g_.batch; ++b) {
      const int8_t* img = in + b * in_image;
      int8_t* dst = out + static_cast<size_t>(b) * tiles.pixels * oc_;
      kernels::parallel_tiles(tiles.count(), 1, tiles.threads, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const int ct = static_cast<int>(t % tiles.col_tiles());
          const int g = static_cast<int>(t / tiles.col_tiles() % groups_);
          const int64_t p0 = t / tiles.col_tiles() / groups_ * tiles.tile, p1 = std::min(tiles.pixels, p0 + tiles.tile);
          // A 1x1 stride-1 convolution reads its pixels in place; others copy their windows.
          const int8_t* a = img + p0 * g_.ic;
          ptrdiff_t lda = g_.ic;
          if (!pointwise_) {
            int8_t* cols = reinterpret_cast<int8_t*>(kernels::int8::scratch_bytes(static_cast<size_t>(tiles.tile) * K_, 0));
            im2col(img, p0, p1, g * gic_, cols);
            a = cols, lda = K_;
          }
          const int n0 = ct * tiles.col_tile, n1 = std::min(goc_, (ct + 1) * tiles.col_tile);
          if (w_zp_ != 0) {
            gemm_with_weight_zero_point(p1 - p0, a, lda, w.B[g], n0, n1, w.offset[g].data(), rq_, g * goc_,
                                        dst + p0 * oc_ + g * goc_, oc_, in_zp_, w_zp_);
            continue;
          }
          const GemmOutput o{w.offset[g].data(), &rq_, g * goc_, dst + p0 * oc_ + g * goc_, oc_};
          kernels::int8::gemm(p1 - p0, a, lda, w.B[g], n0, n1, o);
        }
      });
    }
  }

 private:
  struct Weights {
    std::vector<PackedB> B;                   // per group: B[k][n] = filter[g * goc + n][k], k = (ky, kx, ci)
    std::vector<std::vector<int32_t>> offset;  // per group and column: bias and zero-point correction
  };

  Weights pack(const OpContext& ctx) const {
    const int8_t* f = ctx.in(1).as<int8_t>();
    const int32_t* bias = bias_of(ctx, 2);
    Weights w;
    w.B.resize(groups_);
    for (int g = 0; g < groups_; ++g) {
      const int8_t* src = f + static_cast<size_t>(g) * goc_ * K_;
      w.B[g].pack(K_, goc_, [&](int k, int n) { return src[static_cast<size_t>(n) * K_ + k]; });
      w.offset.push_back(w.B[g].column_offsets(bias ? bias + g * goc_ : nullptr, in_zp_));
    }
    return w;
  }

  // Rows p0..p1-1 of the im2col matrix (channels [c0, c0 + gic) of each tap), K bytes apart.
  // Taps outside the image read the input zero point: (zp - zp) * w = 0.
  void im2col(const int8_t* img, int64_t p0, int64_t p1, int c0, int8_t* dst) const {
    const int8_t pad = static_cast<int8_t>(in_zp_);
    const int kw = g_.kw, gic = gic_, ic = g_.ic;
    const size_t tap_row = static_cast<size_t>(kw) * gic;
    // Without dilation and groups, the taps of one filter row that fall inside the image are
    // one contiguous run of input bytes.
    const bool runs = g_.dw == 1 && gic == ic;
    for (int64_t p = p0; p < p1; ++p) {
      const int oy = static_cast<int>(p / g_.ow), ox = static_cast<int>(p % g_.ow);
      const auto [ky_lo, ky_hi] = rows_[oy];
      const auto [kx_lo, kx_hi] = cols_[ox];
      const int ix0 = ox * g_.sw - g_.pad_left;
      int8_t* d = dst + (p - p0) * K_;
      for (int ky = 0; ky < g_.kh; ++ky, d += tap_row) {
        if (ky < ky_lo || ky >= ky_hi || kx_lo >= kx_hi) {
          std::memset(d, pad, tap_row);
          continue;
        }
        const int8_t* row = img + static_cast<size_t>(oy * g_.sh - g_.pad_top + ky * g_.dh) * g_.iw * ic + c0;
        if (kx_lo > 0) std::memset(d, pad, static_cast<size_t>(kx_lo) * gic);
        if (runs) {
          std::memcpy(d + static_cast<size_t>(kx_lo) * gic, row + static_cast<ptrdiff_t>(ix0 + kx_lo) * ic,
                      static_cast<size_t>(kx_hi - kx_lo) * gic);
        } else {
          for (int kx = kx_lo; kx < kx_hi; ++kx)
            std::memcpy(d + static_cast<size_t>(kx) * gic, row + static_cast<ptrdiff_t>(ix0 + kx * g_.dw) * ic, gic);
        }
        if (kx_hi < kw) std::memset(d + static_cast<size_t>(kx_hi) * gic, pad, static_cast<size_t>(kw - kx_hi) * gic);
      }
    }
  }

  Window g_;
  int oc_ = 0, gic_ = 0, goc_ = 0, groups_ = 1, K_ = 0;
  bool pointwise_ = false;
  int32_t in_zp_ = 0, w_zp_ = 0;
  Requantizer rq_;
  std::vector<std::pair<int, int>> rows_, cols_;  // per output row/column: the filter taps [lo, hi) inside the image
  Weights weights_;  // empty when filter or bias are not constant
};

// ---- DEPTHWISE_CONV_2D ---------------------------------------------------------------------

class DepthwiseConv2DInt8 final : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(2, 3, 1);
    const auto& o = options_of<tflite::DepthwiseConv2DOptionsT>(*ctx.op);
    const TensorData& in = ctx.in(0);
    const TensorData& filter = ctx.in(1);
    const TensorData& out = ctx.out();
    ctx.expect_rank(in, 4, "input");
    ctx.expect_rank(filter, 4, "filter");
    if (in.size() == 0 || filter.size() == 0) ctx.fail("empty input or filter");
    if (filter.dim(0) != 1) ctx.fail("filter must have shape [1, H, W, C * multiplier], has " + shape_str(filter.shape));
    const ActivationQuant qi = activation_quant(ctx, in, "input"), qo = activation_quant(ctx, out, "output");
    g_ = make_window(ctx, in, filter.dim(1), filter.dim(2), o.padding, o.stride_h, o.stride_w, o.dilation_h_factor,
                     o.dilation_w_factor);
    oc_ = filter.dim(3);
    if (oc_ % g_.ic != 0) ctx.fail("filter has " + str(oc_) + " channels, not a multiple of the input's " + str(g_.ic));
    mult_ = oc_ / g_.ic;
    // The multiplier in the options is redundant; 0 (unset) is accepted, anything else must agree.
    if (o.depth_multiplier != 0 && o.depth_multiplier != mult_)
      ctx.fail("depth_multiplier " + str(o.depth_multiplier) + " does not match the filter (" + str(oc_) +
               " channels for " + str(g_.ic) + " input channels)");
    ctx.expect_shape(out, {g_.batch, g_.oh, g_.ow, oc_}, "output");
    check_bias(ctx, 2, oc_);
    const WeightQuant wq = weight_quant(ctx, filter, 3, oc_);
    rq_.init(ctx, qi.scale, wq.scales, oc_, qo.scale, qo.zero_point, o.fused_activation_function);
    in_zp_ = qi.zero_point;
    w_zp_ = wq.zero_point;
#if defined(__AVX512BW__) && defined(__AVX512VL__)
    // (x - zp) * (w - w_zp) may not fit the int16 products of row_simd().
    simd_ = mult_ == 1 && g_.kh * g_.kw <= kMaxSimdTaps && w_zp_ == 0;
#endif
    if (simd_ && filter.constant) widened_ = widen(filter.as<int8_t>());
    rows_ = tap_ranges(g_.oh, g_.ih, g_.kh, g_.sh, g_.dh, g_.pad_top);
    cols_ = tap_ranges(g_.ow, g_.iw, g_.kw, g_.sw, g_.dw, g_.pad_left);
    // Output columns whose window lies inside the image horizontally: [inner_begin_, inner_end_).
    inner_begin_ = inner_end_ = 0;
    for (int ox = 0; ox < g_.ow; ++ox)
      if (cols_[ox] == std::pair<int, int>{0, g_.kw}) {
        if (inner_end_ == 0) inner_begin_ = ox;
        inner_end_ = ox + 1;
      }
  }

  void eval(OpContext& ctx) const override {
    const int8_t* in = ctx.in(0).as<int8_t>();
    const int8_t* w = ctx.in(1).as<int8_t>();  // [1, KH, KW, C*M]: tap-major, channel-minor
    const int32_t* bias = bias_of(ctx, 2);
    int8_t* out = ctx.out().as<int8_t>();
    std::vector<int16_t> local;
    const int16_t* w16 = !simd_ ? nullptr : widened_.empty() ? (local = widen(w)).data() : widened_.data();
    const size_t in_image = static_cast<size_t>(g_.ih) * g_.iw * g_.ic, out_image = static_cast<size_t>(g_.oh) * g_.ow * oc_;
    for (int b = 0; b < g_.batch; ++b) {
      const int8_t* img = in + b * in_image;
      int8_t* dst = out + b * out_image;
      const int threads = threads_for(ctx, static_cast<double>(out_image) * g_.kh * g_.kw);
      kernels::parallel_tiles(g_.oh, kRowTile, threads, [&](int64_t y0, int64_t y1) {
        int32_t* acc =
            reinterpret_cast<int32_t*>(kernels::int8::scratch_bytes(static_cast<size_t>(kBlock) * padded_c() * sizeof(int32_t), 1));
        for (int oy = static_cast<int>(y0); oy < y1; ++oy) {
          int8_t* out_row = dst + static_cast<size_t>(oy) * g_.ow * oc_;
#if defined(__AVX512BW__) && defined(__AVX512VL__)
          if (simd_) {
            row_simd(img, w16, bias, oy, acc, out_row);
            continue;
          }
#endif
          for (int ox = 0; ox < g_.ow; ++ox) {
            if (w_zp_ != 0) pixel<true>(img, w, bias, oy, ox, acc);
            else pixel<false>(img, w, bias, oy, ox, acc);
            rq_.run(acc, nullptr, 0, oc_, out_row + static_cast<size_t>(ox) * oc_);
          }
        }
      });
    }
  }

 private:
  int padded_c() const { return (oc_ + 15) / 16 * 16; }
  static constexpr int kMaxSimdTaps = 64;
  static constexpr int kBlock = 4;  // output pixels per block in row_simd()

  // pixel_simd's weights: int16, [taps][channels rounded up to 16], zero padded.
  std::vector<int16_t> widen(const int8_t* w) const {
    const int taps = g_.kh * g_.kw, C = padded_c();
    std::vector<int16_t> v(static_cast<size_t>(taps) * C, 0);
    for (int t = 0; t < taps; ++t)
      for (int c = 0; c < oc_; ++c) v[static_cast<size_t>(t) * C + c] = w[static_cast<size_t>(t) * oc_ + c];
    return v;
  }

  const int8_t* input_at(const int8_t* img, int oy, int ox, int ky, int kx) const {
    const int iy = oy * g_.sh - g_.pad_top + ky * g_.dh, ix = ox * g_.sw - g_.pad_left + kx * g_.dw;
    return img + (static_cast<size_t>(iy) * g_.iw + ix) * g_.ic;
  }

  // acc[c] = bias[c] + sum over taps inside the image of (x - zp) * w. (Members are copied to
  // locals first: acc could alias them as far as the compiler knows, which would stop it
  // vectorizing.)
  // kWeightZeroPoint: weights lowered from uint8 carry w_zp_; int8 models, the hot case, keep
  // the loop without the subtraction.
  template <bool kWeightZeroPoint>
  void pixel(const int8_t* img, const int8_t* w, const int32_t* bias, int oy, int ox, int32_t* acc) const {
    const int C = oc_, IC = g_.ic, M = mult_;
    const int32_t zp = in_zp_, wzp = kWeightZeroPoint ? w_zp_ : 0;
    const auto [ky_lo, ky_hi] = rows_[oy];
    const auto [kx_lo, kx_hi] = cols_[ox];
    if (bias) std::memcpy(acc, bias, static_cast<size_t>(C) * sizeof(int32_t));
    else std::fill(acc, acc + C, 0);
    for (int ky = ky_lo; ky < ky_hi; ++ky)
      for (int kx = kx_lo; kx < kx_hi; ++kx) {
        const int8_t* x = input_at(img, oy, ox, ky, kx);
        const int8_t* wt = w + static_cast<size_t>(ky * g_.kw + kx) * C;
        if (M == 1) {
          for (int c = 0; c < C; ++c) acc[c] += (x[c] - zp) * (wt[c] - wzp);
        } else {
          for (int c = 0; c < IC; ++c) {
            const int32_t v = x[c] - zp;
            for (int m = 0; m < M; ++m) acc[c * M + m] += v * (wt[c * M + m] - wzp);
          }
        }
      }
  }

#if defined(__AVX512BW__) && defined(__AVX512VL__)
  // Multiplier 1, AVX-512: 16 channels at a time, each accumulator in a register across all
  // taps inside the image; |x - zp| <= 255 and |w| <= 128, so each product fits in int16.
  // XNNPACK numerics requantize in registers too; TFLite's go through acc and
  // Requantizer::run. Output pixels whose window lies inside the image horizontally go in
  // blocks of kBlock, sharing each weight load; the others one at a time.
  void row_simd(const int8_t* img, const int16_t* w16, const int32_t* bias, int oy, int32_t* acc, int8_t* out_row) const {
    int ox = 0;
    for (; ox < inner_begin_; ++ox) pixel_simd(img, w16, bias, oy, ox, acc, out_row + static_cast<size_t>(ox) * oc_);
    for (; ox + kBlock <= inner_end_; ox += kBlock) block_simd(img, w16, bias, oy, ox, acc, out_row + static_cast<size_t>(ox) * oc_);
    for (; ox < g_.ow; ++ox) pixel_simd(img, w16, bias, oy, ox, acc, out_row + static_cast<size_t>(ox) * oc_);
  }

  void block_simd(const int8_t* img, const int16_t* w16, const int32_t* bias, int oy, int ox, int32_t* acc, int8_t* out) const {
    const int C = oc_, Cp = padded_c(), kw = g_.kw;
    const auto [ky_lo, ky_hi] = rows_[oy];
    const ptrdiff_t pixel_step = static_cast<ptrdiff_t>(g_.sw) * C, tap_step = static_cast<ptrdiff_t>(g_.dw) * C;
    const __m256i zp16 = _mm256_set1_epi16(static_cast<int16_t>(in_zp_));
    const bool fp32 = rq_.fp32();
    const kernels::int8::Fp32Lanes lanes(rq_);
    for (int c0 = 0; c0 < C; c0 += 16) {
      const __mmask16 m = kernels::int8::first_lanes(C - c0);
      __m512i a[kBlock];
      for (int p = 0; p < kBlock; ++p) a[p] = bias ? _mm512_maskz_loadu_epi32(m, bias + c0) : _mm512_setzero_si512();
      for (int ky = ky_lo; ky < ky_hi; ++ky) {
        const int8_t* xr = input_at(img, oy, ox, ky, 0) + c0;
        const int16_t* wr = w16 + static_cast<size_t>(ky) * kw * Cp + c0;
        for (int kx = 0; kx < kw; ++kx) {
          const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + static_cast<size_t>(kx) * Cp));
          for (int p = 0; p < kBlock; ++p) {
            const __m128i raw = _mm_maskz_loadu_epi8(m, xr + p * pixel_step + kx * tap_step);
            const __m256i x = _mm256_sub_epi16(_mm256_cvtepi8_epi16(raw), zp16);
            a[p] = _mm512_add_epi32(a[p], _mm512_cvtepi16_epi32(_mm256_mullo_epi16(x, wv)));
          }
        }
      }
      for (int p = 0; p < kBlock; ++p) {
        if (fp32) lanes.store(a[p], rq_.scales() + c0, m, out + static_cast<size_t>(p) * C + c0);
        else _mm512_storeu_si512(acc + static_cast<size_t>(p) * Cp + c0, a[p]);
      }
    }
    if (!fp32)
      for (int p = 0; p < kBlock; ++p) rq_.run(acc + static_cast<size_t>(p) * Cp, nullptr, 0, C, out + static_cast<size_t>(p) * C);
  }

  // One output pixel, any window.
  void pixel_simd(const int8_t* img, const int16_t* w16, const int32_t* bias, int oy, int ox, int32_t* acc, int8_t* out) const {
    const int8_t* xs[kMaxSimdTaps];
    const int16_t* ws[kMaxSimdTaps];
    int n = 0;
    const int C = oc_, Cp = padded_c();
    const auto [ky_lo, ky_hi] = rows_[oy];
    const auto [kx_lo, kx_hi] = cols_[ox];
    for (int ky = ky_lo; ky < ky_hi; ++ky)
      for (int kx = kx_lo; kx < kx_hi; ++kx, ++n) {
        xs[n] = input_at(img, oy, ox, ky, kx);
        ws[n] = w16 + static_cast<size_t>(ky * g_.kw + kx) * Cp;
      }
    const __m256i zp16 = _mm256_set1_epi16(static_cast<int16_t>(in_zp_));
    const bool fp32 = rq_.fp32();
    const kernels::int8::Fp32Lanes lanes(rq_);
    for (int c0 = 0; c0 < C; c0 += 16) {
      const __mmask16 m = kernels::int8::first_lanes(C - c0);
      __m512i a = bias ? _mm512_maskz_loadu_epi32(m, bias + c0) : _mm512_setzero_si512();
      for (int t = 0; t < n; ++t) {
        const __m256i x = _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_maskz_loadu_epi8(m, xs[t] + c0)), zp16);
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ws[t] + c0));
        a = _mm512_add_epi32(a, _mm512_cvtepi16_epi32(_mm256_mullo_epi16(x, wv)));
      }
      if (fp32) lanes.store(a, rq_.scales() + c0, m, out + c0);
      else _mm512_storeu_si512(acc + c0, a);
    }
    if (!fp32) rq_.run(acc, nullptr, 0, C, out);
  }
#endif

  Window g_;
  int oc_ = 0, mult_ = 1;
  int32_t in_zp_ = 0, w_zp_ = 0;
  Requantizer rq_;
  bool simd_ = false;             // row_simd() applies
  int inner_begin_ = 0, inner_end_ = 0;
  std::vector<int16_t> widened_;  // see widen(); empty unless simd_ and the filter is constant
  std::vector<std::pair<int, int>> rows_, cols_;  // per output row/column: the filter taps [lo, hi) inside the image
};

// ---- FULLY_CONNECTED -----------------------------------------------------------------------

class FullyConnectedInt8 final : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(2, 3, 1);
    const auto& o = options_of<tflite::FullyConnectedOptionsT>(*ctx.op);
    const TensorData& in = ctx.in(0);
    const TensorData& weights = ctx.in(1);
    const TensorData& out = ctx.out();
    if (o.weights_format != tflite::FullyConnectedOptionsWeightsFormat::DEFAULT)
      ctx.fail("weights format " + std::string(tflite::EnumNameFullyConnectedOptionsWeightsFormat(o.weights_format)) +
               " is not supported");
    ctx.expect_rank(weights, 2, "weights");
    units_ = weights.dim(0), depth_ = weights.dim(1);
    if (units_ < 1 || depth_ < 1) ctx.fail("weights have shape " + shape_str(weights.shape));
    const ActivationQuant qi = activation_quant(ctx, in, "input"), qo = activation_quant(ctx, out, "output");
    if (in.rank() < 1 || in.size() % depth_ != 0)
      ctx.fail("input " + shape_str(in.shape) + " cannot be flattened into rows of " + str(depth_));
    rows_ = in.size() / depth_;
    // TFLite sizes the output [rows, units] (or the input's shape with the last dim replaced
    // when keep_num_dims); accept any declared shape with those elements ending in units.
    if (out.rank() < 1 || out.dim(-1) != units_ || out.size() != rows_ * units_)
      ctx.fail("output has shape " + shape_str(out.shape) + ", expected " + str(rows_) + " rows of " + str(units_));
    if (o.keep_num_dims && in.dim(-1) != depth_)
      ctx.fail("keep_num_dims needs the input's last dimension (" + str(in.dim(-1)) + ") to equal " + str(depth_));
    check_bias(ctx, 2, units_);
    const WeightQuant wq = weight_quant(ctx, weights, 0, units_);
    rq_.init(ctx, qi.scale, wq.scales, units_, qo.scale, qo.zero_point, o.fused_activation_function,
             /*fc_per_tensor=*/wq.scales.size() == 1);
    in_zp_ = qi.zero_point;
    w_zp_ = wq.zero_point;
    if (weights_known(ctx, 1, 2)) {
      B_ = pack(ctx, offset_);
      packed_ = true;
    }
  }

  void eval(OpContext& ctx) const override {
    const int8_t* in = ctx.in(0).as<int8_t>();
    int8_t* out = ctx.out().as<int8_t>();
    PackedB local;
    std::vector<int32_t> local_offset;
    const PackedB& B = packed_ ? B_ : (local = pack(ctx, local_offset));
    const std::vector<int32_t>& offset = packed_ ? offset_ : local_offset;
    const GemmTiles tiles = gemm_tiles(ctx, rows_, depth_, 1, units_);
    kernels::parallel_tiles(tiles.count(), 1, tiles.threads, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int ct = static_cast<int>(t % tiles.col_tiles());
        const int64_t r0 = t / tiles.col_tiles() * tiles.tile, r1 = std::min(rows_, r0 + tiles.tile);
        const int n0 = ct * tiles.col_tile, n1 = std::min(units_, (ct + 1) * tiles.col_tile);
        if (w_zp_ != 0) {
          gemm_with_weight_zero_point(r1 - r0, in + r0 * depth_, depth_, B, n0, n1, offset.data(), rq_, 0, out + r0 * units_, units_,
                                      in_zp_, w_zp_);
          continue;
        }
        const GemmOutput o{offset.data(), &rq_, 0, out + r0 * units_, units_};
        kernels::int8::gemm(r1 - r0, in + r0 * depth_, depth_, B, n0, n1, o);
      }
    });
  }

 private:
  // B[k][n] = weights[n][k].
  PackedB pack(const OpContext& ctx, std::vector<int32_t>& offset) const {
    const int8_t* w = ctx.in(1).as<int8_t>();
    PackedB B;
    B.pack(depth_, units_, [&](int k, int n) { return w[static_cast<size_t>(n) * depth_ + k]; });
    offset = B.column_offsets(bias_of(ctx, 2), in_zp_);
    return B;
  }

  int units_ = 0, depth_ = 0;
  int64_t rows_ = 0;
  int32_t in_zp_ = 0, w_zp_ = 0;
  Requantizer rq_;
  bool packed_ = false;
  PackedB B_;
  std::vector<int32_t> offset_;
};

// ---- TRANSPOSE_CONV ------------------------------------------------------------------------

// Inputs (output_shape int32[4], weights [Cout, KH, KW, Cin], input[, bias]). Every input pixel
// contributes sum_ci (x - zp) * w[co][ky][kx][ci] to output (iy * sh - pad_top + ky,
// ix * sw - pad_left + kx): one GEMM gives those columns [pixels x (KH*KW*Cout)] in int32, then
// each output pixel adds up the taps that reach it (in any order: the sums are exact), adds
// the bias and requantizes.
class TransposeConvInt8 final : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(3, 4, 1);
    const auto& o = options_of<tflite::TransposeConvOptionsT>(*ctx.op);
    const TensorData& shape = ctx.in(0);
    ctx.expect_dtype(shape, DType::kInt32, "output_shape");
    ctx.expect_shape(shape, {4}, "output_shape");
    ctx.expect_constant(0, "output_shape");
    const TensorData& filter = ctx.in(1);
    const TensorData& in = ctx.in(2);
    const TensorData& out = ctx.out();
    const int32_t* s = shape.as<int32_t>();
    ctx.expect_shape(out, {s[0], s[1], s[2], s[3]}, "output (from output_shape)");
    ctx.expect_rank(in, 4, "input");
    ctx.expect_rank(filter, 4, "filter");
    if (in.size() == 0 || filter.size() == 0 || out.size() == 0) ctx.fail("empty input, filter or output");
    batch_ = in.dim(0), ih_ = in.dim(1), iw_ = in.dim(2), ic_ = in.dim(3);
    oc_ = filter.dim(0), kh_ = filter.dim(1), kw_ = filter.dim(2);
    oh_ = out.dim(1), ow_ = out.dim(2);
    if (filter.dim(3) != ic_) ctx.fail("filter " + shape_str(filter.shape) + " does not match the input's " + str(ic_) + " channels");
    if (out.dim(0) != batch_ || out.dim(3) != oc_)
      ctx.fail("output " + shape_str(out.shape) + " does not match batch " + str(batch_) + " and " + str(oc_) + " output channels");
    const ActivationQuant qi = activation_quant(ctx, in, "input"), qo = activation_quant(ctx, out, "output");
    check_bias(ctx, 3, oc_);
    const WeightQuant wq = weight_quant(ctx, filter, 0, oc_);
    if (wq.zero_point != 0) ctx.fail("filter zero point " + str(wq.zero_point) + " is not supported (only 0)");
    rq_.init(ctx, qi.scale, wq.scales, oc_, qo.scale, qo.zero_point, o.fused_activation_function);
    in_zp_ = qi.zero_point;
    // TFLite pads as the forward convolution from the output to the input would.
    const int sh = o.stride_h, sw = o.stride_w;
    const int pad_top = kernels::conv_window(ctx, o.padding, oh_, kh_, sh, 1).pad_before;
    const int pad_left = kernels::conv_window(ctx, o.padding, ow_, kw_, sw, 1).pad_before;
    taps(oh_, ih_, kh_, sh, pad_top, row_begin_, row_taps_);
    taps(ow_, iw_, kw_, sw, pad_left, col_begin_, col_taps_);
    if (filter.constant) {
      B_ = pack(ctx, offset_);
      packed_ = true;
    }
  }

  void eval(OpContext& ctx) const override {
    const int8_t* in = ctx.in(2).as<int8_t>();
    const int32_t* bias = bias_of(ctx, 3);
    int8_t* out = ctx.out().as<int8_t>();
    PackedB local;
    std::vector<int32_t> local_offset;
    const PackedB& B = packed_ ? B_ : (local = pack(ctx, local_offset));
    const std::vector<int32_t>& offset = packed_ ? offset_ : local_offset;
    const int ncols = B.cols();
    const int64_t pixels = static_cast<int64_t>(ih_) * iw_;
    int32_t* cols = reinterpret_cast<int32_t*>(kernels::int8::scratch_bytes(static_cast<size_t>(pixels) * ncols * sizeof(int32_t), 2));
    const GemmTiles tiles = gemm_tiles(ctx, pixels, ic_, 1, ncols);
    for (int b = 0; b < batch_; ++b) {
      const int8_t* img = in + b * pixels * ic_;
      int8_t* dst = out + static_cast<size_t>(b) * oh_ * ow_ * oc_;
      kernels::parallel_tiles(tiles.count(), 1, tiles.threads, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const int ct = static_cast<int>(t % tiles.col_tiles());
          const int64_t p0 = t / tiles.col_tiles() * tiles.tile, p1 = std::min(pixels, p0 + tiles.tile);
          const GemmOutput o{offset.data(), nullptr, 0, cols + p0 * ncols, ncols};
          kernels::int8::gemm(p1 - p0, img + p0 * ic_, ic_, B, ct * tiles.col_tile, std::min(ncols, (ct + 1) * tiles.col_tile), o);
        }
      });
      const int threads = threads_for(ctx, static_cast<double>(oh_) * ow_ * oc_ * kh_ * kw_);
      kernels::parallel_tiles(oh_, kRowTile, threads, [&](int64_t y0, int64_t y1) {
        int32_t* acc = reinterpret_cast<int32_t*>(kernels::int8::scratch_bytes(static_cast<size_t>(oc_) * sizeof(int32_t), 1));
        for (int oy = static_cast<int>(y0); oy < y1; ++oy)
          for (int ox = 0; ox < ow_; ++ox) {
            gather(cols, bias, oy, ox, acc);
            rq_.run(acc, nullptr, 0, oc_, dst + (static_cast<size_t>(oy) * ow_ + ox) * oc_);
          }
      });
    }
  }

 private:
  // Output row/column -> the (filter tap, input row/column) pairs that reach it.
  static void taps(int out, int in, int k, int stride, int pad, std::vector<int>& begin, std::vector<std::pair<int, int>>& list) {
    begin.assign(out + 1, 0);
    list.clear();
    for (int o = 0; o < out; ++o) {
      begin[o] = static_cast<int>(list.size());
      for (int t = 0; t < k; ++t) {
        const int v = o + pad - t;  // = input index * stride
        if (v >= 0 && v % stride == 0 && v / stride < in) list.push_back({t, v / stride});
      }
    }
    begin[out] = static_cast<int>(list.size());
  }

  // B[ci][(ky*KW + kx)*Cout + co] = filter[co][ky][kx][ci]; offsets hold only the zero-point
  // correction (the bias is per output pixel, added in gather()).
  PackedB pack(const OpContext& ctx, std::vector<int32_t>& offset) const {
    const int8_t* f = ctx.in(1).as<int8_t>();
    const int ntaps = kh_ * kw_;
    PackedB B;
    B.pack(ic_, ntaps * oc_, [&](int ci, int n) {
      const int t = n / oc_, co = n % oc_;
      return f[(static_cast<size_t>(co) * ntaps + t) * ic_ + ci];
    });
    offset = B.column_offsets(nullptr, in_zp_);
    return B;
  }

  void gather(const int32_t* cols, const int32_t* bias, int oy, int ox, int32_t* acc) const {
    if (bias) std::memcpy(acc, bias, static_cast<size_t>(oc_) * sizeof(int32_t));
    else std::fill(acc, acc + oc_, 0);
    const size_t ncols = static_cast<size_t>(kh_) * kw_ * oc_;
    for (int r = row_begin_[oy]; r < row_begin_[oy + 1]; ++r) {
      const auto [ky, iy] = row_taps_[r];
      for (int c = col_begin_[ox]; c < col_begin_[ox + 1]; ++c) {
        const auto [kx, ix] = col_taps_[c];
        const int32_t* v = cols + (static_cast<size_t>(iy) * iw_ + ix) * ncols + static_cast<size_t>(ky * kw_ + kx) * oc_;
        for (int co = 0; co < oc_; ++co) acc[co] = static_cast<int32_t>(static_cast<uint32_t>(acc[co]) + static_cast<uint32_t>(v[co]));
      }
    }
  }

  int batch_ = 0, ih_ = 0, iw_ = 0, ic_ = 0, oc_ = 0, kh_ = 0, kw_ = 0, oh_ = 0, ow_ = 0;
  int32_t in_zp_ = 0;
  Requantizer rq_;
  std::vector<int> row_begin_, col_begin_;
  std::vector<std::pair<int, int>> row_taps_, col_taps_;  // (filter tap, input index)
  bool packed_ = false;
  PackedB B_;
  std::vector<int32_t> offset_;
};

}  // namespace

void register_int8_conv_kernels(KernelRegistry& r) {
  using B = tflite::BuiltinOperator;
  r.add_builtin(B::CONV_2D, make_factory<Conv2DInt8>(), Numerics::kInt8);
  r.add_builtin(B::DEPTHWISE_CONV_2D, make_factory<DepthwiseConv2DInt8>(), Numerics::kInt8);
  r.add_builtin(B::FULLY_CONNECTED, make_factory<FullyConnectedInt8>(), Numerics::kInt8);
  r.add_builtin(B::TRANSPOSE_CONV, make_factory<TransposeConvInt8>(), Numerics::kInt8);
}

}  // namespace qcal
