// Float convolutions: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV and
// MediaPipe's Convolution2DTransposeBias, with TFLite's semantics (NHWC activations, OHWI
// filters, TFLite padding, fused bias + activation).
//
// CONV_2D and FULLY_CONNECTED are GEMMs (gemm.h) with weights packed at prepare(). NHWC makes
// a 1x1 stride-1 convolution a plain [pixels x Cin] x [Cin x Cout] product read in place; other
// convolutions read their windows in place too ("implicit im2col": one GEMM segment per filter
// row), from a zero-padded copy of the input rows when the window crosses the border.
// Depthwise convolutions vectorize over channels (innermost in NHWC) with direct loops,
// 8 output pixels x 16 channels per block.
#include <algorithm>
#include <cstring>
#include <vector>

#include "gemm.h"
#include "qcal/kernel.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace qcal {
namespace {

using kernels::ActivationRange;
using kernels::MatrixA;
using kernels::PackedMatrix;

// Output rows per parallel tile for windowed convolutions; pixels per tile for 1x1 ones.
// Fixed, so tiles never depend on the thread count.
constexpr int kRowTile = 8;
constexpr int64_t kPixelTile = 192;  // a multiple of the GEMM's row groups (12, 8, 6; 16 for dots)
constexpr int kColumnTile = 64;      // output channels per parallel tile (4 GEMM strips)

void expect_float(const OpContext& ctx, const TensorData& t, const char* role) { ctx.expect_dtype(t, DType::kFloat32, role); }

// Checks the optional bias input: absent, or float32 [n].
const TensorData* optional_bias(const OpContext& ctx, int index, int n) {
  if (!ctx.has_input(index)) return nullptr;
  const TensorData& b = ctx.in(index);
  expect_float(ctx, b, "bias");
  ctx.expect_shape(b, {n}, "bias");
  return &b;
}

// Copies rows [y0, y0 + rows) and columns [x0, x0 + width) of an NHWC image into dst
// ([rows][width][C]), with zeros where the range leaves the image: the convolution's padding.
void copy_padded(const float* img, int H, int W, int C, int y0, int x0, int rows, int width, float* dst) {
  const size_t row_floats = static_cast<size_t>(width) * C;
  const int xa = std::clamp(-x0, 0, width), xb = std::clamp(W - x0, xa, width);  // valid columns [xa, xb)
  for (int r = 0; r < rows; ++r) {
    float* d = dst + r * row_floats;
    const int y = y0 + r;
    if (y < 0 || y >= H) {
      std::memset(d, 0, row_floats * sizeof(float));
      continue;
    }
    if (xa > 0) std::memset(d, 0, static_cast<size_t>(xa) * C * sizeof(float));
    if (xb > xa)
      std::memcpy(d + static_cast<size_t>(xa) * C, img + (static_cast<size_t>(y) * W + (x0 + xa)) * C,
                  static_cast<size_t>(xb - xa) * C * sizeof(float));
    if (xb < width) std::memset(d + static_cast<size_t>(xb) * C, 0, static_cast<size_t>(width - xb) * C * sizeof(float));
  }
}

// ---- CONV_2D -------------------------------------------------------------------------------

class Conv2D final : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(2, 3, 1);
    const auto& o = options_of<tflite::Conv2DOptionsT>(*ctx.op);
    const TensorData& in = ctx.in(0);
    const TensorData& filter = ctx.in(1);
    const TensorData& out = ctx.out();
    expect_float(ctx, in, "input");
    expect_float(ctx, filter, "filter");
    expect_float(ctx, out, "output");
    ctx.expect_rank(in, 4, "input");
    ctx.expect_rank(filter, 4, "filter");
    if (in.size() == 0 || filter.size() == 0) ctx.fail("empty input or filter");
    act_ = kernels::activation_range(ctx, o.fused_activation_function);

    batch_ = in.dim(0), ih_ = in.dim(1), iw_ = in.dim(2), ic_ = in.dim(3);
    oc_ = filter.dim(0), kh_ = filter.dim(1), kw_ = filter.dim(2), gic_ = filter.dim(3);
    sh_ = o.stride_h, sw_ = o.stride_w, dh_ = o.dilation_h_factor, dw_ = o.dilation_w_factor;
    // TFLite infers groups from the channel counts (input C = groups * filter C).
    if (ic_ % gic_ != 0)
      ctx.fail("input has " + std::to_string(ic_) + " channels, not a multiple of the filter's " + std::to_string(gic_));
    groups_ = ic_ / gic_;
    if (oc_ % groups_ != 0)
      ctx.fail(std::to_string(oc_) + " output channels cannot be split into " + std::to_string(groups_) + " groups");
    goc_ = oc_ / groups_;
    optional_bias(ctx, 2, oc_);

    const kernels::WindowDim y = kernels::conv_window(ctx, o.padding, ih_, kh_, sh_, dh_);
    const kernels::WindowDim x = kernels::conv_window(ctx, o.padding, iw_, kw_, sw_, dw_);
    oh_ = y.out, ow_ = x.out, pad_top_ = y.pad_before, pad_left_ = x.pad_before;
    if (oh_ < 1 || ow_ < 1) ctx.fail("the filter is larger than the (padded) input");
    ctx.expect_shape(out, {batch_, oh_, ow_, oc_}, "output");

