// RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR on NHWC tensors, computing source coordinates
// exactly as TFLite's reference kernels (reference_ops::ResizeBilinear /
// ResizeNearestNeighbor):
//   scale = in / out, or (in - 1) / (out - 1) with align_corners (and out > 1), in float;
//   bilinear: src = (dst + 0.5) * scale - 0.5 with half_pixel_centers, else dst * scale;
//             lo = max(floor(src), 0), hi = min(ceil(src), in - 1), weights from src - lo;
//   nearest:  src = (dst + 0.5 if half_pixel_centers) * scale, floor'ed, or round'ed
//             (half away from zero) with align_corners; min(in - 1), max(0) with half pixels.
// Float32 bilinear evaluates those weights in XNNPACK's arithmetic form (what LiteRT runs;
// bit-identical to it). Int8 bilinear follows XNNPACK's s8-ibilinear with
// IntegerNumerics::kXnnpack and TFLite's ResizeBilinearInteger with kReference (see below).
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "qcal/kernel.h"

namespace qcal {
namespace {

using BOp = tflite::BuiltinOperator;

bool same_quantization(const Quantization* a, const Quantization* b) {
  const bool qa = a && a->has_scale(), qb = b && b->has_scale();
  if (!qa || !qb) return qa == qb;
  auto zp = [](const Quantization* q) { return q->zero_point.empty() ? std::vector<int64_t>{0} : q->zero_point; };
  return a->scale == b->scale && zp(a) == zp(b);
}

// Runs body(row_begin, row_end) over `rows` rows: in fixed tiles of rows when threads > 1
// (the split never depends on the thread count, and rows are independent).
template <typename F>
void for_rows(const OpContext& ctx, int64_t rows, int64_t work_per_row, F&& body) {
  constexpr int64_t kTileWork = 1 << 15;  // elements per task: enough to amortize scheduling
  const int64_t tile = std::max<int64_t>(1, kTileWork / std::max<int64_t>(1, work_per_row));
  if (ctx.threads <= 1 || rows <= tile) {
    body(int64_t{0}, rows);
    return;
  }
  const int64_t tiles = (rows + tile - 1) / tile;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, tiles, 1), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t t = r.begin(); t < r.end(); ++t) body(t * tile, std::min(rows, (t + 1) * tile));
  });
}

// Common checks: 4-D input and output of one type, batch and depth kept, the size input
// (a constant int32[2] when present) agreeing with the output's height and width.
class ResizeKernel : public OpKernel {
 public:
  explicit ResizeKernel(bool quantized) : quantized_(quantized) {}

 protected:
  void check(OpContext& ctx, bool align_corners, bool half_pixel_centers) {
    ctx.expect_io(2, 2, 1);
    const TensorData& in = ctx.in(0);
    const TensorData& out = ctx.out();
    ctx.expect_rank(in, 4, "input");
    ctx.expect_rank(out, 4, "output");
    if (in.dtype != out.dtype) ctx.fail(std::string("input is ") + dtype_name(in.dtype) + " but output is " + dtype_name(out.dtype));
    esize_ = dtype_size(in.dtype);
    if (esize_ == 0) ctx.fail(std::string("type ") + dtype_name(in.dtype) + " is not supported");
    if (in.bytes < static_cast<size_t>(in.size()) * esize_) ctx.fail("input has too little data for its shape");
    if (quantized_ && !same_quantization(in.quant, out.quant))
      ctx.fail("input and output must share scale and zero point");
    if (in.dim(0) != out.dim(0) || in.dim(3) != out.dim(3))
      ctx.fail("input " + shape_str(in.shape) + " and output " + shape_str(out.shape) + " differ in batch or depth");
    const TensorData& size = ctx.in(1);
    if (size.dtype != DType::kInt32 || size.size() != 2) ctx.fail("size must be int32[2], is " + std::string(dtype_name(size.dtype)) + shape_str(size.shape));
    if (size.constant) {
      if (size.bytes < 8) ctx.fail("size has too little data");
      if (size.as<int32_t>()[0] != out.dim(1) || size.as<int32_t>()[1] != out.dim(2))
        ctx.fail("size [" + std::to_string(size.as<int32_t>()[0]) + "," + std::to_string(size.as<int32_t>()[1]) +
                 "] does not match the output shape " + shape_str(out.shape));
    }
    if (in.dim(1) <= 0 || in.dim(2) <= 0 || out.dim(1) <= 0 || out.dim(2) <= 0) ctx.fail("empty spatial dimensions");
    align_corners_ = align_corners;
    half_pixel_ = half_pixel_centers;
  }

