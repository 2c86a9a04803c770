// CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV and Convolution2DTransposeBias
// against naive loops (double accumulation) written here from TFLite's reference semantics.
#include <cmath>
#include <cstring>

#include "op_test_util.h"

namespace qcal {
namespace {

using test::ModelBuilder;
using tflite::ActivationFunctionType;
using tflite::BuiltinOperator;
using tflite::Padding;

double activate(double v, ActivationFunctionType act) {
  switch (act) {
    case ActivationFunctionType::RELU: return std::max(v, 0.0);
    case ActivationFunctionType::RELU6: return std::min(std::max(v, 0.0), 6.0);
    case ActivationFunctionType::RELU_N1_TO_1: return std::min(std::max(v, -1.0), 1.0);
    default: return v;
  }
}

// Output size and leading padding of one spatial dimension, as TFLite's padding.h defines them.
int out_size(Padding p, int in, int k, int s, int d) {
  const int eff = (k - 1) * d + 1;
  return p == Padding::SAME ? (in + s - 1) / s : (in - eff + s) / s;
}
int pad_before(int in, int out, int k, int s, int d) { return std::max(0, (out - 1) * s + (k - 1) * d + 1 - in) / 2; }

void expect_bit_identical(const std::vector<HostTensor>& a, const std::vector<HostTensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].data.size(), b[i].data.size());
    EXPECT_EQ(std::memcmp(a[i].data.data(), b[i].data.data(), a[i].data.size()), 0) << "output " << i;
  }
}

template <typename F>
void expect_error(F&& f, const std::string& fragment) {
  try {
    f();
    FAIL() << "expected an error mentioning '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

// ---- CONV_2D -------------------------------------------------------------------------------

struct ConvCase {
  int n, h, w, ic, oc, kh, kw, sh, sw, dh, dw;
  Padding pad;
  ActivationFunctionType act;
  bool bias;
  int groups = 1;
};

std::vector<float> conv_reference(const ConvCase& c, const std::vector<float>& in, const std::vector<float>& f,
                                  const std::vector<float>& bias, int oh, int ow) {
  const int pt = pad_before(c.h, oh, c.kh, c.sh, c.dh), pl = pad_before(c.w, ow, c.kw, c.sw, c.dw);
  const int gic = c.ic / c.groups, goc = c.oc / c.groups;
  std::vector<float> out(static_cast<size_t>(c.n) * oh * ow * c.oc);
  for (int b = 0; b < c.n; ++b)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int co = 0; co < c.oc; ++co) {
          const int g = co / goc;
          double acc = c.bias ? bias[co] : 0.0;
          for (int ky = 0; ky < c.kh; ++ky)
            for (int kx = 0; kx < c.kw; ++kx) {
              const int iy = oy * c.sh - pt + ky * c.dh, ix = ox * c.sw - pl + kx * c.dw;
              if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
              for (int ci = 0; ci < gic; ++ci)
                acc += double(in[((size_t(b) * c.h + iy) * c.w + ix) * c.ic + g * gic + ci]) *
                       f[((size_t(co) * c.kh + ky) * c.kw + kx) * gic + ci];
            }
          out[((size_t(b) * oh + oy) * ow + ox) * c.oc + co] = float(activate(acc, c.act));
        }
  return out;
}

// Builds the one-op model; the filter is a constant unless filter_as_input.
std::vector<HostTensor> run_conv(const ConvCase& c, const std::vector<float>& in, const std::vector<float>& f,
                                 const std::vector<float>& bias, int oh, int ow, int threads, bool filter_as_input = false) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {c.n, c.h, c.w, c.ic});
  const Shape fshape{c.oc, c.kh, c.kw, c.ic / c.groups};
  const int fi = filter_as_input ? b.input(DType::kFloat32, fshape) : b.constant_f32(fshape, f);
  const int bi = c.bias ? b.constant_f32({c.oc}, bias) : kNoTensor;
  const int y = b.tensor(DType::kFloat32, {c.n, oh, ow, c.oc});
  tflite::Conv2DOptionsT o;
  o.padding = c.pad, o.stride_h = c.sh, o.stride_w = c.sw, o.dilation_h_factor = c.dh, o.dilation_w_factor = c.dw;
  o.fused_activation_function = c.act;
  b.op(BuiltinOperator::CONV_2D, {x, fi, bi}, {y}, o);
  b.output(y);
  std::vector<HostTensor> inputs{test::host<float>({c.n, c.h, c.w, c.ic}, in)};
  if (filter_as_input) inputs.push_back(test::host<float>(fshape, f));
  return b.run(inputs, threads);
}