    pointwise_ = kh_ == 1 && kw_ == 1 && sh_ == 1 && sw_ == 1 && groups_ == 1;
    // Input columns one output row reads, from -pad_left on; rows likewise per tile.
    band_w_ = (ow_ - 1) * sw_ + (kw_ - 1) * dw_ + 1;
    needs_band_ = pad_top_ > 0 || pad_left_ > 0 || band_w_ > iw_ || (oh_ - 1) * sh_ + (kh_ - 1) * dh_ + 1 > ih_;
    row_stride_ = needs_band_ ? static_cast<ptrdiff_t>(band_w_) * ic_ : static_cast<ptrdiff_t>(iw_) * ic_;
    // One GEMM segment per filter row when a filter row is contiguous in memory (KW * Cin
    // floats), else one per tap (dilation, groups).
    if (dw_ == 1 && groups_ == 1) {
      seg_len_ = kw_ * ic_;
      for (int ky = 0; ky < kh_; ++ky) seg_offset_.push_back(ky * dh_ * row_stride_);
    } else {
      seg_len_ = gic_;
      for (int ky = 0; ky < kh_; ++ky)
        for (int kx = 0; kx < kw_; ++kx) seg_offset_.push_back(ky * dh_ * row_stride_ + static_cast<ptrdiff_t>(kx) * dw_ * ic_);
    }
    if (filter.constant) packed_ = pack(filter.as<float>(), nullptr);
  }

  void eval(OpContext& ctx) const override {
    const float* in = ctx.in(0).as<float>();
    const float* bias = ctx.has_input(2) ? ctx.in(2).as<float>() : nullptr;
    float* out = ctx.out().as<float>();
    std::vector<PackedMatrix> local;
    const std::vector<PackedMatrix>& packed =
        packed_.empty() ? (local = pack(ctx.in(1).as<float>(), kernels::scratch_floats(packed_floats(), 1))) : packed_;

    const size_t in_image = static_cast<size_t>(ih_) * iw_ * ic_, out_image = static_cast<size_t>(oh_) * ow_ * oc_;
    for (int b = 0; b < batch_; ++b) {
      const float* img = in + b * in_image;
      float* dst = out + b * out_image;
      if (pointwise_) {
        run_pointwise(ctx, img, packed[0], bias, dst);
        continue;
      }
      kernels::parallel_tiles(oh_, kRowTile, ctx.threads, [&](int64_t y0, int64_t y1) {
        const int rows = static_cast<int>(y1 - y0);
        const float* base = img;
        ptrdiff_t band_row0 = y0 * sh_;  // first band row of output row y0
        if (needs_band_) {
          const int band_rows = (rows - 1) * sh_ + (kh_ - 1) * dh_ + 1;
          float* band = kernels::scratch_floats(static_cast<size_t>(band_rows) * band_w_ * ic_);
          copy_padded(img, ih_, iw_, ic_, static_cast<int>(y0) * sh_ - pad_top_, -pad_left_, band_rows, band_w_, band);
          base = band;
          band_row0 = 0;
        }
        for (int y = static_cast<int>(y0); y < y1; ++y) {
          const float* row = base + (band_row0 + static_cast<ptrdiff_t>(y - y0) * sh_) * row_stride_;
          for (int g = 0; g < groups_; ++g) {
            const MatrixA A{row + g * gic_, static_cast<ptrdiff_t>(sw_) * ic_, seg_len_, static_cast<int>(seg_offset_.size()),
                            seg_offset_.data()};
            kernels::gemm(ow_, A, packed[g], bias ? bias + g * goc_ : nullptr,
                          dst + static_cast<size_t>(y) * ow_ * oc_ + g * goc_, oc_, act_);
          }
        }
      });
    }
  }

 private:
  size_t packed_floats() const { return groups_ * PackedMatrix::storage_floats(kh_ * kw_ * gic_, goc_); }

  // Per group g: B[k][n] = filter[g * goc + n][k] with k = (ky, kx, ci) flattened, OHWI order.
  std::vector<PackedMatrix> pack(const float* filter, float* storage) const {
    const int K = kh_ * kw_ * gic_;
    std::vector<PackedMatrix> p(groups_);
    for (int g = 0; g < groups_; ++g) {
      const float* src = filter + static_cast<size_t>(g) * goc_ * K;
      if (storage) {
        p[g].pack_into(storage, src, K, goc_, 1, K);
        storage += PackedMatrix::storage_floats(K, goc_);
      } else {
        p[g].pack(src, K, goc_, 1, K);
      }
    }
    return p;
  }

  // A 1x1 stride-1 convolution: one GEMM over all pixels of the image, split into fixed
  // tiles of pixels and output channels when running on several threads.
  void run_pointwise(const OpContext& ctx, const float* img, const PackedMatrix& B, const float* bias, float* dst) const {
    const int64_t pixels = static_cast<int64_t>(oh_) * ow_;
    if (ctx.threads <= 1) {
      kernels::gemm(pixels, MatrixA::dense(img, ic_, ic_), B, bias, dst, oc_, act_);
      return;
    }
    const int64_t pixel_tiles = (pixels + kPixelTile - 1) / kPixelTile;
    const int col_tiles = (oc_ + kColumnTile - 1) / kColumnTile;
    kernels::parallel_tiles(pixel_tiles * col_tiles, 1, ctx.threads, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t p0 = (t / col_tiles) * kPixelTile, p1 = std::min(pixels, p0 + kPixelTile);
        const int n0 = static_cast<int>(t % col_tiles) * kColumnTile;
        kernels::gemm(p1 - p0, MatrixA::dense(img + p0 * ic_, ic_, ic_), B, bias, dst + p0 * oc_, oc_, act_, n0,
                      std::min(oc_, n0 + kColumnTile));
      }
    });
  }

  int batch_ = 0, ih_ = 0, iw_ = 0, ic_ = 0, oc_ = 0, kh_ = 0, kw_ = 0, gic_ = 0, goc_ = 0, groups_ = 1;
  int sh_ = 1, sw_ = 1, dh_ = 1, dw_ = 1, oh_ = 0, ow_ = 0, pad_top_ = 0, pad_left_ = 0;
  int band_w_ = 0, seg_len_ = 0;
  bool pointwise_ = false, needs_band_ = false;
  ptrdiff_t row_stride_ = 0;
  std::vector<ptrdiff_t> seg_offset_;
  ActivationRange act_;
  std::vector<PackedMatrix> packed_;  // per group; empty when the filter is not constant
};

