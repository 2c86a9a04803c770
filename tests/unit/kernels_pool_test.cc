// AVERAGE_POOL_2D, MAX_POOL_2D and MediaPipe's MaxPoolingWithArgmax2D / MaxUnpooling2D
// against naive loops written here from TFLite's / MediaPipe's reference semantics.
#include <cmath>
#include <cstring>
#include <limits>

#include "op_test_util.h"

namespace qcal {
namespace {

using test::ModelBuilder;
using tflite::ActivationFunctionType;
using tflite::BuiltinOperator;
using tflite::Padding;

template <typename F>
void expect_error(F&& f, const std::string& fragment) {
  try {
    f();
    FAIL() << "expected an error mentioning '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

int out_size(Padding p, int in, int k, int s) { return p == Padding::SAME ? (in + s - 1) / s : (in - k + s) / s; }
int pad_before(int in, int out, int k, int s) { return std::max(0, (out - 1) * s + k - in) / 2; }

double activate(double v, ActivationFunctionType act) {
  switch (act) {
    case ActivationFunctionType::RELU: return std::max(v, 0.0);
    case ActivationFunctionType::RELU6: return std::min(std::max(v, 0.0), 6.0);
    case ActivationFunctionType::RELU_N1_TO_1: return std::min(std::max(v, -1.0), 1.0);
    default: return v;
  }
}

struct PoolCase {
  int n, h, w, c, fh, fw, sh, sw;
  Padding pad;
  ActivationFunctionType act;
};

void check_pool(BuiltinOperator op, const PoolCase& p, uint32_t seed) {
  const bool avg = op == BuiltinOperator::AVERAGE_POOL_2D;
  SCOPED_TRACE(testing::Message() << (avg ? "avg" : "max") << " pool " << p.h << "x" << p.w << "x" << p.c << " f" << p.fh << "x"
                                  << p.fw << " s" << p.sh << "," << p.sw << " pad " << int(p.pad));
  const int oh = out_size(p.pad, p.h, p.fh, p.sh), ow = out_size(p.pad, p.w, p.fw, p.sw);
  const int pt = pad_before(p.h, oh, p.fh, p.sh), pl = pad_before(p.w, ow, p.fw, p.sw);
  const auto in = test::random_floats(size_t(p.n) * p.h * p.w * p.c, seed, -3.0f, 3.0f);
  std::vector<float> want(size_t(p.n) * oh * ow * p.c);
  for (int b = 0; b < p.n; ++b)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int c = 0; c < p.c; ++c) {
          double sum = 0, mx = -1e300;
          int count = 0;  // in-bounds elements only, as TFLite divides
          for (int ky = 0; ky < p.fh; ++ky)
            for (int kx = 0; kx < p.fw; ++kx) {
              const int iy = oy * p.sh - pt + ky, ix = ox * p.sw - pl + kx;
              if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
              const double v = in[((size_t(b) * p.h + iy) * p.w + ix) * p.c + c];
              sum += v, mx = std::max(mx, v), ++count;
            }
          want[((size_t(b) * oh + oy) * ow + ox) * p.c + c] = float(activate(avg ? sum / count : mx, p.act));
        }
  auto run = [&](int threads) {
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, {p.n, p.h, p.w, p.c});
    const int y = b.tensor(DType::kFloat32, {p.n, oh, ow, p.c});
    tflite::Pool2DOptionsT o;
    o.padding = p.pad, o.stride_h = p.sh, o.stride_w = p.sw, o.filter_height = p.fh, o.filter_width = p.fw;
    o.fused_activation_function = p.act;
    b.op(op, {x}, {y}, o);
    b.output(y);
    return b.run({test::host<float>({p.n, p.h, p.w, p.c}, in)}, threads);
  };
  const auto got = run(1);
  test::expect_near(test::from_bytes<float>(got[0].data), want);
  const auto got2 = run(2);
  EXPECT_EQ(std::memcmp(got[0].data.data(), got2[0].data.data(), got[0].data.size()), 0);
}

const PoolCase kPoolCases[] = {
    {1, 9, 11, 5, 3, 3, 2, 2, Padding::SAME, ActivationFunctionType::NONE},  // partial windows at the edges
    {2, 8, 8, 16, 2, 2, 2, 2, Padding::VALID, ActivationFunctionType::RELU},
    {1, 7, 6, 3, 3, 2, 1, 2, Padding::SAME, ActivationFunctionType::RELU6},
    {1, 16, 16, 24, 16, 16, 16, 16, Padding::SAME, ActivationFunctionType::NONE},  // global pool as in selfie
    {1, 5, 7, 4, 2, 2, 2, 2, Padding::SAME, ActivationFunctionType::RELU_N1_TO_1},
    {1, 20, 9, 2, 5, 4, 3, 2, Padding::VALID, ActivationFunctionType::NONE},
};

TEST(PoolAverage, MatchesReference) {
  uint32_t seed = 1;
  for (const PoolCase& p : kPoolCases) check_pool(BuiltinOperator::AVERAGE_POOL_2D, p, seed += 2);
}

TEST(PoolMax, MatchesReference) {
  uint32_t seed = 101;
  for (const PoolCase& p : kPoolCases) check_pool(BuiltinOperator::MAX_POOL_2D, p, seed += 2);
}

TEST(PoolMax, RejectsMalformedOps) {
  auto build = [](Shape in, Shape out, int filter, Padding pad, ActivationFunctionType act = ActivationFunctionType::NONE) {
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, in);
    const int y = b.tensor(DType::kFloat32, out);
    tflite::Pool2DOptionsT o;
    o.padding = pad, o.stride_h = o.stride_w = 2, o.filter_height = o.filter_width = filter;
    o.fused_activation_function = act;
    b.op(BuiltinOperator::MAX_POOL_2D, {x}, {y}, o);
    b.output(y);
    b.run({HostTensor::zeros("", DType::kFloat32, in)});
  };
  expect_error([&] { build({1, 4, 4, 3}, {1, 3, 2, 3}, 2, Padding::VALID); }, "output has shape [1,3,2,3], expected [1,2,2,3]");
  expect_error([&] { build({1, 4, 4, 3}, {1, 1, 1, 3}, 5, Padding::VALID); }, "filter is larger than the input");
  expect_error([&] { build({1, 4, 4, 3}, {1, 2, 2, 3}, 0, Padding::SAME); }, "filter sizes must be >= 1");
  expect_error([&] { build({1, 4, 4, 3}, {1, 2, 2, 3}, 2, Padding::SAME, ActivationFunctionType::SIGN_BIT); }, "SIGN_BIT");
}

TEST(PoolMax, AbsurdStridesAndFiltersAreRefused) {
  auto build = [](int stride, int filter, Shape out) {
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, {1, 5, 5, 1});
    const int y = b.tensor(DType::kFloat32, out);
    tflite::Pool2DOptionsT o;
    o.padding = Padding::SAME, o.stride_h = o.stride_w = stride, o.filter_height = o.filter_width = filter;
    b.op(BuiltinOperator::MAX_POOL_2D, {x}, {y}, o);
    b.output(y);
    b.run({HostTensor::zeros("", DType::kFloat32, {1, 5, 5, 1})});
  };
  expect_error([&] { build(2147483647, 2, {1, 1, 1, 1}); }, "stride 2147483647");
  expect_error([&] { build(1, 2147483647, {1, 5, 5, 1}); }, "filter");
}