  // TFLite's scale, in float.
  float scale(int32_t in, int32_t out) const {
    return align_corners_ && out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1)
                                     : static_cast<float>(in) / static_cast<float>(out);
  }

  bool quantized_;
  bool align_corners_ = false, half_pixel_ = false;
  size_t esize_ = 4;
};

// ---- RESIZE_BILINEAR ----------------------------------------------------------------------

// Blends one output row of float32 pixels as XNNPACK's ibilinear kernel does (the path
// LiteRT takes): two horizontal lerps, then a vertical one, each a + (b - a) * alpha, never
// fused into an FMA, so results are bit-identical to LiteRT's.
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("fp-contract=off")))
#endif
void blend_row_f32(const float* __restrict row0, const float* __restrict row1, float* __restrict out,
                   const int32_t* __restrict lo, const int32_t* __restrict hi, const float* __restrict alpha, int64_t width,
                   int64_t depth, float alpha_y) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  for (int64_t x = 0; x < width; ++x, out += depth) {
    // Restrict: the output never aliases the input, so no per-pixel overlap checks.
    const float* __restrict tl = row0 + lo[x] * depth;
    const float* __restrict tr = row0 + hi[x] * depth;
    const float* __restrict bl = row1 + lo[x] * depth;
    const float* __restrict br = row1 + hi[x] * depth;
    const float ax = alpha[x];
    for (int64_t c = 0; c < depth; ++c) {
      const float top = tl[c] + (tr[c] - tl[c]) * ax;
      const float bottom = bl[c] + (br[c] - bl[c]) * ax;
      out[c] = top + (bottom - top) * alpha_y;
    }
  }
}

// Source taps: float32 uses XNNPACK's form of TFLite's coordinates (the same points and
// weights; the source coordinate is y * scale + (0.5 * scale - 0.5), clamped to
// [0, in - 1], lo = trunc, hi = min(lo + 1, in - 1)); uint8 uses TFLite's reference
// (ResizeBilinear<uint8_t>: float weights, + 0.5, truncated); int16, and int8 in reference
// mode, use TFLite's ResizeBilinearInteger (10-bit fixed point, 20-bit products rounded half
// away from zero). Int8 in xnnpack mode (what LiteRT runs) is XNNPACK's s8-ibilinear: the
// float taps above, weights lrintf(frac * 2^11), two horizontal lerps then a vertical one in
// 11-bit fixed point, one rounding shift by 22.
class ResizeBilinearKernel : public ResizeKernel {
 public:
  using ResizeKernel::ResizeKernel;
  void prepare(OpContext& ctx) override {
    const auto& opt = options_of<tflite::ResizeBilinearOptionsT>(*ctx.op);
    if (opt.align_corners && opt.half_pixel_centers) ctx.fail("align_corners and half_pixel_centers cannot both be true");
    check(ctx, opt.align_corners, opt.half_pixel_centers);
    const DType t = ctx.in(0).dtype;
    if (t != DType::kFloat32 && t != DType::kInt8 && t != DType::kUInt8 && t != DType::kInt16)
      ctx.fail(std::string("type ") + dtype_name(t) + " is not supported (float32, int8, uint8, int16)");
    const TensorData& in = ctx.in(0);
    const TensorData& out = ctx.out();
    xnnpack_int8_ = t == DType::kInt8 && ctx.integer_numerics == IntegerNumerics::kXnnpack;
    auto taps = [&](int32_t i, int32_t o) {
      if (t == DType::kFloat32 || xnnpack_int8_) return xnnpack_taps(i, o);
      if (t == DType::kUInt8) return reference_taps(i, o);
      return integer_taps(i, o);
    };
    ys_ = taps(in.dim(1), out.dim(1));
    xs_ = taps(in.dim(2), out.dim(2));
    for (const Tap& tx : xs_) {
      x_lo_.push_back(tx.lo);
      x_hi_.push_back(tx.hi);
      x_alpha_.push_back(tx.frac);
    }
  }

  void eval(OpContext& ctx) const override {
    switch (ctx.in(0).dtype) {
      case DType::kFloat32: run<float>(ctx); break;
      case DType::kUInt8: run<uint8_t>(ctx); break;
      case DType::kInt8: run<int8_t>(ctx); break;
      default: run<int16_t>(ctx); break;
    }
  }