// ---- DEPTHWISE_CONV_2D ---------------------------------------------------------------------

struct DepthwiseGeometry {
  int ih, iw, ic, oc, mult, kh, kw, sh, sw, dh, dw, oh, ow, pad_top, pad_left;
  ActivationRange act;
};

// Any geometry: output pixels [x0, x1) of output row oy, plain loops over channels.
void depthwise_row_generic(const DepthwiseGeometry& g, const float* img, const float* w, const float* bias, int oy, int x0,
                           int x1, float* out_row) {
  for (int ox = x0; ox < x1; ++ox) {
    float* o = out_row + static_cast<size_t>(ox) * g.oc;
    for (int c = 0; c < g.oc; ++c) o[c] = bias ? bias[c] : 0.0f;
    // Taps column by column (kx outer, ky inner), as XNNPACK's depthwise kernels add them.
    for (int kx = 0; kx < g.kw; ++kx) {
      const int ix = ox * g.sw - g.pad_left + kx * g.dw;
      if (ix < 0 || ix >= g.iw) continue;
      for (int ky = 0; ky < g.kh; ++ky) {
        const int iy = oy * g.sh - g.pad_top + ky * g.dh;
        if (iy < 0 || iy >= g.ih) continue;
        const float* ip = img + (static_cast<size_t>(iy) * g.iw + ix) * g.ic;
        const float* wp = w + static_cast<size_t>(ky * g.kw + kx) * g.oc;
        if (g.mult == 1) {
          for (int c = 0; c < g.oc; ++c) o[c] += ip[c] * wp[c];
        } else {
          for (int c = 0; c < g.ic; ++c)
            for (int m = 0; m < g.mult; ++m) o[c * g.mult + m] += ip[c] * wp[c * g.mult + m];
        }
      }
    }
    if (!g.act.identity())
      for (int c = 0; c < g.oc; ++c) o[c] = kernels::clamp_activation(o[c], g.act);
  }
}

#if defined(__AVX512F__)

inline __mmask16 lanes_mask(int n) { return n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u); }

// NaN-propagating operand order; the maskz forms because GCC 12 warns on the plain ones.
inline __m512 clamp_vec(__m512 v, __m512 lo, __m512 hi) {
  return _mm512_maskz_min_ps(0xFFFF, hi, _mm512_maskz_max_ps(0xFFFF, lo, v));
}

// Depth multiplier 1, no dilation: any output pixels [x0, x1) of row oy, taps bounds-checked.
// Accumulation order (bias, then kx, ky ascending, a multiply and an add each) matches the
// interior kernel and XNNPACK.
void depthwise_row_checked(const DepthwiseGeometry& g, const float* img, const float* w, const float* bias, int oy, int x0,
                           int x1, float* out_row) {
  const int C = g.ic;
  const int ky_lo = std::max(0, g.pad_top - oy * g.sh), ky_hi = std::min(g.kh, g.ih + g.pad_top - oy * g.sh);
  const __m512 lo = _mm512_set1_ps(g.act.lo), hi = _mm512_set1_ps(g.act.hi);
  for (int ox = x0; ox < x1; ++ox) {
    const int ix0 = ox * g.sw - g.pad_left;
    const int kx_lo = std::max(0, -ix0), kx_hi = std::min(g.kw, g.iw - ix0);
    for (int c0 = 0; c0 < C; c0 += 16) {
      const __mmask16 m = lanes_mask(C - c0);
      __m512 acc = bias ? _mm512_maskz_loadu_ps(m, bias + c0) : _mm512_setzero_ps();
      for (int kx = kx_lo; kx < kx_hi; ++kx)
        for (int ky = ky_lo; ky < ky_hi; ++ky) {
          // Signed arithmetic: ix0 may be negative (left padding); only ix0 + kx is in range.
          const ptrdiff_t pixel = static_cast<ptrdiff_t>(oy * g.sh - g.pad_top + ky) * g.iw + ix0 + kx;
          const float* ip = img + pixel * C + c0;
          const float* wp = w + (static_cast<ptrdiff_t>(ky) * g.kw + kx) * C + c0;
          acc = kernels::madd(_mm512_maskz_loadu_ps(m, ip), _mm512_maskz_loadu_ps(m, wp), acc);
        }
      _mm512_mask_storeu_ps(out_row + static_cast<size_t>(ox) * C + c0, m, clamp_vec(acc, lo, hi));
    }
  }
}

