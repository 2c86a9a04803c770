// Float pooling: AVERAGE_POOL_2D and MAX_POOL_2D with TFLite's semantics (windows clipped to
// the image; the average divides by the number of in-bounds elements), and MediaPipe's
// MaxPoolingWithArgmax2D / MaxUnpooling2D custom ops.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "gemm.h"
#include "qcal/kernel.h"

namespace qcal {
namespace {

using kernels::ActivationRange;

constexpr int kRowTile = 8;  // output rows per parallel tile (fixed: independent of threads)

struct PoolGeometry : kernels::PoolWindow {
  ActivationRange act;
};

// Checks the float input and computes TFLite's output size and padding. `padding` is the
// builtin enum; MediaPipe's raw structs are translated by the caller.
PoolGeometry pool_geometry(const OpContext& ctx, const TensorData& in, tflite::Padding padding, int stride_w,
                           int stride_h, int filter_w, int filter_h) {
  ctx.expect_dtype(in, DType::kFloat32, "input");
  ctx.expect_rank(in, 4, "input");
  if (in.size() == 0) ctx.fail("empty input " + shape_str(in.shape));
  return {kernels::pool_window(ctx, in, padding, stride_w, stride_h, filter_w, filter_h), {}};
}

void expect_output(const OpContext& ctx, const TensorData& out, const PoolGeometry& g, const char* role) {
  ctx.expect_dtype(out, DType::kFloat32, role);
  ctx.expect_shape(out, {g.batch, g.oh, g.ow, g.c}, role);
}

class Pool2D : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(1, 1, 1);
    const auto& o = options_of<tflite::Pool2DOptionsT>(*ctx.op);
    g_ = pool_geometry(ctx, ctx.in(0), o.padding, o.stride_w, o.stride_h, o.filter_width, o.filter_height);
    g_.act = kernels::activation_range(ctx, o.fused_activation_function);
    expect_output(ctx, ctx.out(), g_, "output");
  }

  void eval(OpContext& ctx) const override {
    const PoolGeometry& g = g_;
    const float* in = ctx.in(0).as<float>();
    float* out = ctx.out().as<float>();
    const size_t in_image = static_cast<size_t>(g.ih) * g.iw * g.c, out_row = static_cast<size_t>(g.ow) * g.c;
    for (int b = 0; b < g.batch; ++b) {
      const float* img = in + b * in_image;
      float* dst = out + b * out_row * g.oh;
      kernels::parallel_tiles(g.oh, kRowTile, ctx.threads, [&](int64_t y0, int64_t y1) {
        for (int oy = static_cast<int>(y0); oy < y1; ++oy)
          for (int ox = 0; ox < g.ow; ++ox) pixel(img, oy, ox, dst + oy * out_row + static_cast<size_t>(ox) * g.c);
      });
    }
  }

 protected:
  virtual void pixel(const float* img, int oy, int ox, float* o) const = 0;
  PoolGeometry g_;
};

class AveragePool2D final : public Pool2D {
  void pixel(const float* img, int oy, int ox, float* o) const override {
    const PoolGeometry& g = g_;
    int y0, y1, x0, x1;
    g.window(oy, ox, y0, y1, x0, x1);
    const int count_i = (y1 - y0) * (x1 - x0);
    if (count_i > 16) {
      // Large (global) windows: a float running sum over thousands of values drifts by
      // ~1e-5 relative, while XNNPACK's multipass tree stays near exact; summing in double
      // keeps qcal within ~1e-7 of it (SE blocks feed this mean into a whole subnetwork).
      double* __restrict dacc = reinterpret_cast<double*>(kernels::scratch_floats(2 * static_cast<size_t>(g.c), 3));
      std::fill(dacc, dacc + g.c, 0.0);
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
          const float* __restrict p = img + (static_cast<size_t>(y) * g.iw + x) * g.c;
          for (int c = 0; c < g.c; ++c) dacc[c] += p[c];
        }
      for (int c = 0; c < g.c; ++c) o[c] = kernels::clamp_activation(static_cast<float>(dacc[c] / count_i), g.act);
      return;
    }
    // Small windows sum in window order (as TFLite's reference), into a buffer the compiler
    // knows does not alias the input, so the channel loop vectorizes.
    float* __restrict acc = kernels::scratch_floats(g.c, 3);
    std::fill(acc, acc + g.c, 0.0f);
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        const float* __restrict p = img + (static_cast<size_t>(y) * g.iw + x) * g.c;
        for (int c = 0; c < g.c; ++c) acc[c] += p[c];
      }
    const float count = static_cast<float>((y1 - y0) * (x1 - x0));
    for (int c = 0; c < g.c; ++c) o[c] = kernels::clamp_activation(acc[c] / count, g.act);
  }
};