// ---- MediaPipe argmax pooling / unpooling --------------------------------------------------

// TfLitePoolParams as raw bytes: padding (1 SAME, 2 VALID), stride w/h, filter w/h,
// activation, then the 4-int `computed` block.
std::vector<uint8_t> pool_params(int padding, int sw, int sh, int fw, int fh, int act = 0) {
  return test::to_bytes(std::vector<int32_t>{padding, sw, sh, fw, fh, act, 0, 0, 0, 0});
}

TEST(PoolArgmax, MatchesMediaPipeSemantics) {
  // values: the max over the in-bounds window; indices (float): the first maximum's offset
  // inside the padded window, ky * filter_w + kx, plus 0.1.
  struct Case {
    int h, w, c, fh, fw, sh, sw, padding, act;
  };
  const Case cases[] = {{8, 8, 3, 2, 2, 2, 2, 2, 0}, {7, 9, 4, 3, 3, 2, 2, 1, 3}, {5, 6, 2, 2, 3, 1, 2, 1, 1}};
  uint32_t seed = 300;
  for (const Case& p : cases) {
    SCOPED_TRACE(testing::Message() << "argmax " << p.h << "x" << p.w << " f" << p.fh << "x" << p.fw);
    const Padding pad = p.padding == 1 ? Padding::SAME : Padding::VALID;
    const int oh = out_size(pad, p.h, p.fh, p.sh), ow = out_size(pad, p.w, p.fw, p.sw);
    const int pt = pad_before(p.h, oh, p.fh, p.sh), pl = pad_before(p.w, ow, p.fw, p.sw);
    auto in = test::random_floats(size_t(p.h) * p.w * p.c, seed += 2, -3.0f, 3.0f);
    in[5] = in[5 + p.c];  // a tie: the first maximum wins
    std::vector<float> want_v, want_i;
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int c = 0; c < p.c; ++c) {
          float best = -std::numeric_limits<float>::max();
          int best_k = 0;
          for (int ky = 0; ky < p.fh; ++ky)
            for (int kx = 0; kx < p.fw; ++kx) {
              const int iy = oy * p.sh - pt + ky, ix = ox * p.sw - pl + kx;
              if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
              const float v = in[(size_t(iy) * p.w + ix) * p.c + c];
              if (v > best) best = v, best_k = ky * p.fw + kx;
            }
          want_v.push_back(float(activate(best, static_cast<ActivationFunctionType>(p.act))));
          want_i.push_back(float(best_k) + 0.1f);
        }
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, {1, p.h, p.w, p.c});
    const int v = b.tensor(DType::kFloat32, {1, oh, ow, p.c});
    const int i = b.tensor(DType::kFloat32, {1, oh, ow, p.c});
    b.custom_op("MaxPoolingWithArgmax2D", {x}, {v, i}, pool_params(p.padding, p.sw, p.sh, p.fw, p.fh, p.act));
    b.output(v);
    b.output(i);
    const auto got = b.run({test::host<float>({1, p.h, p.w, p.c}, in)});
    EXPECT_EQ(test::from_bytes<float>(got[0].data), want_v);
    EXPECT_EQ(test::from_bytes<float>(got[1].data), want_i);
  }
}