// Output rows [y0, y1) for 3x3/5x5 filters at stride 1/2, 8 output pixels x 16 channels
// at a time (8 pixels share each weight load). Blocks whose window lies inside the image
// read the input in place; blocks at the left/right border (and the last, partial block)
// read a small zero-padded copy of their window, so every block runs the same sequence.
// Rows of the window above/below the image are skipped (their taps add nothing).
template <int KW, int S>
void depthwise_rows(const DepthwiseGeometry& g, const float* img, const float* w, const float* bias, int y0, int y1,
                    float* out) {
  constexpr int XB = 8, SPAN = (XB - 1) * S + KW;  // input columns one block reads
  const int C = g.ic;
  const ptrdiff_t in_row = static_cast<ptrdiff_t>(g.iw) * C;
  const __m512 lo = _mm512_set1_ps(g.act.lo), hi = _mm512_set1_ps(g.act.hi);
  float* window = kernels::scratch_floats(static_cast<size_t>(g.kh) * SPAN * 16);
  for (int oy = y0; oy < y1; ++oy) {
    const int iy0 = oy * S - g.pad_top;
    const int ky_lo = std::max(0, -iy0), ky_hi = std::min(g.kh, g.ih - iy0);
    const float* rows = img + (iy0 + ky_lo) * in_row;  // input row of tap ky_lo
    float* out_row = out + static_cast<ptrdiff_t>(oy) * g.ow * C;
    for (int c0 = 0; c0 < C; c0 += 16) {
      const __mmask16 m = lanes_mask(C - c0);
      const __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias + c0) : _mm512_setzero_ps();
      for (int x = 0; x < g.ow; x += XB) {
        const int ix0 = x * S - g.pad_left;
        const float* ip;
        ptrdiff_t row_stride, pixel_stride;
        if (ix0 >= 0 && ix0 + SPAN <= g.iw && x + XB <= g.ow) {
          ip = rows + static_cast<ptrdiff_t>(ix0) * C + c0, row_stride = in_row, pixel_stride = C;
        } else {
          for (int ky = ky_lo; ky < ky_hi; ++ky)
            for (int j = 0; j < SPAN; ++j) {
              const int ix = ix0 + j;
              const __m512 v = ix >= 0 && ix < g.iw
                                   ? _mm512_maskz_loadu_ps(m, rows + (ky - ky_lo) * in_row + static_cast<ptrdiff_t>(ix) * C + c0)
                                   : _mm512_setzero_ps();
              _mm512_store_ps(window + ((ky - ky_lo) * SPAN + j) * 16, v);
            }
          ip = window, row_stride = SPAN * 16, pixel_stride = 16;
        }
        __m512 acc[XB];
        for (int p = 0; p < XB; ++p) acc[p] = b;
        // Taps column by column (kx outer, ky inner), as XNNPACK adds them. (Written without
        // conditionals: GCC 12 -O3 miscompiled a variant that tested kx per (input, pixel).)
        for (int kx = 0; kx < KW; ++kx)
          for (int ky = ky_lo; ky < ky_hi; ++ky) {
            const float* rp = ip + (ky - ky_lo) * row_stride;
            const __m512 wv = _mm512_maskz_loadu_ps(m, w + static_cast<ptrdiff_t>(ky) * KW * C + c0 + kx * C);
            for (int p = 0; p < XB; ++p)
              acc[p] = kernels::madd(_mm512_maskz_loadu_ps(m, rp + (p * S + kx) * pixel_stride), wv, acc[p]);
          }
        const int valid = std::min(XB, g.ow - x);
        for (int p = 0; p < XB; ++p)
          if (p < valid) _mm512_mask_storeu_ps(out_row + static_cast<ptrdiff_t>(x + p) * C + c0, m, clamp_vec(acc[p], lo, hi));
      }
    }
  }
}

#endif