class MaxPool2D final : public Pool2D {
  void pixel(const float* img, int oy, int ox, float* o) const override {
    const PoolGeometry& g = g_;
    int y0, y1, x0, x1;
    g.window(oy, ox, y0, y1, x0, x1);
    float* __restrict acc = kernels::scratch_floats(g.c, 3);
    std::fill(acc, acc + g.c, std::numeric_limits<float>::lowest());
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        const float* __restrict p = img + (static_cast<size_t>(y) * g.iw + x) * g.c;
        for (int c = 0; c < g.c; ++c) acc[c] = acc[c] < p[c] ? p[c] : acc[c];  // std::max: NaN inputs are skipped
      }
    for (int c = 0; c < g.c; ++c) o[c] = kernels::clamp_activation(acc[c], g.act);
  }
};

// ---- MediaPipe custom ops ------------------------------------------------------------------

// Their custom options are the raw C struct TfLitePoolParams: int32 fields padding
// (1 SAME, 2 VALID), stride_width, stride_height, filter_width, filter_height, activation
// (TfLiteFusedActivation, same numbering as the builtin enum up to SIGN_BIT), then a
// `computed` block the ops do not read.
struct MediaPipePoolParams {
  tflite::Padding padding;
  int stride_w, stride_h, filter_w, filter_h;
  tflite::ActivationFunctionType activation;
};

MediaPipePoolParams read_pool_params(const OpContext& ctx) {
  const std::vector<uint8_t>& raw = ctx.op->custom_options;
  if (raw.size() < 24)
    ctx.fail("custom options must hold TfLitePoolParams (at least 24 bytes), has " + std::to_string(raw.size()) + " bytes");
  int32_t f[6];
  std::memcpy(f, raw.data(), sizeof(f));
  if (f[0] != 1 && f[0] != 2) ctx.fail("padding must be 1 (SAME) or 2 (VALID), is " + std::to_string(f[0]));
  if (f[5] < 0 || f[5] > 5) ctx.fail("unknown fused activation " + std::to_string(f[5]));
  return {f[0] == 1 ? tflite::Padding::SAME : tflite::Padding::VALID, f[1], f[2], f[3], f[4],
          static_cast<tflite::ActivationFunctionType>(f[5])};
}

// MaxPoolingWithArgmax2D: outputs (values, indices), both float32 [N, OH, OW, C]. As in
// MediaPipe's kernel, the index is the position of the first maximum inside the filter
// window, (ky * filter_width + kx) + 0.1f (the 0.1 makes float -> int truncation safe),
// with ky/kx relative to the padded window origin; a window with no value above
// float's lowest reports index 0.1.
class MaxPoolWithArgmax final : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(1, 1, 2);
    const MediaPipePoolParams p = read_pool_params(ctx);
    g_ = pool_geometry(ctx, ctx.in(0), p.padding, p.stride_w, p.stride_h, p.filter_w, p.filter_h);
    g_.act = kernels::activation_range(ctx, p.activation);
    expect_output(ctx, ctx.out(0), g_, "values output");
    expect_output(ctx, ctx.out(1), g_, "indices output");
  }

  void eval(OpContext& ctx) const override {
    const PoolGeometry& g = g_;
    const float* in = ctx.in(0).as<float>();
    float* values = ctx.out(0).as<float>();
    float* indices = ctx.out(1).as<float>();
    for (int b = 0; b < g.batch; ++b) {
      const float* img = in + static_cast<size_t>(b) * g.ih * g.iw * g.c;
      for (int oy = 0; oy < g.oh; ++oy)
        for (int ox = 0; ox < g.ow; ++ox) {
          const size_t o = ((static_cast<size_t>(b) * g.oh + oy) * g.ow + ox) * g.c;
          const int iy0 = oy * g.sh - g.pad_top, ix0 = ox * g.sw - g.pad_left;
          int y0, y1, x0, x1;
          g.window(oy, ox, y0, y1, x0, x1);
          for (int c = 0; c < g.c; ++c) {
            float best = std::numeric_limits<float>::lowest();
            int best_ky = 0, best_kx = 0;
            for (int y = y0; y < y1; ++y)
              for (int x = x0; x < x1; ++x) {
                const float v = img[(static_cast<size_t>(y) * g.iw + x) * g.c + c];
                if (v > best) best = v, best_ky = y - iy0, best_kx = x - ix0;
              }
            values[o + c] = kernels::clamp_activation(best, g.act);
            indices[o + c] = static_cast<float>(best_ky * g.fw + best_kx) + 0.1f;
          }
        }
    }
  }

 private:
  PoolGeometry g_;
};