void check_conv(const ConvCase& c, uint32_t seed) {
  SCOPED_TRACE(testing::Message() << "conv " << c.n << "x" << c.h << "x" << c.w << "x" << c.ic << " -> " << c.oc << " k"
                                  << c.kh << "x" << c.kw << " s" << c.sh << "," << c.sw << " d" << c.dh << "," << c.dw
                                  << " pad " << int(c.pad) << " act " << int(c.act) << " groups " << c.groups);
  const int oh = out_size(c.pad, c.h, c.kh, c.sh, c.dh), ow = out_size(c.pad, c.w, c.kw, c.sw, c.dw);
  const auto in = test::random_floats(size_t(c.n) * c.h * c.w * c.ic, seed);
  const auto f = test::random_floats(size_t(c.oc) * c.kh * c.kw * (c.ic / c.groups), seed + 1);
  const auto bias = test::random_floats(c.oc, seed + 2);
  const auto want = conv_reference(c, in, f, bias, oh, ow);
  const auto got1 = run_conv(c, in, f, bias, oh, ow, 1);
  test::expect_near(test::from_bytes<float>(got1[0].data), want);
  expect_bit_identical(got1, run_conv(c, in, f, bias, oh, ow, 2));
}

TEST(ConvConv2D, PointwiseMatchesReference) {
  // 1x1 stride 1 is a GEMM over pixels; the channel counts walk the GEMM's strip groups
  // (N = 1, 2: dot products; 5..130: 1-4 strips, partial last strip) and row remainders.
  const int counts[][2] = {{3, 1}, {16, 2}, {7, 5}, {16, 16}, {24, 24}, {9, 40}, {33, 70}, {20, 130}, {64, 144}};
  uint32_t seed = 10;
  for (auto [ic, oc] : counts)
    check_conv({1, 7, 9, ic, oc, 1, 1, 1, 1, 1, 1, Padding::SAME, ActivationFunctionType::NONE, true}, seed += 3);
  check_conv({2, 5, 5, 12, 20, 1, 1, 1, 1, 1, 1, Padding::VALID, ActivationFunctionType::RELU6, false}, seed += 3);
  // Large enough for several parallel pixel and column tiles.
  check_conv({1, 24, 20, 40, 150, 1, 1, 1, 1, 1, 1, Padding::SAME, ActivationFunctionType::RELU, true}, seed += 3);
}

TEST(ConvConv2D, WindowedMatchesReference) {
  uint32_t seed = 100;
  using A = ActivationFunctionType;
  const ConvCase cases[] = {
      {1, 17, 19, 3, 24, 3, 3, 2, 2, 1, 1, Padding::SAME, A::RELU6, true},   // first layer, odd sizes
      {1, 16, 16, 3, 16, 3, 3, 2, 2, 1, 1, Padding::SAME, A::NONE, true},    // even sizes: pad only bottom/right
      {1, 20, 18, 3, 24, 5, 5, 2, 2, 1, 1, Padding::SAME, A::NONE, true},
      {1, 21, 23, 8, 1, 3, 3, 1, 1, 1, 1, Padding::SAME, A::NONE, true},     // Cout 1: dot-product path
      {1, 12, 11, 16, 2, 3, 3, 1, 1, 1, 1, Padding::SAME, A::RELU, false},   // Cout 2
      {2, 13, 14, 5, 7, 3, 3, 1, 1, 1, 1, Padding::VALID, A::RELU_N1_TO_1, true},
      {1, 14, 15, 6, 9, 3, 2, 3, 2, 1, 1, Padding::VALID, A::NONE, true},    // VALID, stride leaves columns unused
      {1, 9, 10, 4, 6, 1, 1, 2, 2, 1, 1, Padding::SAME, A::NONE, true},      // 1x1 stride 2
      {1, 12, 13, 4, 10, 3, 3, 1, 1, 2, 2, Padding::SAME, A::NONE, true},    // dilation
      {1, 12, 13, 4, 10, 3, 2, 2, 1, 2, 3, Padding::VALID, A::NONE, false},  // dilation, VALID
      {1, 10, 11, 8, 12, 3, 3, 1, 1, 1, 1, Padding::SAME, A::NONE, true, 2},  // grouped
      {1, 10, 11, 6, 6, 1, 1, 1, 1, 1, 1, Padding::SAME, A::RELU, true, 3},   // grouped 1x1
      {1, 3, 2, 5, 4, 5, 5, 1, 1, 1, 1, Padding::SAME, A::NONE, true},       // filter larger than image
      {1, 40, 9, 6, 20, 3, 3, 1, 1, 1, 1, Padding::SAME, A::NONE, true},     // several row tiles
  };
  for (const ConvCase& c : cases) check_conv(c, seed += 3);
}