class DepthwiseConv2D final : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(2, 3, 1);
    const auto& o = options_of<tflite::DepthwiseConv2DOptionsT>(*ctx.op);
    const TensorData& in = ctx.in(0);
    const TensorData& filter = ctx.in(1);
    const TensorData& out = ctx.out();
    expect_float(ctx, in, "input");
    expect_float(ctx, filter, "filter");
    expect_float(ctx, out, "output");
    ctx.expect_rank(in, 4, "input");
    ctx.expect_rank(filter, 4, "filter");
    if (in.size() == 0 || filter.size() == 0) ctx.fail("empty input or filter");
    if (filter.dim(0) != 1) ctx.fail("filter must have shape [1, H, W, C * multiplier], has " + shape_str(filter.shape));
    DepthwiseGeometry& g = g_;
    g.act = kernels::activation_range(ctx, o.fused_activation_function);
    batch_ = in.dim(0), g.ih = in.dim(1), g.iw = in.dim(2), g.ic = in.dim(3);
    g.kh = filter.dim(1), g.kw = filter.dim(2), g.oc = filter.dim(3);
    if (g.oc % g.ic != 0)
      ctx.fail("filter has " + std::to_string(g.oc) + " channels, not a multiple of the input's " + std::to_string(g.ic));
    g.mult = g.oc / g.ic;
    // The multiplier in the options is redundant; 0 (unset) is accepted, anything else must agree.
    if (o.depth_multiplier != 0 && o.depth_multiplier != g.mult)
      ctx.fail("depth_multiplier " + std::to_string(o.depth_multiplier) + " does not match the filter (" +
               std::to_string(g.oc) + " channels for " + std::to_string(g.ic) + " input channels)");
    optional_bias(ctx, 2, g.oc);
    g.sh = o.stride_h, g.sw = o.stride_w, g.dh = o.dilation_h_factor, g.dw = o.dilation_w_factor;
    const kernels::WindowDim y = kernels::conv_window(ctx, o.padding, g.ih, g.kh, g.sh, g.dh);
    const kernels::WindowDim x = kernels::conv_window(ctx, o.padding, g.iw, g.kw, g.sw, g.dw);
    g.oh = y.out, g.ow = x.out, g.pad_top = y.pad_before, g.pad_left = x.pad_before;
    if (g.oh < 1 || g.ow < 1) ctx.fail("the filter is larger than the (padded) input");
    ctx.expect_shape(out, {batch_, g.oh, g.ow, g.oc}, "output");
    choose_path();
  }

  void eval(OpContext& ctx) const override {
    const DepthwiseGeometry& g = g_;
    const float* in = ctx.in(0).as<float>();
    const float* w = ctx.in(1).as<float>();  // [1, KH, KW, C*M] is already tap-major, channel-minor
    const float* bias = ctx.has_input(2) ? ctx.in(2).as<float>() : nullptr;
    float* out = ctx.out().as<float>();
    const size_t in_image = static_cast<size_t>(g.ih) * g.iw * g.ic, out_image = static_cast<size_t>(g.oh) * g.ow * g.oc;
    for (int b = 0; b < batch_; ++b) {
      const float* img = in + b * in_image;
      float* dst = out + b * out_image;
      kernels::parallel_tiles(g.oh, kRowTile, ctx.threads, [&](int64_t y0, int64_t y1) {
        rows(img, w, bias, static_cast<int>(y0), static_cast<int>(y1), dst);
      });
    }
  }

 private:
  void rows(const float* img, const float* w, const float* bias, int y0, int y1, float* dst) const {
    const DepthwiseGeometry& g = g_;
#if defined(__AVX512F__)
    if (rows_fn_) return rows_fn_(g, img, w, bias, y0, y1, dst);
    if (g.mult == 1 && g.dh == 1 && g.dw == 1) {
      for (int y = y0; y < y1; ++y) depthwise_row_checked(g, img, w, bias, y, 0, g.ow, dst + static_cast<size_t>(y) * g.ow * g.oc);
      return;
    }
#endif
    for (int y = y0; y < y1; ++y) depthwise_row_generic(g, img, w, bias, y, 0, g.ow, dst + static_cast<size_t>(y) * g.ow * g.oc);
  }

  // Picks the blocked fast path (AVX-512, multiplier 1, no dilation, 3x3/5x5, stride 1/2).
  void choose_path() {
#if defined(__AVX512F__)
    const DepthwiseGeometry& g = g_;
    if (g.mult != 1 || g.dh != 1 || g.dw != 1 || g.sh != g.sw) return;
    if (g.kw == 3 && g.sw == 1) rows_fn_ = &depthwise_rows<3, 1>;
    if (g.kw == 3 && g.sw == 2) rows_fn_ = &depthwise_rows<3, 2>;
    if (g.kw == 5 && g.sw == 1) rows_fn_ = &depthwise_rows<5, 1>;
    if (g.kw == 5 && g.sw == 2) rows_fn_ = &depthwise_rows<5, 2>;
#endif
  }

#if defined(__AVX512F__)
  using RowsFn = void (*)(const DepthwiseGeometry&, const float*, const float*, const float*, int, int, float*);
  RowsFn rows_fn_ = nullptr;
#endif
  DepthwiseGeometry g_{};
  int batch_ = 0;
};

// ---- FULLY_CONNECTED -----------------------------------------------------------------------

class FullyConnected final : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(2, 3, 1);
    const auto& o = options_of<tflite::FullyConnectedOptionsT>(*ctx.op);
    const TensorData& in = ctx.in(0);
    const TensorData& weights = ctx.in(1);
    const TensorData& out = ctx.out();
    expect_float(ctx, in, "input");
    expect_float(ctx, weights, "weights");
    expect_float(ctx, out, "output");
    if (o.weights_format != tflite::FullyConnectedOptionsWeightsFormat::DEFAULT)
      ctx.fail("weights format " + std::string(tflite::EnumNameFullyConnectedOptionsWeightsFormat(o.weights_format)) +
               " is only defined for quantized weights");
    ctx.expect_rank(weights, 2, "weights");
    units_ = weights.dim(0), depth_ = weights.dim(1);
    if (units_ < 1 || depth_ < 1) ctx.fail("weights have shape " + shape_str(weights.shape));
    act_ = kernels::activation_range(ctx, o.fused_activation_function);
    optional_bias(ctx, 2, units_);
    if (in.rank() < 1 || in.size() % depth_ != 0)
      ctx.fail("input " + shape_str(in.shape) + " cannot be flattened into rows of " + std::to_string(depth_));
    rows_ = in.size() / depth_;
    // TFLite sizes the output [rows, units] (or the input's shape with the last dim replaced
    // when keep_num_dims); accept any declared shape with those elements ending in units.
    if (out.rank() < 1 || out.dim(-1) != units_ || out.size() != rows_ * units_)
      ctx.fail("output has shape " + shape_str(out.shape) + ", expected " + std::to_string(rows_) + " rows of " +
               std::to_string(units_));
    if (o.keep_num_dims && in.dim(-1) != depth_)
      ctx.fail("keep_num_dims needs the input's last dimension (" + std::to_string(in.dim(-1)) + ") to equal " +
               std::to_string(depth_));
    if (weights.constant) packed_.pack(weights.as<float>(), depth_, units_, 1, depth_);
  }

  void eval(OpContext& ctx) const override {
    const float* in = ctx.in(0).as<float>();
    const float* bias = ctx.has_input(2) ? ctx.in(2).as<float>() : nullptr;
    float* out = ctx.out().as<float>();
    PackedMatrix local;
    const PackedMatrix* B = &packed_;
    if (!packed_.strips()) {
      local.pack_into(kernels::scratch_floats(PackedMatrix::storage_floats(depth_, units_), 1), ctx.in(1).as<float>(), depth_,
                      units_, 1, depth_);
      B = &local;
    }
    kernels::parallel_tiles(rows_, kPixelTile, ctx.threads, [&](int64_t r0, int64_t r1) {
      kernels::gemm(r1 - r0, MatrixA::dense(in + r0 * depth_, depth_, depth_), *B, bias, out + r0 * units_, units_, act_);
    });
  }

 private:
  int units_ = 0, depth_ = 0;
  int64_t rows_ = 0;
  ActivationRange act_;
  PackedMatrix packed_;
};