 private:
  // Per output row/column: the two source indices and the fractional position, as a float
  // (src - lo) and in fixed point: XNNPACK's lrintf(frac * 2^11), or for TFLite's integer
  // kernel 10 bits (src * 1024 - lo * 1024).
  struct Tap {
    int32_t lo = 0, hi = 0;
    float frac = 0;
    int32_t q = 0;
  };

  std::vector<Tap> xnnpack_taps(int32_t in, int32_t out) const {
    const float s = scale(in, out);
    const float offset = 0.5f * s - 0.5f;
    std::vector<Tap> taps(out);
    for (int32_t i = 0; i < out; ++i) {
      float src = static_cast<float>(i) * s;
      if (half_pixel_) src = std::min(std::max(src + offset, 0.0f), static_cast<float>(in - 1));
      Tap& t = taps[i];
      t.lo = static_cast<int32_t>(src);
      t.hi = std::min(t.lo + 1, in - 1);
      t.frac = src - static_cast<float>(t.lo);
      t.q = static_cast<int32_t>(std::lrint(t.frac * 2048.0f));  // exact product, rounded to even
    }
    return taps;
  }

  std::vector<Tap> reference_taps(int32_t in, int32_t out) const {
    const float s = scale(in, out);
    std::vector<Tap> taps(out);
    for (int32_t i = 0; i < out; ++i) {
      const float src = half_pixel_ ? (static_cast<float>(i) + 0.5f) * s - 0.5f : static_cast<float>(i) * s;
      Tap& t = taps[i];
      t.lo = std::max(static_cast<int32_t>(std::floor(src)), 0);
      t.hi = std::min(static_cast<int32_t>(std::ceil(src)), in - 1);
      t.frac = src - static_cast<float>(t.lo);
    }
    return taps;
  }

  std::vector<Tap> integer_taps(int32_t in, int32_t out) const {
    // TFLite: scale_10 = round(1024 * in / out) in integers (or (in-1)/(out-1)).
    int32_t s10 = ((1 << 10) * in + out / 2) / out;
    if (align_corners_ && out > 1) s10 = ((1 << 10) * (in - 1) + (out - 1) / 2) / (out - 1);
    std::vector<Tap> taps(out);
    for (int32_t i = 0; i < out; ++i) {
      const int32_t src = half_pixel_ ? i * s10 + s10 / 2 - (1 << 9) : i * s10;
      Tap& t = taps[i];
      // C++ division truncates toward zero, as in TFLite (src >= -512 here).
      t.lo = std::max(src / (1 << 10), 0);
      t.hi = std::min((src + (1 << 10) - 1) / (1 << 10), in - 1);
      t.q = src - (1 << 10) * t.lo;
    }
    return taps;
  }