TEST(ConvConv2D, NarrowOutputsDoNotDependOnRowGrouping) {
  // Cout <= 2 runs as dot products reduced 16 at a time, with a one-row tail: a pixel must
  // get the same bits either way (so tiling can never change results).
  for (int oc : {1, 2}) {
    const int k = 40, n = 17;
    const auto in = test::random_floats(n * k, 1), f = test::random_floats(oc * k, 2), bias = test::random_floats(oc, 3);
    auto run = [&](int pixels) {
      ModelBuilder b;
      const int x = b.input(DType::kFloat32, {1, 1, pixels, k});
      const int y = b.tensor(DType::kFloat32, {1, 1, pixels, oc});
      b.op(BuiltinOperator::CONV_2D, {x, b.constant_f32({oc, 1, 1, k}, f), b.constant_f32({oc}, bias)}, {y},
           tflite::Conv2DOptionsT{.stride_w = 1, .stride_h = 1});
      b.output(y);
      return test::from_bytes<float>(
          b.run({test::host<float>({1, 1, pixels, k}, std::vector<float>(in.begin(), in.begin() + pixels * k))})[0].data);
    };
    const auto grouped = run(n), alone = run(1);
    for (int c = 0; c < oc; ++c) EXPECT_EQ(grouped[c], alone[c]) << "Cout " << oc;
  }
}

TEST(ConvConv2D, NonConstantFilterIsPackedAtEval) {
  const ConvCase c{1, 8, 9, 5, 20, 3, 3, 1, 1, 1, 1, Padding::SAME, ActivationFunctionType::NONE, true};
  const int oh = 8, ow = 9;
  const auto in = test::random_floats(8 * 9 * 5, 1), f = test::random_floats(20 * 9 * 5, 2), bias = test::random_floats(20, 3);
  const auto got = run_conv(c, in, f, bias, oh, ow, 1, /*filter_as_input=*/true);
  test::expect_near(test::from_bytes<float>(got[0].data), conv_reference(c, in, f, bias, oh, ow));
}

TEST(ConvConv2D, RejectsMalformedOps) {
  auto build = [](Shape in, Shape filter, Shape out, ActivationFunctionType act = ActivationFunctionType::NONE,
                  Shape bias = {}) {
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, in);
    const int f = b.constant_f32(filter, std::vector<float>(num_elements(filter), 0.5f));
    const int bi = bias.empty() ? kNoTensor : b.constant_f32(bias, std::vector<float>(num_elements(bias), 0.0f));
    const int y = b.tensor(DType::kFloat32, out);
    tflite::Conv2DOptionsT o;
    o.stride_h = o.stride_w = 1;
    o.fused_activation_function = act;
    b.op(BuiltinOperator::CONV_2D, {x, f, bi}, {y}, o);
    b.output(y);
    b.run({HostTensor::zeros("", DType::kFloat32, in)});
  };
  expect_error([&] { build({1, 4, 4, 3}, {2, 3, 3, 3}, {1, 4, 4, 3}); }, "output has shape [1,4,4,3], expected [1,4,4,2]");
  expect_error([&] { build({1, 4, 4, 3}, {2, 3, 3, 2}, {1, 4, 4, 2}); }, "not a multiple of the filter's 2");
  expect_error([&] { build({1, 4, 4, 4}, {3, 3, 3, 2}, {1, 4, 4, 3}); }, "cannot be split into 2 groups");
  expect_error([&] { build({1, 4, 4}, {2, 3, 3, 3}, {1, 4, 4, 2}); }, "input must have rank 4");
  expect_error([&] { build({1, 4, 4, 3}, {2, 3, 3, 3}, {1, 4, 4, 2}, ActivationFunctionType::TANH); }, "TANH");
  expect_error([&] { build({1, 4, 4, 3}, {2, 3, 3, 3}, {1, 4, 4, 2}, ActivationFunctionType::NONE, {3}); }, "bias has shape");
}

// ---- DEPTHWISE_CONV_2D ---------------------------------------------------------------------

struct DwCase {
  int n, h, w, c, mult, kh, kw, sh, sw, dh, dw;
  Padding pad;
  ActivationFunctionType act;
  bool bias;
};