// ---- transposed convolutions ---------------------------------------------------------------

// TRANSPOSE_CONV and Convolution2DTransposeBias: every input pixel contributes
// input[iy][ix][:] . filter[co][ky][kx][:] to output (iy * sh - pad_top + ky, ix * sw - pad_left + kx).
// When the filter tiles the output exactly (stride == filter size, no padding: the usual 2x2
// stride-2 upsampling), each output pixel has one contribution, and one GEMM per filter row
// writes straight into the output, bias and activation fused. Otherwise one GEMM computes
// cols = input [pixels x Cin] x [Cin x (KH*KW*Cout)] and each output pixel gathers its taps
// from cols (in ky, kx order) and adds the bias.
class TransposedConvBase : public OpKernel {
 protected:
  // Checks, plans and packs; the subclass has set strides, padding and activation before.
  void finish_prepare(OpContext& ctx, const TensorData& in, const TensorData& filter, const TensorData& out) {
    expect_float(ctx, in, "input");
    expect_float(ctx, filter, "filter");
    expect_float(ctx, out, "output");
    ctx.expect_rank(in, 4, "input");
    ctx.expect_rank(filter, 4, "filter");
    ctx.expect_rank(out, 4, "output");
    if (in.size() == 0 || filter.size() == 0 || out.size() == 0) ctx.fail("empty input, filter or output");
    batch_ = in.dim(0), ih_ = in.dim(1), iw_ = in.dim(2), ic_ = in.dim(3);
    oc_ = filter.dim(0), kh_ = filter.dim(1), kw_ = filter.dim(2);
    if (filter.dim(3) != ic_)
      ctx.fail("filter " + shape_str(filter.shape) + " does not match the input's " + std::to_string(ic_) + " channels");
    if (out.dim(0) != batch_ || out.dim(3) != oc_)
      ctx.fail("output " + shape_str(out.shape) + " does not match batch " + std::to_string(batch_) + " and " +
               std::to_string(oc_) + " output channels");
    oh_ = out.dim(1), ow_ = out.dim(2);
  }

  // Called by the subclass once the padding is known.
  void plan(const TensorData& filter) {
    tiled_ = sh_ == kh_ && sw_ == kw_ && pad_top_ == 0 && pad_left_ == 0 && oh_ == int64_t{ih_} * kh_ && ow_ == int64_t{iw_} * kw_;
    // Output row/column -> the (filter tap, input row/column) pairs that reach it, in tap order.
    auto taps = [](int out, int in, int k, int stride, int pad, std::vector<int>& begin, std::vector<std::pair<int, int>>& list) {
      begin.assign(out + 1, 0);
      for (int o = 0; o < out; ++o) {
        begin[o] = static_cast<int>(list.size());
        for (int t = 0; t < k; ++t) {
          const int v = o + pad - t;  // = input index * stride
          if (v >= 0 && v % stride == 0 && v / stride < in) list.push_back({t, v / stride});
        }
      }
      begin[out] = static_cast<int>(list.size());
    };
    if (!tiled_) {
      taps(oh_, ih_, kh_, sh_, pad_top_, row_begin_, row_taps_);
      taps(ow_, iw_, kw_, sw_, pad_left_, col_begin_, col_taps_);
    }
    if (filter.constant) packed_ = pack(filter.as<float>(), nullptr);
  }