  template <typename T>
  void run(OpContext& ctx) const {
    const TensorData& in = ctx.in(0);
    TensorData& out = ctx.out();
    const int64_t batches = in.dim(0), ih = in.dim(1), iw = in.dim(2), depth = in.dim(3);
    const int64_t oh = out.dim(1), ow = out.dim(2);
    const T* src = in.as<T>();
    T* dst = out.as<T>();
    for_rows(ctx, batches * oh, ow * depth, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t b = r / oh, y = r % oh;
        const Tap& ty = ys_[y];
        const T* row0 = src + (b * ih + ty.lo) * iw * depth;
        const T* row1 = src + (b * ih + ty.hi) * iw * depth;
        T* o = dst + r * ow * depth;
        if constexpr (std::is_same_v<T, float>) {
          blend_row_f32(row0, row1, o, x_lo_.data(), x_hi_.data(), x_alpha_.data(), ow, depth, ty.frac);
          continue;
        }
        for (int64_t x = 0; x < ow; ++x, o += depth) {
          const Tap& tx = xs_[x];
          const T* p00 = row0 + tx.lo * depth;
          const T* p01 = row0 + tx.hi * depth;
          const T* p10 = row1 + tx.lo * depth;
          const T* p11 = row1 + tx.hi * depth;
          if constexpr (std::is_same_v<T, uint8_t>) {
            // TFLite's float reference term by term, + 0.5, truncated.
            const float dy = ty.frac, dx = tx.frac, wy0 = 1 - dy, wx0 = 1 - dx;
            for (int64_t c = 0; c < depth; ++c) {
              const float v = static_cast<float>(p00[c]) * wy0 * wx0 + static_cast<float>(p10[c]) * dy * wx0 +
                              static_cast<float>(p01[c]) * wy0 * dx + static_cast<float>(p11[c]) * dy * dx + 0.5f;
              o[c] = static_cast<T>(v);
            }
          } else if (xnnpack_int8_) {
            // XNNPACK's s8-ibilinear: top/bottom lerps with 11 fractional bits, the vertical
            // lerp adds 11 more, then (acc + 2^21) >> 22 (arithmetic: rounds half up).
            const int32_t ax = tx.q, ay = ty.q;
            for (int64_t c = 0; c < depth; ++c) {
              const int32_t top = p00[c] * 2048 + (p01[c] - p00[c]) * ax;
              const int32_t bottom = p10[c] * 2048 + (p11[c] - p10[c]) * ax;
              const int32_t acc = top * 2048 + (bottom - top) * ay;
              o[c] = static_cast<T>((acc + (1 << 21)) >> 22);
            }
          } else {
            const int64_t wy1 = ty.q, wy0 = (1 << 10) - ty.q, wx1 = tx.q, wx0 = (1 << 10) - tx.q;
            for (int64_t c = 0; c < depth; ++c) {
              const int64_t acc = p00[c] * wy0 * wx0 + p10[c] * wy1 * wx0 + p01[c] * wy0 * wx1 + p11[c] * wy1 * wx1;
              const int64_t round = acc > 0 ? (1 << 19) : -(1 << 19);
              o[c] = static_cast<T>((acc + round) / (1 << 20));
            }
          }
        }
      }
    });
  }

  std::vector<Tap> ys_, xs_;
  std::vector<int32_t> x_lo_, x_hi_;
  std::vector<float> x_alpha_;
  bool xnnpack_int8_ = false;
};

// ---- RESIZE_NEAREST_NEIGHBOR --------------------------------------------------------------

class ResizeNearestKernel : public ResizeKernel {
 public:
  using ResizeKernel::ResizeKernel;
  void prepare(OpContext& ctx) override {
    const auto& opt = options_of<tflite::ResizeNearestNeighborOptionsT>(*ctx.op);
    check(ctx, opt.align_corners, opt.half_pixel_centers);
    ys_ = taps(ctx.in(0).dim(1), ctx.out().dim(1));
    xs_ = taps(ctx.in(0).dim(2), ctx.out().dim(2));
  }

  void eval(OpContext& ctx) const override {
    const TensorData& in = ctx.in(0);
    const TensorData& out = ctx.out();
    const int64_t batches = in.dim(0), ih = in.dim(1), iw = in.dim(2);
    const int64_t oh = out.dim(1), ow = out.dim(2);
    const size_t run = static_cast<size_t>(in.dim(3)) * esize_;
    const uint8_t* src = in.data;
    uint8_t* dst = out.data;
    for_rows(ctx, batches * oh, ow * in.dim(3), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t b = r / oh, y = r % oh;
        const uint8_t* row = src + (b * ih + ys_[y]) * iw * run;
        uint8_t* o = dst + r * ow * run;
        for (int64_t x = 0; x < ow; ++x, o += run) std::memcpy(o, row + xs_[x] * run, run);
      }
    });
  }

 private:
  std::vector<int32_t> taps(int32_t in, int32_t out) const {
    const float s = scale(in, out);
    const float offset = half_pixel_ ? 0.5f : 0.0f;
    std::vector<int32_t> v(out);
    for (int32_t i = 0; i < out; ++i) {
      const float src = (static_cast<float>(i) + offset) * s;
      int32_t k = std::min(static_cast<int32_t>(align_corners_ ? std::round(src) : std::floor(src)), in - 1);
      if (half_pixel_) k = std::max(k, 0);
      v[i] = k;
    }
    return v;
  }

  std::vector<int32_t> ys_, xs_;
};

template <typename K>
void add_both(KernelRegistry& r, BOp op) {
  r.add_builtin(op, [] { return std::make_unique<K>(false); }, Numerics::kFloat);
  r.add_builtin(op, [] { return std::make_unique<K>(true); }, Numerics::kInt8);
}

}  // namespace

void register_resize_kernels(KernelRegistry& r) {
  add_both<ResizeBilinearKernel>(r, BOp::RESIZE_BILINEAR);
  add_both<ResizeNearestKernel>(r, BOp::RESIZE_NEAREST_NEIGHBOR);
}

}  // namespace qcal