void check_depthwise(const DwCase& c, uint32_t seed) {
  SCOPED_TRACE(testing::Message() << "depthwise " << c.h << "x" << c.w << "x" << c.c << " m" << c.mult << " k" << c.kh << "x"
                                  << c.kw << " s" << c.sh << "," << c.sw << " d" << c.dh << "," << c.dw << " pad "
                                  << int(c.pad));
  const int oc = c.c * c.mult;
  const int oh = out_size(c.pad, c.h, c.kh, c.sh, c.dh), ow = out_size(c.pad, c.w, c.kw, c.sw, c.dw);
  const int pt = pad_before(c.h, oh, c.kh, c.sh, c.dh), pl = pad_before(c.w, ow, c.kw, c.sw, c.dw);
  const auto in = test::random_floats(size_t(c.n) * c.h * c.w * c.c, seed);
  const auto f = test::random_floats(size_t(c.kh) * c.kw * oc, seed + 1);
  const auto bias = test::random_floats(oc, seed + 2);
  std::vector<float> want(size_t(c.n) * oh * ow * oc);
  for (int b = 0; b < c.n; ++b)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int ci = 0; ci < c.c; ++ci)
          for (int m = 0; m < c.mult; ++m) {
            const int co = ci * c.mult + m;
            double acc = c.bias ? bias[co] : 0.0;
            for (int ky = 0; ky < c.kh; ++ky)
              for (int kx = 0; kx < c.kw; ++kx) {
                const int iy = oy * c.sh - pt + ky * c.dh, ix = ox * c.sw - pl + kx * c.dw;
                if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                acc += double(in[((size_t(b) * c.h + iy) * c.w + ix) * c.c + ci]) * f[(size_t(ky) * c.kw + kx) * oc + co];
              }
            want[((size_t(b) * oh + oy) * ow + ox) * oc + co] = float(activate(acc, c.act));
          }
  auto run = [&](int threads) {
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, {c.n, c.h, c.w, c.c});
    const int fi = b.constant_f32({1, c.kh, c.kw, oc}, f);
    const int bi = c.bias ? b.constant_f32({oc}, bias) : kNoTensor;
    const int y = b.tensor(DType::kFloat32, {c.n, oh, ow, oc});
    tflite::DepthwiseConv2DOptionsT o;
    o.padding = c.pad, o.stride_h = c.sh, o.stride_w = c.sw, o.dilation_h_factor = c.dh, o.dilation_w_factor = c.dw;
    o.depth_multiplier = c.mult, o.fused_activation_function = c.act;
    b.op(BuiltinOperator::DEPTHWISE_CONV_2D, {x, fi, bi}, {y}, o);
    b.output(y);
    return b.run({test::host<float>({c.n, c.h, c.w, c.c}, in)}, threads);
  };
  const auto got = run(1);
  test::expect_near(test::from_bytes<float>(got[0].data), want);
  expect_bit_identical(got, run(2));
}

TEST(ConvDepthwise, MatchesReference) {
  using A = ActivationFunctionType;
  const DwCase cases[] = {
      {1, 12, 29, 24, 1, 3, 3, 1, 1, 1, 1, Padding::SAME, A::RELU6, true},  // 3x3 s1, 16 + 8 channel blocks
      {1, 13, 30, 42, 1, 3, 3, 2, 2, 1, 1, Padding::SAME, A::NONE, true},   // 3x3 s2, odd channel tail
      {1, 14, 27, 16, 1, 5, 5, 1, 1, 1, 1, Padding::SAME, A::RELU, true},   // 5x5 s1
      {1, 16, 32, 40, 1, 5, 5, 2, 2, 1, 1, Padding::SAME, A::NONE, false},  // 5x5 s2, even size
      {2, 11, 21, 8, 1, 3, 3, 1, 1, 1, 1, Padding::VALID, A::NONE, true},   // VALID, batch 2
      {1, 10, 23, 9, 1, 5, 5, 2, 2, 1, 1, Padding::VALID, A::NONE, true},
      {1, 3, 4, 20, 1, 5, 5, 1, 1, 1, 1, Padding::SAME, A::NONE, true},     // no interior pixels
      {1, 9, 11, 12, 1, 4, 4, 1, 2, 1, 1, Padding::SAME, A::NONE, true},    // 4x4: checked path
      {1, 9, 11, 6, 3, 3, 3, 1, 1, 1, 1, Padding::SAME, A::RELU6, true},    // depth multiplier 3
      {1, 12, 13, 10, 1, 3, 3, 1, 1, 2, 2, Padding::SAME, A::NONE, true},   // dilation
      {1, 12, 13, 5, 2, 3, 3, 2, 1, 1, 2, Padding::VALID, A::NONE, false},  // multiplier + dilation, VALID
  };
  uint32_t seed = 500;
  for (const DwCase& c : cases) check_depthwise(c, seed += 3);
}