  void run(OpContext& ctx, const float* in, const float* filter, const float* bias, float* out) const {
    std::vector<PackedMatrix> local;
    const std::vector<PackedMatrix>& B =
        packed_.empty() ? (local = pack(filter, kernels::scratch_floats(packed_floats(), 1))) : packed_;
    const size_t in_image = static_cast<size_t>(ih_) * iw_ * ic_, out_image = static_cast<size_t>(oh_) * ow_ * oc_;
    if (tiled_) {
      // Bias per GEMM column (kx, co).
      std::vector<float> row_bias(static_cast<size_t>(kw_) * oc_, 0.0f);
      if (bias)
        for (int kx = 0; kx < kw_; ++kx) std::copy(bias, bias + oc_, row_bias.begin() + static_cast<size_t>(kx) * oc_);
      for (int b = 0; b < batch_; ++b) {
        const float* img = in + b * in_image;
        float* dst = out + b * out_image;
        kernels::parallel_tiles(ih_, kRowTile, ctx.threads, [&](int64_t y0, int64_t y1) {
          for (int iy = static_cast<int>(y0); iy < y1; ++iy)
            for (int ky = 0; ky < kh_; ++ky)
              kernels::gemm(iw_, MatrixA::dense(img + static_cast<size_t>(iy) * iw_ * ic_, ic_, ic_), B[ky], row_bias.data(),
                            dst + static_cast<size_t>(iy * kh_ + ky) * ow_ * oc_, static_cast<ptrdiff_t>(kw_) * oc_, act_);
        });
      }
      return;
    }
    const int ncols = kh_ * kw_ * oc_;
    const int64_t pixels = static_cast<int64_t>(ih_) * iw_;
    float* cols = kernels::scratch_floats(static_cast<size_t>(pixels) * ncols, 2);
    for (int b = 0; b < batch_; ++b) {
      const float* img = in + b * in_image;
      float* dst = out + b * out_image;
      kernels::parallel_tiles(pixels, kPixelTile, ctx.threads, [&](int64_t p0, int64_t p1) {
        kernels::gemm(p1 - p0, MatrixA::dense(img + p0 * ic_, ic_, ic_), B[0], nullptr, cols + p0 * ncols, ncols, {});
      });
      kernels::parallel_tiles(oh_, kRowTile, ctx.threads, [&](int64_t y0, int64_t y1) {
        for (int oy = static_cast<int>(y0); oy < y1; ++oy) gather_row(cols, bias, oy, dst + static_cast<size_t>(oy) * ow_ * oc_);
      });
    }
  }

  int batch_ = 0, ih_ = 0, iw_ = 0, ic_ = 0, oc_ = 0, kh_ = 0, kw_ = 0, oh_ = 0, ow_ = 0;
  int sh_ = 1, sw_ = 1, pad_top_ = 0, pad_left_ = 0;
  ActivationRange act_;

 private:
  size_t packed_floats() const {
    return tiled_ ? kh_ * PackedMatrix::storage_floats(ic_, kw_ * oc_)
                  : PackedMatrix::storage_floats(ic_, kh_ * kw_ * oc_) + static_cast<size_t>(ic_) * kh_ * kw_ * oc_;
  }

  // Tiled: per filter row ky, B[ci][kx*Cout + co] = filter[co][ky][kx][ci]. Otherwise one
  // B[ci][(ky*KW + kx)*Cout + co], transposed through scratch (or a temporary) first so the
  // packer sees a plain [K x N] matrix.
  std::vector<PackedMatrix> pack(const float* filter, float* storage) const {
    const int taps = kh_ * kw_;
    auto src = [&](int co, int t, int ci) { return filter[(static_cast<size_t>(co) * taps + t) * ic_ + ci]; };
    if (tiled_) {
      std::vector<PackedMatrix> p(kh_);
      const int n = kw_ * oc_;
      std::vector<float> tmp(static_cast<size_t>(ic_) * n);
      for (int ky = 0; ky < kh_; ++ky) {
        for (int kx = 0; kx < kw_; ++kx)
          for (int co = 0; co < oc_; ++co)
            for (int ci = 0; ci < ic_; ++ci) tmp[static_cast<size_t>(ci) * n + kx * oc_ + co] = src(co, ky * kw_ + kx, ci);
        if (storage) {
          p[ky].pack_into(storage, tmp.data(), ic_, n, n, 1);
          storage += PackedMatrix::storage_floats(ic_, n);
        } else {
          p[ky].pack(tmp.data(), ic_, n, n, 1);
        }
      }
      return p;
    }
    std::vector<PackedMatrix> p(1);
    const int n = taps * oc_;
    std::vector<float> tmp_owned;
    float* tmp;
    if (storage) {
      tmp = storage + PackedMatrix::storage_floats(ic_, n);
    } else {
      tmp_owned.resize(static_cast<size_t>(ic_) * n);
      tmp = tmp_owned.data();
    }
    for (int co = 0; co < oc_; ++co)
      for (int t = 0; t < taps; ++t)
        for (int ci = 0; ci < ic_; ++ci) tmp[static_cast<size_t>(ci) * n + t * oc_ + co] = src(co, t, ci);
    if (storage) p[0].pack_into(storage, tmp, ic_, n, n, 1);
    else p[0].pack(tmp, ic_, n, n, 1);
    return p;
  }

  void gather_row(const float* cols, const float* bias, int oy, float* out_row) const {
    const int ncols = kh_ * kw_ * oc_;
    std::fill(out_row, out_row + static_cast<size_t>(ow_) * oc_, 0.0f);
    for (int r = row_begin_[oy]; r < row_begin_[oy + 1]; ++r) {
      const auto [ky, iy] = row_taps_[r];
      const float* cols_row = cols + static_cast<size_t>(iy) * iw_ * ncols + ky * kw_ * oc_;
      for (int ox = 0; ox < ow_; ++ox) {
        float* o = out_row + static_cast<size_t>(ox) * oc_;
        for (int c = col_begin_[ox]; c < col_begin_[ox + 1]; ++c) {
          const auto [kx, ix] = col_taps_[c];
          const float* v = cols_row + static_cast<size_t>(ix) * ncols + kx * oc_;
          for (int co = 0; co < oc_; ++co) o[co] += v[co];
        }
      }
    }
    for (int i = 0; i < ow_ * oc_; ++i) out_row[i] = kernels::clamp_activation(out_row[i] + (bias ? bias[i % oc_] : 0.0f), act_);
  }