// MaxUnpooling2D: inputs (values, indices) [N, H, W, C] float32; output [N, H * filter_h,
// W * filter_w, C]: zeros, with each value written where its window-relative index
// (as produced by MaxPoolingWithArgmax2D) points. Indices that decode outside the output
// are skipped, as in MediaPipe's kernel; later inputs win when two land on one element.
class MaxUnpooling final : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(2, 2, 1);
    const MediaPipePoolParams p = read_pool_params(ctx);
    const TensorData& in = ctx.in(0);
    const TensorData& idx = ctx.in(1);
    ctx.expect_dtype(in, DType::kFloat32, "values");
    ctx.expect_rank(in, 4, "values");
    ctx.expect_dtype(idx, DType::kFloat32, "indices");
    ctx.expect_shape(idx, in.shape, "indices");
    PoolGeometry& g = g_;
    g.batch = in.dim(0), g.ih = in.dim(1), g.iw = in.dim(2), g.c = in.dim(3);
    g.fh = p.filter_h, g.fw = p.filter_w, g.sh = p.stride_h, g.sw = p.stride_w;
    // In 64 bits: H x filter overflows int for a filter near INT_MAX.
    auto out_size = [&](int64_t in, int64_t filter) {
      if (filter < 1) ctx.fail("filter sizes must be >= 1");
      if (in * filter > kernels::kMaxWindowSpan)
        ctx.fail("filter size " + std::to_string(filter) + " over " + std::to_string(in) + " pixels gives an output of " +
                 std::to_string(in * filter) + " pixels (at most 2^30)");
      return static_cast<int>(in * filter);
    };
    g.oh = out_size(g.ih, g.fh), g.ow = out_size(g.iw, g.fw);
    // MediaPipe pads as the pooling from this output back to the input would.
    g.pad_top = kernels::conv_padding_before(ctx, g.oh, g.ih, g.fh, g.sh, 1);
    g.pad_left = kernels::conv_padding_before(ctx, g.ow, g.iw, g.fw, g.sw, 1);
    ctx.expect_dtype(ctx.out(), DType::kFloat32, "output");
    ctx.expect_shape(ctx.out(), {g.batch, g.oh, g.ow, g.c}, "output");
  }

  void eval(OpContext& ctx) const override {
    const PoolGeometry& g = g_;
    const float* in = ctx.in(0).as<float>();
    const float* idx = ctx.in(1).as<float>();
    float* out = ctx.out().as<float>();
    std::memset(out, 0, ctx.out().size() * sizeof(float));
    size_t i = 0;
    for (int b = 0; b < g.batch; ++b)
      for (int iy = 0; iy < g.ih; ++iy)
        for (int ix = 0; ix < g.iw; ++ix)
          for (int c = 0; c < g.c; ++c, ++i) {
            const float f = idx[i];
            if (!(f > -2147483648.0f && f < 2147483648.0f)) continue;  // NaN or beyond int: no location
            const int k = static_cast<int>(f);
            const int oy = iy * g.sh - g.pad_top + k / g.fw, ox = ix * g.sw - g.pad_left + k % g.fw;
            if (oy < 0 || oy >= g.oh || ox < 0 || ox >= g.ow) continue;
            out[((static_cast<size_t>(b) * g.oh + oy) * g.ow + ox) * g.c + c] = in[i];
          }
  }

 private:
  PoolGeometry g_;
};

}  // namespace

void register_pool_kernels(KernelRegistry& r) {
  r.add_builtin(tflite::BuiltinOperator::AVERAGE_POOL_2D, make_factory<AveragePool2D>());
  r.add_builtin(tflite::BuiltinOperator::MAX_POOL_2D, make_factory<MaxPool2D>());
  r.add_custom("MaxPoolingWithArgmax2D", make_factory<MaxPoolWithArgmax>());
  r.add_custom("MaxUnpooling2D", make_factory<MaxUnpooling>());
}

}  // namespace qcal