TEST(ConvDepthwise, RejectsMalformedOps) {
  auto build = [](Shape in, Shape filter, Shape out, int mult) {
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, in);
    const int f = b.constant_f32(filter, std::vector<float>(num_elements(filter), 0.5f));
    const int y = b.tensor(DType::kFloat32, out);
    tflite::DepthwiseConv2DOptionsT o;
    o.stride_h = o.stride_w = 1;
    o.depth_multiplier = mult;
    b.op(BuiltinOperator::DEPTHWISE_CONV_2D, {x, f}, {y}, o);
    b.output(y);
    b.run({HostTensor::zeros("", DType::kFloat32, in)});
  };
  expect_error([&] { build({1, 4, 4, 3}, {1, 3, 3, 6}, {1, 4, 4, 6}, 1); }, "depth_multiplier 1 does not match");
  expect_error([&] { build({1, 4, 4, 4}, {1, 3, 3, 6}, {1, 4, 4, 6}, 0); }, "not a multiple of the input's 4");
  expect_error([&] { build({1, 4, 4, 3}, {2, 3, 3, 3}, {1, 4, 4, 3}, 1); }, "filter must have shape [1, H, W");
  expect_error([&] { build({1, 4, 4, 3}, {1, 3, 3, 3}, {1, 4, 5, 3}, 1); }, "output has shape");
  build({1, 4, 4, 3}, {1, 3, 3, 6}, {1, 4, 4, 6}, 0);  // multiplier 0: taken from the shapes
}

// ---- FULLY_CONNECTED -----------------------------------------------------------------------

void check_fc(Shape in_shape, int units, bool keep_dims, bool bias, ActivationFunctionType act, uint32_t seed) {
  const int depth = in_shape.back();
  const int64_t rows = num_elements(in_shape) / depth;
  Shape out_shape = keep_dims ? in_shape : Shape{static_cast<int32_t>(rows), units};
  out_shape.back() = units;
  SCOPED_TRACE(testing::Message() << "fc " << shape_str(in_shape) << " -> " << units);
  const auto in = test::random_floats(num_elements(in_shape), seed);
  const auto w = test::random_floats(size_t(units) * depth, seed + 1);
  const auto bv = test::random_floats(units, seed + 2);
  std::vector<float> want(rows * units);
  for (int64_t r = 0; r < rows; ++r)
    for (int u = 0; u < units; ++u) {
      double acc = bias ? bv[u] : 0.0;
      for (int k = 0; k < depth; ++k) acc += double(in[r * depth + k]) * w[size_t(u) * depth + k];
      want[r * units + u] = float(activate(acc, act));
    }
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, in_shape);
  const int wi = b.constant_f32({units, depth}, w);
  const int bi = bias ? b.constant_f32({units}, bv) : kNoTensor;
  const int y = b.tensor(DType::kFloat32, out_shape);
  tflite::FullyConnectedOptionsT o;
  o.keep_num_dims = keep_dims;
  o.fused_activation_function = act;
  b.op(BuiltinOperator::FULLY_CONNECTED, {x, wi, bi}, {y}, o);
  b.output(y);
  const auto got = b.run({test::host<float>(in_shape, in)});
  test::expect_near(test::from_bytes<float>(got[0].data), want);
}

TEST(ConvFullyConnected, MatchesReference) {
  check_fc({1, 672}, 63, false, true, ActivationFunctionType::NONE, 1);
  check_fc({1, 672}, 1, false, true, ActivationFunctionType::NONE, 2);  // dot-product path
  check_fc({5, 40}, 2, false, false, ActivationFunctionType::RELU, 3);
  check_fc({2, 3, 17}, 33, true, true, ActivationFunctionType::RELU6, 4);   // keep_num_dims
  check_fc({2, 3, 4, 5}, 7, false, true, ActivationFunctionType::NONE, 5);  // flattened to [24/..]
}

TEST(ConvFullyConnected, RejectsMalformedOps) {
  auto build = [](Shape in, Shape w, Shape out) {
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, in);
    const int wi = b.constant_f32(w, std::vector<float>(num_elements(w), 0.5f));
    const int y = b.tensor(DType::kFloat32, out);
    b.op(BuiltinOperator::FULLY_CONNECTED, {x, wi, kNoTensor}, {y}, tflite::FullyConnectedOptionsT{});
    b.output(y);
    b.run({HostTensor::zeros("", DType::kFloat32, in)});
  };
  expect_error([&] { build({1, 10}, {4, 3}, {1, 4}); }, "cannot be flattened into rows of 3");
  expect_error([&] { build({1, 12}, {4, 12}, {1, 5}); }, "expected 1 rows of 4");
  expect_error([&] { build({1, 12}, {4, 3, 4}, {1, 4}); }, "weights must have rank 2");
}

// ---- transposed convolutions ---------------------------------------------------------------