  bool tiled_ = false;
  std::vector<int> row_begin_, col_begin_;
  std::vector<std::pair<int, int>> row_taps_, col_taps_;  // (filter tap, input index)
  std::vector<PackedMatrix> packed_;  // empty when the filter is not constant
};

// TRANSPOSE_CONV: inputs (output_shape int32[4], weights [Cout, KH, KW, Cin], input[, bias]).
class TransposeConv final : public TransposedConvBase {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(3, 4, 1);
    const auto& o = options_of<tflite::TransposeConvOptionsT>(*ctx.op);
    const TensorData& shape = ctx.in(0);
    ctx.expect_dtype(shape, DType::kInt32, "output_shape");
    ctx.expect_shape(shape, {4}, "output_shape");
    ctx.expect_constant(0, "output_shape");
    const TensorData& out = ctx.out();
    const int32_t* s = shape.as<int32_t>();
    ctx.expect_shape(out, {s[0], s[1], s[2], s[3]}, "output (from output_shape)");
    sh_ = o.stride_h, sw_ = o.stride_w;
    act_ = kernels::activation_range(ctx, o.fused_activation_function);
    finish_prepare(ctx, ctx.in(2), ctx.in(1), out);
    optional_bias(ctx, 3, oc_);
    // TFLite pads as the forward convolution from the output to the input would.
    pad_top_ = kernels::conv_window(ctx, o.padding, oh_, kh_, sh_, 1).pad_before;
    pad_left_ = kernels::conv_window(ctx, o.padding, ow_, kw_, sw_, 1).pad_before;
    plan(ctx.in(1));
  }

  void eval(OpContext& ctx) const override {
    run(ctx, ctx.in(2).as<float>(), ctx.in(1).as<float>(), ctx.has_input(3) ? ctx.in(3).as<float>() : nullptr,
        ctx.out().as<float>());
  }
};

// MediaPipe's Convolution2DTransposeBias: inputs (input, weights [Cout, KH, KW, Cin], bias);
// custom options are the raw C struct TfLiteTransposeConvParams
// {int32 padding (1 SAME, 2 VALID); int32 stride_width; int32 stride_height}.
class TransposeConvBias final : public TransposedConvBase {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(3, 3, 1);
    const std::vector<uint8_t>& raw = ctx.op->custom_options;
    if (raw.size() < 12)
      ctx.fail("custom options must hold TfLiteTransposeConvParams (12 bytes), has " + std::to_string(raw.size()) + " bytes");
    int32_t params[3];
    std::memcpy(params, raw.data(), sizeof(params));
    const int padding = params[0];
    sw_ = params[1], sh_ = params[2];
    if (padding != 1 && padding != 2) ctx.fail("padding must be 1 (SAME) or 2 (VALID), is " + std::to_string(padding));
    if (sw_ < 1 || sh_ < 1) ctx.fail("strides must be >= 1");
    finish_prepare(ctx, ctx.in(0), ctx.in(1), ctx.out());
    if (!ctx.has_input(2)) ctx.fail("bias is required");
    optional_bias(ctx, 2, oc_);
    // MediaPipe's output size and padding (its Prepare): SAME trims the filter overhang.
    int total_h = 0, total_w = 0;
    if (padding == 1) {
      total_h = std::max(0, kh_ - (ih_ - 1) % sh_ - 1);
      total_w = std::max(0, kw_ - (iw_ - 1) % sw_ - 1);
    }
    // In 64 bits: a stride near INT_MAX would overflow int.
    auto out_size = [&](int64_t in, int64_t k, int64_t stride, int64_t total) {
      const int64_t n = stride * (in - 1) + k - total;
      if (n > kernels::kMaxWindowSpan)
        ctx.fail("stride " + std::to_string(stride) + " over " + std::to_string(in) + " pixels gives an output of " +
                 std::to_string(n) + " pixels (at most 2^30)");
      return static_cast<int>(n);
    };
    const int want_h = out_size(ih_, kh_, sh_, total_h), want_w = out_size(iw_, kw_, sw_, total_w);
    ctx.expect_shape(ctx.out(), {batch_, want_h, want_w, oc_}, "output");
    pad_top_ = total_h / 2, pad_left_ = total_w / 2;
    plan(ctx.in(1));
  }

  void eval(OpContext& ctx) const override {
    run(ctx, ctx.in(0).as<float>(), ctx.in(1).as<float>(), ctx.in(2).as<float>(), ctx.out().as<float>());
  }
};

}  // namespace

void register_conv_kernels(KernelRegistry& r) {
  r.add_builtin(tflite::BuiltinOperator::CONV_2D, make_factory<Conv2D>());
  r.add_builtin(tflite::BuiltinOperator::DEPTHWISE_CONV_2D, make_factory<DepthwiseConv2D>());
  r.add_builtin(tflite::BuiltinOperator::FULLY_CONNECTED, make_factory<FullyConnected>());
  r.add_builtin(tflite::BuiltinOperator::TRANSPOSE_CONV, make_factory<TransposeConv>());
  r.add_custom("Convolution2DTransposeBias", make_factory<TransposeConvBias>());
}

}  // namespace qcal
