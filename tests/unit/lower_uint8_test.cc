// Legacy uint8 models (TOCO's scheme) run on the int8 kernels through lower_uint8_to_int8.
// The pass must keep the model's I/O and real values, and the results must be what TFLite's
// uint8 arithmetic gives, computed here with naive loops on the uint8 codes:
//  * CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED with weight zero points, requantized as
//    XNNPACK does (float(acc) * scale, clamped, rounded to nearest-even, + zp, in [0, 255]);
//  * AVERAGE_POOL_2D rounding half up ((sum + n / 2) / n), where int8 rounds half away from 0;
//  * CONCATENATION requantizing inputs of another scale (float, rounded half away from zero).
#include <cmath>
#include <random>

#include "op_test_util.h"
#include "qcal/passes.h"

namespace qcal {
namespace {

using test::ModelBuilder;
using tflite::BuiltinOperator;

Quantization uq(float scale, int64_t zp) {
  Quantization q;
  q.scale = {scale};
  q.zero_point = {zp};
  return q;
}

std::vector<uint8_t> random_codes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(d(rng));
  return v;
}

std::vector<int32_t> random_bias(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-3000, 3000);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

uint8_t requantize_u8(int64_t acc, float in_scale, float w_scale, float out_scale, int32_t out_zp) {
  const float scale = in_scale * w_scale / out_scale;
  float x = static_cast<float>(static_cast<int32_t>(acc)) * scale;
  x = std::min(std::max(x, static_cast<float>(0 - out_zp)), static_cast<float>(255 - out_zp));
  return static_cast<uint8_t>(static_cast<int32_t>(std::nearbyint(x)) + out_zp);
}

TEST(LowerUint8, KeepsIoAndShiftsEverythingElse) {
  ModelBuilder b;
  const int x = b.input(DType::kUInt8, {1, 4, 4, 2}, uq(0.5f, 130));
  const int w = b.constant(DType::kUInt8, {3, 1, 1, 2}, {0, 128, 255, 7, 9, 200}, uq(0.02f, 120));
  const int bias = b.constant_i32({3}, {1, 2, 3});
  const int y = b.tensor(DType::kUInt8, {1, 4, 4, 3}, uq(0.25f, 100), "y");
  tflite::Conv2DOptionsT o;
  o.padding = tflite::Padding::SAME;
  o.stride_h = o.stride_w = 1;
  b.op(BuiltinOperator::CONV_2D, {x, w, bias}, {y}, o);
  b.output(y);
  Model m = b.model();
  ASSERT_TRUE(uses_uint8_scheme(m));
  const LowerReport r = lower_uint8_to_int8(m);
  EXPECT_EQ(r.constants, 1);
  EXPECT_EQ(r.ops, 1);
  const Subgraph& sg = m.subgraphs[0];
  // The I/O tensors keep their index, name and uint8 quantization.
  EXPECT_EQ(sg.inputs, std::vector<int32_t>{x});
  EXPECT_EQ(sg.outputs, std::vector<int32_t>{y});
  EXPECT_EQ(sg.tensors[x].dtype, DType::kUInt8);
  EXPECT_EQ(sg.tensors[y].dtype, DType::kUInt8);
  EXPECT_EQ(sg.tensors[y].quantization->zero_point[0], 100);
  EXPECT_EQ(sg.tensors[y].name, "y");
  // QUANTIZE in, the conv on int8 twins, QUANTIZE out.
  ASSERT_EQ(sg.operators.size(), 3u);
  EXPECT_EQ(sg.operators[0].builtin(), BuiltinOperator::QUANTIZE);
  EXPECT_EQ(sg.operators[2].builtin(), BuiltinOperator::QUANTIZE);
  const Operator& conv = sg.operators[1];
  EXPECT_TRUE(conv.legacy_uint8);
  EXPECT_EQ(sg.operators[0].inputs[0], x);
  EXPECT_EQ(sg.operators[0].outputs[0], conv.inputs[0]);
  EXPECT_EQ(sg.operators[2].outputs[0], y);
  EXPECT_EQ(sg.operators[2].inputs[0], conv.outputs[0]);
  const Tensor& xin = sg.tensors[conv.inputs[0]];
  EXPECT_EQ(xin.dtype, DType::kInt8);
  EXPECT_EQ(xin.quantization->zero_point[0], 2);
  EXPECT_EQ(xin.quantization->scale[0], 0.5f);
  const Tensor& wt = sg.tensors[w];
  EXPECT_EQ(wt.dtype, DType::kInt8);
  EXPECT_EQ(wt.quantization->zero_point[0], -8);
  // Real values are unchanged: q - zp is the same number.
  const std::vector<int8_t> codes = test::from_bytes<int8_t>(m.data_of(wt)->data);
  EXPECT_EQ(codes, (std::vector<int8_t>{-128, 0, 127, -121, -119, 72}));
  // A model without uint8 tensors is left alone.
  Model again = m;
  again.subgraphs[0].tensors[x].dtype = DType::kInt8;
  again.subgraphs[0].tensors[y].dtype = DType::kInt8;
  EXPECT_FALSE(uses_uint8_scheme(again));
}

// CONV_2D with uint8 weights (zero point 121), SAME padding, stride 2, 3x3: every output
// equals the naive uint8 computation.
TEST(LowerUint8, ConvWithWeightZeroPointMatchesUint8Arithmetic) {
  const int H = 7, W = 6, C = 5, OC = 9, K = 3, S = 2;
  const int OH = (H + S - 1) / S, OW = (W + S - 1) / S;
  const float xs = 0.04f, ws = 0.011f, ys = 0.09f;
  const int32_t xz = 117, wz = 121, yz = 98;
  const std::vector<uint8_t> xv = random_codes(H * W * C, 1), wv = random_codes(OC * K * K * C, 2);
  const std::vector<int32_t> bv = random_bias(OC, 3);
  ModelBuilder b;
  const int x = b.input(DType::kUInt8, {1, H, W, C}, uq(xs, xz));
  const int w = b.constant(DType::kUInt8, {OC, K, K, C}, wv, uq(ws, wz));
  const int bias = b.constant_i32({OC}, bv);
  const int y = b.tensor(DType::kUInt8, {1, OH, OW, OC}, uq(ys, yz));
  tflite::Conv2DOptionsT o;
  o.padding = tflite::Padding::SAME;
  o.stride_h = o.stride_w = S;
  b.op(BuiltinOperator::CONV_2D, {x, w, bias}, {y}, o);
  b.output(y);
  const std::vector<uint8_t> got = test::from_bytes<uint8_t>(b.run({test::host({1, H, W, C}, xv, DType::kUInt8)})[0].data);
  // TFLite SAME padding: total = max((O - 1) * S + K - I, 0), before = total / 2.
  const int pad_top = std::max((OH - 1) * S + K - H, 0) / 2, pad_left = std::max((OW - 1) * S + K - W, 0) / 2;
  for (int oy = 0; oy < OH; ++oy)
    for (int ox = 0; ox < OW; ++ox)
      for (int oc = 0; oc < OC; ++oc) {
        int64_t acc = bv[oc];
        for (int ky = 0; ky < K; ++ky)
          for (int kx = 0; kx < K; ++kx) {
            const int iy = oy * S - pad_top + ky, ix = ox * S - pad_left + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            for (int c = 0; c < C; ++c)
              acc += (xv[(iy * W + ix) * C + c] - xz) * (wv[((oc * K + ky) * K + kx) * C + c] - wz);
          }
        ASSERT_EQ(got[(oy * OW + ox) * OC + oc], requantize_u8(acc, xs, ws, ys, yz)) << oy << "," << ox << "," << oc;
      }
}

TEST(LowerUint8, PointwiseConvAndFullyConnectedWithWeightZeroPoint) {
  const int P = 6, C = 40, OC = 20;  // 1x1 conv over P pixels == FC over P rows
  const float xs = 0.03f, ws = 0.02f, ys = 0.5f;
  const int32_t xz = 140, wz = 99, yz = 131;
  const std::vector<uint8_t> xv = random_codes(P * C, 4), wv = random_codes(OC * C, 5);
  const std::vector<int32_t> bv = random_bias(OC, 6);
  std::vector<uint8_t> want(P * OC);
  for (int p = 0; p < P; ++p)
    for (int oc = 0; oc < OC; ++oc) {
      int64_t acc = bv[oc];
      for (int c = 0; c < C; ++c) acc += (xv[p * C + c] - xz) * (wv[oc * C + c] - wz);
      want[p * OC + oc] = requantize_u8(acc, xs, ws, ys, yz);
    }
  {
    ModelBuilder b;
    const int x = b.input(DType::kUInt8, {1, 2, 3, C}, uq(xs, xz));
    const int w = b.constant(DType::kUInt8, {OC, 1, 1, C}, wv, uq(ws, wz));
    const int y = b.tensor(DType::kUInt8, {1, 2, 3, OC}, uq(ys, yz));
    tflite::Conv2DOptionsT o;
    o.padding = tflite::Padding::VALID;
    o.stride_h = o.stride_w = 1;
    b.op(BuiltinOperator::CONV_2D, {x, w, b.constant_i32({OC}, bv)}, {y}, o);
    b.output(y);
    EXPECT_EQ(test::from_bytes<uint8_t>(b.run({test::host({1, 2, 3, C}, xv, DType::kUInt8)})[0].data), want);
  }
  {
    ModelBuilder b;
    const int x = b.input(DType::kUInt8, {P, C}, uq(xs, xz));
    const int w = b.constant(DType::kUInt8, {OC, C}, wv, uq(ws, wz));
    const int y = b.tensor(DType::kUInt8, {P, OC}, uq(ys, yz));
    b.op(BuiltinOperator::FULLY_CONNECTED, {x, w, b.constant_i32({OC}, bv)}, {y}, tflite::FullyConnectedOptionsT{});
    b.output(y);
    EXPECT_EQ(test::from_bytes<uint8_t>(b.run({test::host({P, C}, xv, DType::kUInt8)})[0].data), want);
  }
}

TEST(LowerUint8, DepthwiseWithWeightZeroPoint) {
  const int H = 5, W = 5, C = 19, K = 3;  // 19 channels: not a multiple of any vector width
  const float xs = 0.05f, ws = 0.03f, ys = 0.2f;
  const int32_t xz = 128, wz = 140, yz = 120;
  const std::vector<uint8_t> xv = random_codes(H * W * C, 7), wv = random_codes(K * K * C, 8);
  const std::vector<int32_t> bv = random_bias(C, 9);
  ModelBuilder b;
  const int x = b.input(DType::kUInt8, {1, H, W, C}, uq(xs, xz));
  const int w = b.constant(DType::kUInt8, {1, K, K, C}, wv, uq(ws, wz));
  const int y = b.tensor(DType::kUInt8, {1, H, W, C}, uq(ys, yz));
  tflite::DepthwiseConv2DOptionsT o;
  o.padding = tflite::Padding::SAME;
  o.stride_h = o.stride_w = 1;
  o.depth_multiplier = 1;
  b.op(BuiltinOperator::DEPTHWISE_CONV_2D, {x, w, b.constant_i32({C}, bv)}, {y}, o);
  b.output(y);
  const std::vector<uint8_t> got = test::from_bytes<uint8_t>(b.run({test::host({1, H, W, C}, xv, DType::kUInt8)})[0].data);
  for (int oy = 0; oy < H; ++oy)
    for (int ox = 0; ox < W; ++ox)
      for (int c = 0; c < C; ++c) {
        int64_t acc = bv[c];
        for (int ky = 0; ky < K; ++ky)
          for (int kx = 0; kx < K; ++kx) {
            const int iy = oy - 1 + ky, ix = ox - 1 + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            acc += (xv[(iy * W + ix) * C + c] - xz) * (wv[(ky * K + kx) * C + c] - wz);
          }
        ASSERT_EQ(got[(oy * W + ox) * C + c], requantize_u8(acc, xs, ws, ys, yz)) << oy << "," << ox << "," << c;
      }
}

// 2x2 windows whose sums are 2 mod 4: uint8 rounds the .5 up, int8 would round it away from
// zero, which after the shift by -128 is down.
TEST(LowerUint8, AveragePoolRoundsHalfUpAsUint8Does) {
  ModelBuilder b;
  const int x = b.input(DType::kUInt8, {1, 2, 4, 1}, uq(0.1f, 3));
  const int y = b.tensor(DType::kUInt8, {1, 1, 2, 1}, uq(0.1f, 3));
  tflite::Pool2DOptionsT o;
  o.padding = tflite::Padding::VALID;
  o.stride_h = o.stride_w = 2;
  o.filter_height = o.filter_width = 2;
  b.op(BuiltinOperator::AVERAGE_POOL_2D, {x}, {y}, o);
  b.output(y);
  const std::vector<uint8_t> xv = {0, 1, 10, 11,   // windows {0, 1, 0, 1} -> 2 / 4 and
                                   0, 1, 10, 11};  // {10, 11, 10, 11} -> 42 / 4
  const auto got = test::from_bytes<uint8_t>(b.run({test::host({1, 2, 4, 1}, xv, DType::kUInt8)})[0].data);
  EXPECT_EQ(got, (std::vector<uint8_t>{1, 11}));  // (2 + 2) / 4 = 1, (42 + 2) / 4 = 11
}

TEST(LowerUint8, ConcatenationRequantizesInputsOfAnotherScale) {
  ModelBuilder b;
  const int a = b.input(DType::kUInt8, {1, 4}, uq(0.1f, 128));
  const int c = b.input(DType::kUInt8, {1, 4}, uq(0.3f, 10));
  const int y = b.tensor(DType::kUInt8, {1, 8}, uq(0.2f, 100));
  tflite::ConcatenationOptionsT o;
  o.axis = 1;
  b.op(BuiltinOperator::CONCATENATION, {a, c}, {y}, o);
  b.output(y);
  const std::vector<uint8_t> av = {0, 127, 129, 255}, cv = {0, 10, 11, 255};
  const auto got = test::from_bytes<uint8_t>(
      b.run({test::host({1, 4}, av, DType::kUInt8), test::host({1, 4}, cv, DType::kUInt8)})[0].data);
  std::vector<uint8_t> want;
  auto rescale = [&](const std::vector<uint8_t>& v, float s, int32_t z) {
    const float scale = s * (1.0f / 0.2f), bias = -static_cast<float>(z) * scale;
    for (uint8_t q : v) want.push_back(static_cast<uint8_t>(std::clamp(static_cast<int32_t>(std::round(q * scale + bias)) + 100, 0, 255)));
  };
  rescale(av, 0.1f, 128);
  rescale(cv, 0.3f, 10);
  EXPECT_EQ(got, want);
  EXPECT_EQ(want[0], 36);  // 0.1 * (0 - 128) / 0.2 + 100 = 36
}

}  // namespace
}  // namespace qcal