// TFLite/MediaPipe reference: every input pixel scatters input . filter into the output.
std::vector<float> transpose_conv_reference(const std::vector<float>& in, int n, int ih, int iw, int ic,
                                            const std::vector<float>& f, int oc, int kh, int kw, const float* bias, int oh,
                                            int ow, int sh, int sw, int pt, int pl, ActivationFunctionType act) {
  std::vector<double> acc(size_t(n) * oh * ow * oc, 0.0);
  for (int b = 0; b < n; ++b)
    for (int iy = 0; iy < ih; ++iy)
      for (int ix = 0; ix < iw; ++ix)
        for (int ky = 0; ky < kh; ++ky)
          for (int kx = 0; kx < kw; ++kx) {
            const int oy = iy * sh - pt + ky, ox = ix * sw - pl + kx;
            if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
            for (int co = 0; co < oc; ++co)
              for (int ci = 0; ci < ic; ++ci)
                acc[((size_t(b) * oh + oy) * ow + ox) * oc + co] +=
                    double(in[((size_t(b) * ih + iy) * iw + ix) * ic + ci]) * f[((size_t(co) * kh + ky) * kw + kx) * ic + ci];
          }
  std::vector<float> out(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) out[i] = float(activate(acc[i] + (bias ? bias[i % oc] : 0.0), act));
  return out;
}

struct TconvCase {
  int n, ih, iw, ic, oc, kh, kw, sh, sw, oh, ow;
  Padding pad;
  ActivationFunctionType act;
  bool bias;
};

TEST(ConvTransposeConv, MatchesReference) {
  using A = ActivationFunctionType;
  const TconvCase cases[] = {
      {1, 7, 6, 5, 3, 3, 3, 2, 2, 14, 12, Padding::SAME, A::NONE, true},
      {1, 8, 8, 16, 1, 2, 2, 2, 2, 16, 16, Padding::SAME, A::NONE, true},   // selfie-style 2x2 s2
      {2, 5, 4, 3, 4, 3, 2, 2, 3, 11, 11, Padding::VALID, A::RELU, false},
      {1, 6, 5, 4, 6, 4, 4, 2, 2, 12, 10, Padding::SAME, A::RELU6, true},
      {1, 5, 5, 3, 2, 3, 3, 1, 1, 5, 5, Padding::SAME, A::NONE, false},     // stride 1
      {1, 4, 4, 3, 2, 3, 3, 2, 2, 7, 8, Padding::SAME, A::NONE, true},      // output_shape smaller than stride * in
      {2, 4, 5, 3, 3, 2, 3, 2, 3, 8, 15, Padding::VALID, A::RELU, true},   // filter tiles the output, batch 2
  };
  uint32_t seed = 900;
  for (const TconvCase& c : cases) {
    SCOPED_TRACE(testing::Message() << "transpose conv " << c.ih << "x" << c.iw << "x" << c.ic << " k" << c.kh << "x" << c.kw
                                    << " s" << c.sh << "," << c.sw << " -> " << c.oh << "x" << c.ow);
    seed += 3;
    const auto in = test::random_floats(size_t(c.n) * c.ih * c.iw * c.ic, seed);
    const auto f = test::random_floats(size_t(c.oc) * c.kh * c.kw * c.ic, seed + 1);
    const auto bias = test::random_floats(c.oc, seed + 2);
    // TFLite pads as the forward convolution from the output size would.
    const int pt = pad_before(c.oh, out_size(c.pad, c.oh, c.kh, c.sh, 1), c.kh, c.sh, 1);
    const int pl = pad_before(c.ow, out_size(c.pad, c.ow, c.kw, c.sw, 1), c.kw, c.sw, 1);
    const auto want = transpose_conv_reference(in, c.n, c.ih, c.iw, c.ic, f, c.oc, c.kh, c.kw, c.bias ? bias.data() : nullptr,
                                               c.oh, c.ow, c.sh, c.sw, pt, pl, c.act);
    auto run = [&](int threads, bool filter_as_input = false) {
      ModelBuilder b;
      const int shape = b.constant_i32({4}, {c.n, c.oh, c.ow, c.oc});
      const int fi = filter_as_input ? b.input(DType::kFloat32, {c.oc, c.kh, c.kw, c.ic})
                                     : b.constant_f32({c.oc, c.kh, c.kw, c.ic}, f);
      const int x = b.input(DType::kFloat32, {c.n, c.ih, c.iw, c.ic});
      const int y = b.tensor(DType::kFloat32, {c.n, c.oh, c.ow, c.oc});
      std::vector<int32_t> inputs{shape, fi, x};
      if (c.bias) inputs.push_back(b.constant_f32({c.oc}, bias));
      tflite::TransposeConvOptionsT o;
      o.padding = c.pad, o.stride_h = c.sh, o.stride_w = c.sw, o.fused_activation_function = c.act;
      b.op(BuiltinOperator::TRANSPOSE_CONV, inputs, {y}, o);
      b.output(y);
      if (filter_as_input)
        return b.run({test::host<float>({c.oc, c.kh, c.kw, c.ic}, f), test::host<float>({c.n, c.ih, c.iw, c.ic}, in)}, threads);
      return b.run({test::host<float>({c.n, c.ih, c.iw, c.ic}, in)}, threads);
    };
    const auto got = run(1);
    test::expect_near(test::from_bytes<float>(got[0].data), want);
    expect_bit_identical(got, run(2));
    expect_bit_identical(got, run(1, /*filter_as_input=*/true));  // packed at eval instead
  }
}

