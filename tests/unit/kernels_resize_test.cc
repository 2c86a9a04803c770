// RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR against per-element references written from
// TFLite's reference formulas (source coordinates in float, as TFLite computes them) and,
// for int8 in xnnpack numerics, XNNPACK's s8-ibilinear, plus hand-computed cases.
#include <cmath>
#include <optional>
#include <random>

#include "op_test_util.h"

namespace qcal {
namespace {

using test::host;
using test::ModelBuilder;
using tflite::BuiltinOperator;

Quantization quant(float scale, int64_t zp) {
  Quantization q;
  q.scale = {scale};
  q.zero_point = {zp};
  return q;
}

struct Opts {
  bool align_corners = false, half_pixel = false;
};

HostTensor run_resize(BuiltinOperator code, DType t, const Shape& in, const std::vector<uint8_t>& bytes, int oh, int ow, Opts o,
                      int threads = 1, std::optional<Quantization> qin = std::nullopt,
                      std::optional<Quantization> qout = std::nullopt,
                      IntegerNumerics numerics = IntegerNumerics::kXnnpack) {
  ModelBuilder b;
  const int x = b.input(t, in, qin);
  const int size = b.constant_i32({2}, {oh, ow});
  const int y = b.tensor(t, {in[0], oh, ow, in[3]}, qout);
  if (code == BuiltinOperator::RESIZE_BILINEAR) {
    tflite::ResizeBilinearOptionsT opt;
    opt.align_corners = o.align_corners;
    opt.half_pixel_centers = o.half_pixel;
    b.op(code, {x, size}, {y}, opt);
  } else {
    tflite::ResizeNearestNeighborOptionsT opt;
    opt.align_corners = o.align_corners;
    opt.half_pixel_centers = o.half_pixel;
    b.op(code, {x, size}, {y}, opt);
  }
  b.output(y);
  ExecutorOptions eo;
  eo.threads = threads;
  eo.integer_numerics = numerics;
  Executor ex(std::make_shared<Model>(b.model()), eo, "test model");
  return ex.run({HostTensor{b.sg().tensors[x].name, t, in, bytes}})[0];
}

float ref_scale(int in, int out, bool align) {
  return align && out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : static_cast<float>(in) / static_cast<float>(out);
}

// Bilinear, one element: TFLite's formula with double accumulation.
double ref_bilinear(const std::vector<float>& x, const Shape& s, int b, int oy, int ox, int c, int oh, int ow, Opts o) {
  auto coord = [&](int v, int in, int out, int* lo, int* hi) {
    const float sc = ref_scale(in, out, o.align_corners);
    const float src = o.half_pixel ? (v + 0.5f) * sc - 0.5f : v * sc;
    *lo = std::max(static_cast<int>(std::floor(src)), 0);
    *hi = std::min(static_cast<int>(std::ceil(src)), in - 1);
    return static_cast<double>(src) - *lo;
  };
  int y0, y1, x0, x1;
  const double dy = coord(oy, s[1], oh, &y0, &y1), dx = coord(ox, s[2], ow, &x0, &x1);
  auto at = [&](int y, int xx) { return static_cast<double>(x[((b * s[1] + y) * s[2] + xx) * s[3] + c]); };
  return at(y0, x0) * (1 - dy) * (1 - dx) + at(y1, x0) * dy * (1 - dx) + at(y0, x1) * (1 - dy) * dx + at(y1, x1) * dy * dx;
}

int ref_nearest(int v, int in, int out, Opts o) {
  const float sc = ref_scale(in, out, o.align_corners);
  const float src = (v + (o.half_pixel ? 0.5f : 0.0f)) * sc;
  int k = std::min(static_cast<int>(o.align_corners ? std::round(src) : std::floor(src)), in - 1);
  if (o.half_pixel) k = std::max(k, 0);
  return k;
}

const Opts kVariants[] = {{false, false}, {true, false}, {false, true}};

TEST(ResizeBilinear, FloatMatchesReferenceForAllVariantsAndSizes) {
  const Shape s = {2, 5, 7, 3};
  const std::vector<float> x = test::random_floats(num_elements(s), 1, -4, 4);
  const std::pair<int, int> sizes[] = {{10, 14}, {3, 4}, {5, 7}, {11, 2}, {1, 1}, {16, 9}};
  for (const Opts& o : kVariants)
    for (auto [oh, ow] : sizes) {
      const auto got = test::from_bytes<float>(run_resize(BuiltinOperator::RESIZE_BILINEAR, DType::kFloat32, s, test::to_bytes(x), oh, ow, o).data);
      ASSERT_EQ(got.size(), static_cast<size_t>(2 * oh * ow * 3));
      size_t i = 0;
      for (int b = 0; b < 2; ++b)
        for (int y = 0; y < oh; ++y)
          for (int xx = 0; xx < ow; ++xx)
            for (int c = 0; c < 3; ++c, ++i)
              ASSERT_NEAR(got[i], ref_bilinear(x, s, b, y, xx, c, oh, ow, o), 1e-5)
                  << "ac " << o.align_corners << " hp " << o.half_pixel << " size " << oh << "x" << ow;
    }
}

TEST(ResizeBilinear, HalfPixelHandCase) {
  // [[0, 1], [2, 3]] -> 4x4 with half-pixel centers: source coords -0.25, 0.25, 0.75, 1.25,
  // clamped at the borders.
  const auto got = test::from_bytes<float>(
      run_resize(BuiltinOperator::RESIZE_BILINEAR, DType::kFloat32, {1, 2, 2, 1}, test::to_bytes<float>({0, 1, 2, 3}), 4, 4, {false, true}).data);
  const std::vector<float> want = {0, 0.25f, 0.75f, 1,    0.5f, 0.75f, 1.25f, 1.5f,
                                   1.5f, 1.75f, 2.25f, 2.5f, 2, 2.25f, 2.75f, 3};
  test::expect_near(got, want, 1e-6f);
}

TEST(ResizeBilinear, ThreadCountDoesNotChangeResults) {
  const Shape s = {1, 32, 32, 16};
  const auto x = test::to_bytes(test::random_floats(num_elements(s), 4));
  EXPECT_EQ(run_resize(BuiltinOperator::RESIZE_BILINEAR, DType::kFloat32, s, x, 64, 64, {false, true}, 1).data,
            run_resize(BuiltinOperator::RESIZE_BILINEAR, DType::kFloat32, s, x, 64, 64, {false, true}, 2).data);
}

// TFLite's ResizeBilinearInteger (int8/int16), element by element.
int64_t ref_bilinear_int(const std::vector<int8_t>& x, const Shape& s, int b, int oy, int ox, int c, int oh, int ow, Opts o) {
  auto coord = [&](int v, int in, int out, int* lo, int* hi) {
    int s10 = ((1 << 10) * in + out / 2) / out;
    if (o.align_corners && out > 1) s10 = ((1 << 10) * (in - 1) + (out - 1) / 2) / (out - 1);
    const int src = o.half_pixel ? v * s10 + s10 / 2 - (1 << 9) : v * s10;
    *lo = std::max(src / 1024, 0);
    *hi = std::min((src + 1023) / 1024, in - 1);
    return src;
  };
  int y0, y1, x0, x1;
  const int64_t sy = coord(oy, s[1], oh, &y0, &y1), sx = coord(ox, s[2], ow, &x0, &x1);
  auto at = [&](int y, int xx) { return static_cast<int64_t>(x[((b * s[1] + y) * s[2] + xx) * s[3] + c]); };
  const int64_t fy = sy - 1024 * y0, fx = sx - 1024 * x0;
  const int64_t acc = at(y0, x0) * (1024 - fy) * (1024 - fx) + at(y1, x0) * fy * (1024 - fx) +
                      at(y0, x1) * (1024 - fy) * fx + at(y1, x1) * fy * fx;
  // Round half away from zero, in exact arithmetic.
  return acc >= 0 ? (acc + (1 << 19)) >> 20 : -((-acc + (1 << 19)) >> 20);
}

TEST(ResizeBilinear, Int8ReferenceUsesTfliteFixedPoint) {
  const Shape s = {1, 4, 5, 2};
  std::mt19937 rng(7);
  std::vector<int8_t> x(num_elements(s));
  for (auto& v : x) v = static_cast<int8_t>(std::uniform_int_distribution<int>(-128, 127)(rng));
  for (const Opts& o : kVariants)
    for (auto [oh, ow] : {std::pair{8, 10}, std::pair{3, 3}, std::pair{7, 9}}) {
      const auto got = test::from_bytes<int8_t>(run_resize(BuiltinOperator::RESIZE_BILINEAR, DType::kInt8, s, test::to_bytes(x), oh, ow,
                                                           o, 1, quant(0.1f, 3), quant(0.1f, 3), IntegerNumerics::kReference).data);
      size_t i = 0;
      for (int y = 0; y < oh; ++y)
        for (int xx = 0; xx < ow; ++xx)
          for (int c = 0; c < 2; ++c, ++i) ASSERT_EQ(got[i], ref_bilinear_int(x, s, 0, y, xx, c, oh, ow, o)) << y << "," << xx;
    }
  EXPECT_THROW(run_resize(BuiltinOperator::RESIZE_BILINEAR, DType::kInt8, s, test::to_bytes(x), 8, 10, {}, 1, quant(0.1f, 3),
                          quant(0.2f, 3)),
               Error);
}

// XNNPACK's s8-ibilinear (what LiteRT runs), element by element: source coordinate
// y * scale (+ 0.5 * scale - 0.5, clamped to [0, in - 1], with half-pixel centers), weight
// round-to-even(frac * 2048), then in exact integers
// top = tl * 2048 + (tr - tl) * wx (bottom alike), out = floor((top * 2048 + (bottom - top) * wy + 2^21) / 2^22).
int64_t ref_bilinear_xnnpack(const std::vector<int8_t>& x, const Shape& s, int b, int oy, int ox, int c, int oh, int ow, Opts o) {
  auto coord = [&](int v, int in, int out, int* lo, int* hi) {
    const float sc = ref_scale(in, out, o.align_corners);
    float src = static_cast<float>(v) * sc;
    if (o.half_pixel) src = std::min(std::max(src + (0.5f * sc - 0.5f), 0.0f), static_cast<float>(in - 1));
    *lo = static_cast<int>(src);
    *hi = std::min(*lo + 1, in - 1);
    return static_cast<int64_t>(std::nearbyint((src - static_cast<float>(*lo)) * 2048.0f));
  };
  int y0, y1, x0, x1;
  const int64_t wy = coord(oy, s[1], oh, &y0, &y1), wx = coord(ox, s[2], ow, &x0, &x1);
  auto at = [&](int y, int xx) { return static_cast<int64_t>(x[((b * s[1] + y) * s[2] + xx) * s[3] + c]); };
  const int64_t top = at(y0, x0) * 2048 + (at(y0, x1) - at(y0, x0)) * wx;
  const int64_t bottom = at(y1, x0) * 2048 + (at(y1, x1) - at(y1, x0)) * wx;
  const int64_t acc = top * 2048 + (bottom - top) * wy;
  return static_cast<int64_t>(std::floor((acc + (1 << 21)) / 4194304.0));
}

TEST(ResizeBilinear, Int8XnnpackUsesS8Ibilinear) {
  const Shape s = {2, 5, 7, 3};
  std::mt19937 rng(11);
  std::vector<int8_t> x(num_elements(s));
  for (auto& v : x) v = static_cast<int8_t>(std::uniform_int_distribution<int>(-128, 127)(rng));
  const std::vector<float> xf(x.begin(), x.end());
  int differ_from_tflite = 0;
  for (const Opts& o : kVariants)
    for (auto [oh, ow] : {std::pair{12, 9}, std::pair{3, 3}, std::pair{10, 14}, std::pair{1, 4}, std::pair{5, 7}}) {
      const auto bytes = test::to_bytes(x);
      const auto got = test::from_bytes<int8_t>(
          run_resize(BuiltinOperator::RESIZE_BILINEAR, DType::kInt8, s, bytes, oh, ow, o, 1, quant(0.02f, 10), quant(0.02f, 10)).data);
      const auto two_threads = run_resize(BuiltinOperator::RESIZE_BILINEAR, DType::kInt8, s, bytes, oh, ow, o, 2, quant(0.02f, 10),
                                          quant(0.02f, 10)).data;
      EXPECT_EQ(test::to_bytes(got), two_threads);
      size_t i = 0;
      for (int b = 0; b < 2; ++b)
        for (int y = 0; y < oh; ++y)
          for (int xx = 0; xx < ow; ++xx)
            for (int c = 0; c < 3; ++c, ++i) {
              ASSERT_EQ(got[i], ref_bilinear_xnnpack(x, s, b, y, xx, c, oh, ow, o))
                  << "ac " << o.align_corners << " hp " << o.half_pixel << " size " << oh << "x" << ow << " at " << y << "," << xx;
              // Close to the exact interpolation: rounding plus the 11-bit weights' error.
              ASSERT_LE(std::abs(got[i] - ref_bilinear(xf, s, b, y, xx, c, oh, ow, o)), 0.75);
              if (b == 0) differ_from_tflite += got[i] != ref_bilinear_int(x, s, 0, y, xx, c, oh, ow, o);
            }
    }
  EXPECT_GT(differ_from_tflite, 0);  // the two runtimes round differently
}

TEST(ResizeBilinear, Uint8RoundsTheFloatFormula) {
  const Shape s = {1, 3, 3, 1};
  const std::vector<uint8_t> x = {0, 255, 10, 20, 30, 40, 250, 3, 99};
  std::vector<float> xf(x.begin(), x.end());
  const auto got = run_resize(BuiltinOperator::RESIZE_BILINEAR, DType::kUInt8, s, x, 5, 4, {false, true}).data;
  size_t i = 0;
  for (int y = 0; y < 5; ++y)
    for (int xx = 0; xx < 4; ++xx, ++i)
      EXPECT_EQ(got[i], static_cast<uint8_t>(ref_bilinear(xf, s, 0, y, xx, 0, 5, 4, {false, true}) + 0.5));
}

TEST(ResizeNearest, MatchesReferenceAndHandCases) {
  const Shape s = {2, 5, 3, 2};
  std::mt19937 rng(3);
  std::vector<int16_t> x(num_elements(s));
  for (auto& v : x) v = static_cast<int16_t>(rng());
  const Opts variants[] = {{false, false}, {true, false}, {false, true}, {true, true}};
  for (const Opts& o : variants)
    for (auto [oh, ow] : {std::pair{10, 6}, std::pair{3, 2}, std::pair{7, 8}, std::pair{1, 1}}) {
      const auto got = test::from_bytes<int16_t>(run_resize(BuiltinOperator::RESIZE_NEAREST_NEIGHBOR, DType::kInt16, s, test::to_bytes(x), oh, ow, o).data);
      size_t i = 0;
      for (int b = 0; b < 2; ++b)
        for (int y = 0; y < oh; ++y)
          for (int xx = 0; xx < ow; ++xx)
            for (int c = 0; c < 2; ++c, ++i) {
              const int sy = ref_nearest(y, 5, oh, o), sx = ref_nearest(xx, 3, ow, o);
              ASSERT_EQ(got[i], x[((b * 5 + sy) * 3 + sx) * 2 + c]);
            }
    }
  // 3 -> 5 along width: plain floor(0.6 x) = 0,0,1,1,2; align_corners round(0.5 x) = 0,1,1,2,2
  // (0.5 rounds away from zero); half-pixel floor(0.6 (x + 0.5)) = 0,0,1,2,2.
  const auto row = [&](Opts o) {
    return test::from_bytes<float>(
        run_resize(BuiltinOperator::RESIZE_NEAREST_NEIGHBOR, DType::kFloat32, {1, 1, 3, 1}, test::to_bytes<float>({10, 11, 12}), 1, 5, o).data);
  };
  EXPECT_EQ(row({false, false}), (std::vector<float>{10, 10, 11, 11, 12}));
  EXPECT_EQ(row({true, false}), (std::vector<float>{10, 11, 11, 12, 12}));
  EXPECT_EQ(row({false, true}), (std::vector<float>{10, 10, 11, 12, 12}));
}

TEST(ResizeBilinear, RejectsBadInputs) {
  const auto x = test::to_bytes(test::random_floats(8, 1));
  EXPECT_THROW(run_resize(BuiltinOperator::RESIZE_BILINEAR, DType::kFloat32, {1, 2, 2, 2}, x, 4, 4, {true, true}), Error);
  // Size input disagreeing with the output shape.
  ModelBuilder b;
  const int in = b.input(DType::kFloat32, {1, 2, 2, 2});
  const int y = b.tensor(DType::kFloat32, {1, 4, 4, 2});
  b.op(BuiltinOperator::RESIZE_BILINEAR, {in, b.constant_i32({2}, {4, 5})}, {y}, tflite::ResizeBilinearOptionsT{});
  b.output(y);
  EXPECT_THROW(b.run({HostTensor{"", DType::kFloat32, {1, 2, 2, 2}, x}}), Error);
  // Rank 3 input.
  ModelBuilder c;
  const int in3 = c.input(DType::kFloat32, {2, 2, 2});
  const int y3 = c.tensor(DType::kFloat32, {4, 4, 2});
  c.op(BuiltinOperator::RESIZE_NEAREST_NEIGHBOR, {in3, c.constant_i32({2}, {4, 4})}, {y3}, tflite::ResizeNearestNeighborOptionsT{});
  c.output(y3);
  EXPECT_THROW(c.run({HostTensor{"", DType::kFloat32, {2, 2, 2}, x}}), Error);
}

}  // namespace
}  // namespace qcal