TEST(PoolUnpooling, ScattersValuesWhereIndicesPoint) {
  // Output [H*fh, W*fw]: zeros, each value written at its window-relative index; indices
  // that decode outside the output are skipped.
  const int h = 3, w = 4, c = 2, f = 2, s = 2;
  const auto values = test::random_floats(h * w * c, 7);
  std::vector<float> idx(h * w * c);
  for (size_t k = 0; k < idx.size(); ++k) idx[k] = float(k % 4) + 0.1f;
  idx[3] = 57.1f;  // decodes outside: skipped
  std::vector<float> want(size_t(h * f) * (w * f) * c, 0.0f);
  for (int iy = 0; iy < h; ++iy)
    for (int ix = 0; ix < w; ++ix)
      for (int ch = 0; ch < c; ++ch) {
        const size_t k = (size_t(iy) * w + ix) * c + ch;
        const int m = int(idx[k]);
        const int oy = iy * s + m / f, ox = ix * s + m % f;
        if (oy < h * f && ox < w * f) want[(size_t(oy) * (w * f) + ox) * c + ch] = values[k];
      }
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, h, w, c});
  const int ii = b.input(DType::kFloat32, {1, h, w, c});
  const int y = b.tensor(DType::kFloat32, {1, h * f, w * f, c});
  b.custom_op("MaxUnpooling2D", {x, ii}, {y}, pool_params(1, s, s, f, f));
  b.output(y);
  const auto got = b.run({test::host<float>({1, h, w, c}, values), test::host<float>({1, h, w, c}, idx)});
  EXPECT_EQ(test::from_bytes<float>(got[0].data), want);
}