TEST(ConvTransposeConv, RejectsMalformedOps) {
  auto build = [](std::vector<int32_t> out_shape_values, Shape out, Shape filter) {
    ModelBuilder b;
    const int shape = b.constant_i32({4}, out_shape_values);
    const int fi = b.constant_f32(filter, std::vector<float>(num_elements(filter), 0.5f));
    const int x = b.input(DType::kFloat32, {1, 4, 4, 3});
    const int y = b.tensor(DType::kFloat32, out);
    tflite::TransposeConvOptionsT o;
    o.stride_h = o.stride_w = 2;
    b.op(BuiltinOperator::TRANSPOSE_CONV, {shape, fi, x}, {y}, o);
    b.output(y);
    b.run({HostTensor::zeros("", DType::kFloat32, {1, 4, 4, 3})});
  };
  expect_error([&] { build({1, 8, 8, 2}, {1, 8, 9, 2}, {2, 3, 3, 3}); }, "output (from output_shape)");
  expect_error([&] { build({1, 8, 8, 2}, {1, 8, 8, 2}, {2, 3, 3, 4}); }, "does not match the input's 3 channels");
  expect_error([&] { build({1, 8, 8, 5}, {1, 8, 8, 5}, {2, 3, 3, 3}); }, "2 output channels");
}

std::vector<uint8_t> transpose_conv_params(int32_t padding, int32_t stride_w, int32_t stride_h) {
  return test::to_bytes(std::vector<int32_t>{padding, stride_w, stride_h});
}

// Strides and dilations near INT_MAX made the window arithmetic overflow (UBSan: "2 *
// 2147483647 cannot be represented"); they are refused in prepare().
TEST(ConvGeometry, AbsurdStridesAndDilationsAreRefused) {
  constexpr int kHuge = 2147483647;
  auto conv = [](BuiltinOperator op, int stride, int dilation, Shape out) {
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, {1, 5, 5, 1});
    const int f = b.constant_f32({1, 3, 3, 1}, std::vector<float>(9, 0.5f));
    const int y = b.tensor(DType::kFloat32, out);
    if (op == BuiltinOperator::CONV_2D) {
      tflite::Conv2DOptionsT o;
      o.padding = Padding::SAME, o.stride_h = o.stride_w = stride, o.dilation_h_factor = o.dilation_w_factor = dilation;
      b.op(op, {x, f}, {y}, o);
    } else {
      tflite::DepthwiseConv2DOptionsT o;
      o.padding = Padding::SAME, o.stride_h = o.stride_w = stride, o.dilation_h_factor = o.dilation_w_factor = dilation;
      b.op(op, {x, f}, {y}, o);
    }
    b.output(y);
    b.run({HostTensor::zeros("", DType::kFloat32, {1, 5, 5, 1})});
  };
  for (BuiltinOperator op : {BuiltinOperator::CONV_2D, BuiltinOperator::DEPTHWISE_CONV_2D}) {
    SCOPED_TRACE(tflite::EnumNameBuiltinOperator(op));
    expect_error([&] { conv(op, 1, kHuge, {1, 5, 5, 1}); }, "dilation 2147483647");
    expect_error([&] { conv(op, kHuge, 1, {1, 1, 1, 1}); }, "stride 2147483647");
    conv(op, 1, 2, {1, 5, 5, 1});  // ordinary values still run
  }
  // Transposed convolutions: TRANSPOSE_CONV pads as the forward convolution would; MediaPipe's
  // op computes its output size from the stride.
  ModelBuilder t;
  const int shape = t.constant_i32({4}, {1, 8, 8, 1});
  const int tf = t.constant_f32({1, 3, 3, 1}, std::vector<float>(9, 0.5f));
  const int tx = t.input(DType::kFloat32, {1, 4, 4, 1});
  const int ty = t.tensor(DType::kFloat32, {1, 8, 8, 1});
  tflite::TransposeConvOptionsT to;
  to.padding = Padding::SAME, to.stride_h = to.stride_w = kHuge;
  t.op(BuiltinOperator::TRANSPOSE_CONV, {shape, tf, tx}, {ty}, to);
  t.output(ty);
  expect_error([&] { t.run({HostTensor::zeros("", DType::kFloat32, {1, 4, 4, 1})}); }, "stride 2147483647");
  ModelBuilder mp;
  const int mx = mp.input(DType::kFloat32, {1, 4, 4, 1});
  const int mf = mp.constant_f32({1, 2, 2, 1}, std::vector<float>(4, 0.5f));
  const int mbias = mp.constant_f32({1}, {0.0f});
  const int my = mp.tensor(DType::kFloat32, {1, 8, 8, 1});
  mp.custom_op("Convolution2DTransposeBias", {mx, mf, mbias}, {my}, transpose_conv_params(2, kHuge, kHuge));
  mp.output(my);
  expect_error([&] { mp.run({HostTensor::zeros("", DType::kFloat32, {1, 4, 4, 1})}); }, "stride 2147483647");
}


TEST(ConvTransposeConvBias, MatchesMediaPipeReference) {
  struct Case {
    int ih, iw, ic, oc, kh, kw, sh, sw, padding;  // padding: 1 SAME, 2 VALID
  };
  const Case cases[] = {{8, 8, 16, 1, 2, 2, 2, 2, 1}, {5, 6, 4, 3, 3, 3, 2, 2, 1}, {4, 5, 3, 2, 3, 2, 2, 3, 2},
                        {6, 5, 5, 4, 4, 4, 2, 2, 1}};
  uint32_t seed = 1300;
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "transpose conv bias k" << c.kh << "x" << c.kw << " s" << c.sh << "," << c.sw);
    seed += 3;
    // MediaPipe's output size: SAME trims the filter overhang past the last stride.
    const int th = c.padding == 1 ? std::max(0, c.kh - (c.ih - 1) % c.sh - 1) : 0;
    const int tw = c.padding == 1 ? std::max(0, c.kw - (c.iw - 1) % c.sw - 1) : 0;
    const int oh = c.sh * (c.ih - 1) + c.kh - th, ow = c.sw * (c.iw - 1) + c.kw - tw;
    const auto in = test::random_floats(size_t(c.ih) * c.iw * c.ic, seed);
    const auto f = test::random_floats(size_t(c.oc) * c.kh * c.kw * c.ic, seed + 1);
    const auto bias = test::random_floats(c.oc, seed + 2);
    const auto want = transpose_conv_reference(in, 1, c.ih, c.iw, c.ic, f, c.oc, c.kh, c.kw, bias.data(), oh, ow, c.sh, c.sw,
                                               th / 2, tw / 2, ActivationFunctionType::NONE);
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, {1, c.ih, c.iw, c.ic});
    const int fi = b.constant_f32({c.oc, c.kh, c.kw, c.ic}, f);
    const int bi = b.constant_f32({c.oc}, bias);
    const int y = b.tensor(DType::kFloat32, {1, oh, ow, c.oc});
    b.custom_op("Convolution2DTransposeBias", {x, fi, bi}, {y}, transpose_conv_params(c.padding, c.sw, c.sh));
    b.output(y);
    const auto got = b.run({test::host<float>({1, c.ih, c.iw, c.ic}, in)});
    test::expect_near(test::from_bytes<float>(got[0].data), want);
  }
}

TEST(ConvTransposeConvBias, RejectsMalformedOps) {
  auto build = [](std::vector<uint8_t> options, Shape out) {
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, {1, 4, 4, 3});
    const int fi = b.constant_f32({2, 2, 2, 3}, std::vector<float>(24, 0.5f));
    const int bi = b.constant_f32({2}, {0.0f, 1.0f});
    const int y = b.tensor(DType::kFloat32, out);
    b.custom_op("Convolution2DTransposeBias", {x, fi, bi}, {y}, std::move(options));
    b.output(y);
    b.run({HostTensor::zeros("", DType::kFloat32, {1, 4, 4, 3})});
  };
  expect_error([&] { build({1, 0, 0, 0}, {1, 8, 8, 2}); }, "TfLiteTransposeConvParams (12 bytes), has 4 bytes");
  expect_error([&] { build(transpose_conv_params(0, 2, 2), {1, 8, 8, 2}); }, "padding must be 1 (SAME) or 2 (VALID)");
  expect_error([&] { build(transpose_conv_params(1, 2, 2), {1, 9, 8, 2}); }, "expected [1,8,8,2]");
}

}  // namespace
}  // namespace qcal