TEST(PoolUnpooling, InvertsArgmaxPooling) {
  // unpool(argmax_pool(x)) keeps each 2x2 window's maximum in place and zeroes the rest.
  const int h = 6, w = 8, c = 3;
  const auto in = test::random_floats(h * w * c, 11, 0.5f, 2.0f);
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, h, w, c});
  const int v = b.tensor(DType::kFloat32, {1, h / 2, w / 2, c});
  const int i = b.tensor(DType::kFloat32, {1, h / 2, w / 2, c});
  const int y = b.tensor(DType::kFloat32, {1, h, w, c});
  b.custom_op("MaxPoolingWithArgmax2D", {x}, {v, i}, pool_params(2, 2, 2, 2, 2));
  b.custom_op("MaxUnpooling2D", {v, i}, {y}, pool_params(2, 2, 2, 2, 2));
  b.output(y);
  const auto got = test::from_bytes<float>(b.run({test::host<float>({1, h, w, c}, in)})[0].data);
  for (int y0 = 0; y0 < h; y0 += 2)
    for (int x0 = 0; x0 < w; x0 += 2)
      for (int ch = 0; ch < c; ++ch) {
        float mx = 0;
        for (int dy = 0; dy < 2; ++dy)
          for (int dx = 0; dx < 2; ++dx) mx = std::max(mx, in[((y0 + dy) * w + x0 + dx) * c + ch]);
        for (int dy = 0; dy < 2; ++dy)
          for (int dx = 0; dx < 2; ++dx) {
            const size_t k = ((y0 + dy) * w + x0 + dx) * c + ch;
            EXPECT_EQ(got[k], in[k] == mx ? mx : 0.0f) << "at " << k;
          }
      }
}

TEST(PoolArgmax, RejectsMalformedOps) {
  auto argmax = [](std::vector<uint8_t> options, Shape out) {
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, {1, 4, 4, 2});
    const int v = b.tensor(DType::kFloat32, out);
    const int i = b.tensor(DType::kFloat32, out);
    b.custom_op("MaxPoolingWithArgmax2D", {x}, {v, i}, std::move(options));
    b.output(v);
    b.run({HostTensor::zeros("", DType::kFloat32, {1, 4, 4, 2})});
  };
  expect_error([&] { argmax({1, 2, 3}, {1, 2, 2, 2}); }, "at least 24 bytes");
  expect_error([&] { argmax(pool_params(0, 2, 2, 2, 2), {1, 2, 2, 2}); }, "padding must be 1 (SAME) or 2 (VALID)");
  expect_error([&] { argmax(pool_params(2, 2, 2, 2, 2, 4), {1, 2, 2, 2}); }, "TANH");
  expect_error([&] { argmax(pool_params(2, 2, 2, 2, 2), {1, 3, 2, 2}); }, "values output has shape");

  auto unpool = [](Shape values, Shape indices, std::vector<uint8_t> options, Shape out) {
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, values);
    const int i = b.input(DType::kFloat32, indices);
    const int y = b.tensor(DType::kFloat32, out);
    b.custom_op("MaxUnpooling2D", {x, i}, {y}, std::move(options));
    b.output(y);
    b.run({HostTensor::zeros("", DType::kFloat32, values), HostTensor::zeros("", DType::kFloat32, indices)});
  };
  expect_error([&] { unpool({1, 2, 2, 2}, {1, 2, 2, 1}, pool_params(2, 2, 2, 2, 2), {1, 4, 4, 2}); }, "indices has shape");
  // A filter so large that H x filter overflows int.
  expect_error([&] { unpool({1, 2, 2, 1}, {1, 2, 2, 1}, pool_params(2, 2, 2, 2147483647, 2147483647), {1, 4, 4, 1}); },
               "filter size 2147483647");
}

}  // namespace
}  // namespace qcal
