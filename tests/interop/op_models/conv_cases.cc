// Int8 CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and TRANSPOSE_CONV models as TFLite's
// int8 scheme builds them: int8 input/output with one scale and zero point, int8 symmetric
// weights with per-channel (or one) scales, int32 bias at input_scale * weight_scale[c].
// Scales are realistic (input ~0.02, weights 0.005..0.02) and each output scale is set from
// the accumulator's spread (random int8 inputs over the full range), so outputs use most of
// the int8 range without all saturating.
#include <cmath>
#include <random>

#include "op_models.h"

namespace qcal::test {
namespace {

using B = tflite::BuiltinOperator;
using A = tflite::ActivationFunctionType;
using tflite::Padding;

// Standard deviations of a uniform int8 input and of uniform weights in [-127, 127].
constexpr double kInputStd = 73.9, kWeightStd = 73.3;

struct Weights {
  int tensor = -1, bias = -1;
  std::vector<float> scales;
};

// Constant int8 weights of `shape` (uniform in [wlo, whi]), quantized along `axis` with
// `channels` scales in [slo, shi] (one scale when per_tensor), and an int32 bias (or none).
// LiteRT is strict about the bias: TFLite's XNNPACK delegate wants it quantized, with one
// scale when the weights have one (else the model fails to load), and TFLite's builtin CONV_2D
// and DEPTHWISE_CONV_2D refuse to run without a bias (FULLY_CONNECTED accepts none).
Weights make_weights(ModelBuilder& b, uint32_t seed, const Shape& shape, int axis, int channels, float input_scale,
                     bool per_tensor, bool with_bias, float slo = 0.005f, float shi = 0.02f, int wlo = -127, int whi = 127,
                     int bias_range = 3000) {
  std::mt19937 rng(seed);
  Weights w;
  std::uniform_real_distribution<float> sd(slo, shi);
  w.scales.resize(per_tensor ? 1 : channels);
  for (float& s : w.scales) s = sd(rng);
  std::uniform_int_distribution<int> wd(wlo, whi);
  std::vector<int8_t> values(num_elements(shape));
  for (int8_t& v : values) v = static_cast<int8_t>(wd(rng));
  Quantization q;
  q.scale = w.scales;
  q.zero_point.assign(w.scales.size(), 0);
  q.quantized_dimension = per_tensor ? 0 : axis;
  w.tensor = b.constant(DType::kInt8, shape, to_bytes(values), q);
  if (with_bias) {
    std::uniform_int_distribution<int> bd(-bias_range, bias_range);
    std::vector<int32_t> bias(channels);
    for (int32_t& v : bias) v = bd(rng);
    Quantization bq;
    for (float s : w.scales) bq.scale.push_back(input_scale * s);  // one scale for per-tensor weights
    bq.zero_point.assign(bq.scale.size(), 0);
    w.bias = b.constant(DType::kInt32, {channels}, to_bytes(bias), bq);
  }
  return w;
}

// An output scale that puts `spread` standard deviations of a K-term accumulator in the int8 range.
float output_scale(float input_scale, const std::vector<float>& weight_scales, int K, double spread = 3.0) {
  double mean = 0;
  for (float s : weight_scales) mean += s;
  mean /= weight_scales.size();
  return static_cast<float>(input_scale * mean * std::sqrt(double(K)) * kInputStd * kWeightStd * spread / 127.0);
}

int out_size(Padding p, int in, int k, int s, int d) {
  const int eff = (k - 1) * d + 1;
  return p == Padding::SAME ? (in + s - 1) / s : (in - eff + s) / s;
}

// ---- CONV_2D -------------------------------------------------------------------------------

struct Conv {
  int n, h, w, ic, oc, kh, kw, sh, sw, dh, dw;
  Padding pad;
  A act;
  bool per_tensor, bias;
  int in_zp, out_zp;
  int groups = 1;
  float in_scale = 0.02f, w_lo = 0.005f, w_hi = 0.02f;
};

void conv(ModelBuilder& b, const Conv& c, uint32_t seed) {
  const float in_scale = c.in_scale;
  const int x = b.input(DType::kInt8, {c.n, c.h, c.w, c.ic}, q8(in_scale, c.in_zp));
  const int gic = c.ic / c.groups;
  const Weights w = make_weights(b, seed, {c.oc, c.kh, c.kw, gic}, 0, c.oc, in_scale, c.per_tensor, c.bias, c.w_lo, c.w_hi);
  const int oh = out_size(c.pad, c.h, c.kh, c.sh, c.dh), ow = out_size(c.pad, c.w, c.kw, c.sw, c.dw);
  const int y = b.tensor(DType::kInt8, {c.n, oh, ow, c.oc}, q8(output_scale(in_scale, w.scales, c.kh * c.kw * gic), c.out_zp));
  tflite::Conv2DOptionsT o;
  o.padding = c.pad, o.stride_h = c.sh, o.stride_w = c.sw, o.dilation_h_factor = c.dh, o.dilation_w_factor = c.dw;
  o.fused_activation_function = c.act;
  b.op(B::CONV_2D, {x, w.tensor, w.bias}, {y}, o);
  b.output(y);
}

const bool kConv3x3 = register_op_model("conv_3x3_s1_same_relu", [](ModelBuilder& b) {
  conv(b, {1, 24, 26, 16, 32, 3, 3, 1, 1, 1, 1, Padding::SAME, A::RELU, false, true, -7, -90}, 11);
});
const bool kConvS2 = register_op_model("conv_3x3_s2_valid_relu6", [](ModelBuilder& b) {
  // First-layer shape (3 input channels, K = 27); output scale so that 6.0 falls inside the range.
  Conv c{1, 15, 13, 3, 12, 3, 3, 2, 2, 1, 1, Padding::VALID, A::RELU6, false, true, 5, -128};
  conv(b, c, 12);
  b.sg().tensors[b.sg().outputs[0]].quantization->scale = {6.3f / 255.0f};
});
const bool kConvPointwise = register_op_model("conv_1x1_per_tensor", [](ModelBuilder& b) {
  conv(b, {1, 8, 9, 24, 40, 1, 1, 1, 1, 1, 1, Padding::SAME, A::NONE, true, true, 20, 3}, 13);
});
const bool kConvPointwiseOdd = register_op_model("conv_1x1_odd_channels", [](ModelBuilder& b) {
  conv(b, {1, 7, 6, 7, 20, 1, 1, 1, 1, 1, 1, Padding::VALID, A::RELU, false, true, -60, -9}, 20);
});
const bool kConvDilated = register_op_model("conv_3x3_dilated_same", [](ModelBuilder& b) {
  conv(b, {1, 12, 11, 6, 10, 3, 3, 1, 1, 2, 2, Padding::SAME, A::NONE, false, true, -30, 0}, 14);
});
const bool kConv5x5 = register_op_model("conv_5x5_s2_same_relu_n1_to_1", [](ModelBuilder& b) {
  // Small input and weight scales: outputs mostly inside [-1, 1].
  Conv c{2, 14, 16, 4, 8, 5, 5, 2, 2, 1, 1, Padding::SAME, A::RELU_N1_TO_1, false, true, 0, 10};
  c.in_scale = 0.002f, c.w_lo = 0.005f, c.w_hi = 0.006f;
  conv(b, c, 15);
  b.sg().tensors[b.sg().outputs[0]].quantization->scale = {2.2f / 255.0f};
});
// RELU6's bound lands exactly half-way between two steps (6 / scale + zp = 114.5): XNNPACK
// quantizes it with lrintf (114, nearest-even), TFLite's builtin kernels with round (115).
const bool kConvHalfBound = register_op_model("conv_3x3_relu6_bound_at_half", [](ModelBuilder& b) {
  Conv c{1, 16, 16, 8, 16, 3, 3, 1, 1, 1, 1, Padding::SAME, A::RELU6, false, true, 3, -128};
  conv(b, c, 19);
  float s = 6.0f / 242.5f;
  while (6.0f / s != 242.5f) s = std::nextafter(s, 1.0f);
  b.sg().tensors[b.sg().outputs[0]].quantization->scale = {s};
});
const bool kConvLargeK = register_op_model("conv_3x3_large_k_576", [](ModelBuilder& b) {
  conv(b, {1, 9, 9, 64, 32, 3, 3, 1, 1, 1, 1, Padding::SAME, A::RELU, false, true, -3, -20}, 16);
});
const bool kConvPointwiseLargeK = register_op_model("conv_1x1_large_k_1024", [](ModelBuilder& b) {
  conv(b, {1, 4, 5, 1024, 72, 1, 1, 1, 1, 1, 1, Padding::VALID, A::NONE, false, true, 1, -5}, 17);
});
const bool kConvGrouped = register_op_model("conv_3x3_grouped", [](ModelBuilder& b) {
  Conv c{1, 9, 10, 8, 12, 3, 3, 1, 1, 1, 1, Padding::SAME, A::NONE, false, true, 9, 2};
  c.groups = 2;
  conv(b, c, 18);
});

// ---- DEPTHWISE_CONV_2D ---------------------------------------------------------------------

void depthwise(ModelBuilder& b, const Conv& c, uint32_t seed) {
  const float in_scale = 0.02f;
  const int x = b.input(DType::kInt8, {c.n, c.h, c.w, c.ic}, q8(in_scale, c.in_zp));
  const Weights w = make_weights(b, seed, {1, c.kh, c.kw, c.oc}, 3, c.oc, in_scale, c.per_tensor, c.bias);
  const int oh = out_size(c.pad, c.h, c.kh, c.sh, c.dh), ow = out_size(c.pad, c.w, c.kw, c.sw, c.dw);
  const int y = b.tensor(DType::kInt8, {c.n, oh, ow, c.oc}, q8(output_scale(in_scale, w.scales, c.kh * c.kw), c.out_zp));
  tflite::DepthwiseConv2DOptionsT o;
  o.padding = c.pad, o.stride_h = c.sh, o.stride_w = c.sw, o.dilation_h_factor = c.dh, o.dilation_w_factor = c.dw;
  o.depth_multiplier = c.oc / c.ic;
  o.fused_activation_function = c.act;
  b.op(B::DEPTHWISE_CONV_2D, {x, w.tensor, w.bias}, {y}, o);
  b.output(y);
}

const bool kDw3x3 = register_op_model("depthwise_conv_3x3_s1_same_relu6", [](ModelBuilder& b) {
  Conv c{1, 12, 12, 32, 32, 3, 3, 1, 1, 1, 1, Padding::SAME, A::RELU6, false, true, -12, -128};
  depthwise(b, c, 21);
  b.sg().tensors[b.sg().outputs[0]].quantization->scale = {6.1f / 255.0f};
});
const bool kDwMult2 = register_op_model("depthwise_conv_3x3_s2_valid_mult2", [](ModelBuilder& b) {
  depthwise(b, {1, 11, 13, 6, 12, 3, 3, 2, 2, 1, 1, Padding::VALID, A::NONE, false, true, 33, -4}, 22);
});
const bool kDwDilated = register_op_model("depthwise_conv_5x5_dilated_per_tensor", [](ModelBuilder& b) {
  depthwise(b, {1, 14, 13, 20, 20, 5, 5, 1, 1, 2, 2, Padding::SAME, A::RELU, true, true, 0, -60}, 23);
});
const bool kDwS2Same = register_op_model("depthwise_conv_3x3_s2_same_batch2", [](ModelBuilder& b) {
  depthwise(b, {2, 10, 9, 24, 24, 3, 3, 2, 2, 1, 1, Padding::SAME, A::NONE, false, true, 100, 7}, 24);
});

// ---- FULLY_CONNECTED -----------------------------------------------------------------------

struct Fc {
  Shape in;
  int units;
  A act;
  bool per_tensor, bias, keep_num_dims;
  int in_zp, out_zp;
};

void fully_connected(ModelBuilder& b, const Fc& c, uint32_t seed) {
  const float in_scale = 0.02f;
  const int depth = c.in.back();
  const int x = b.input(DType::kInt8, c.in, q8(in_scale, c.in_zp));
  const Weights w = make_weights(b, seed, {c.units, depth}, 0, c.units, in_scale, c.per_tensor, c.bias);
  Shape out_shape = c.in;
  out_shape.back() = c.units;
  if (!c.keep_num_dims) out_shape = {static_cast<int32_t>(num_elements(c.in) / depth), c.units};
  const int y = b.tensor(DType::kInt8, out_shape, q8(output_scale(in_scale, w.scales, depth), c.out_zp));
  tflite::FullyConnectedOptionsT o;
  o.fused_activation_function = c.act;
  o.keep_num_dims = c.keep_num_dims;
  b.op(B::FULLY_CONNECTED, {x, w.tensor, w.bias}, {y}, o);
  b.output(y);
}

const bool kFcPerChannel = register_op_model("fully_connected_per_channel_relu", [](ModelBuilder& b) {
  fully_connected(b, {{8, 64}, 128, A::RELU, false, true, false, -9, -100}, 31);
});
const bool kFcPerTensor = register_op_model("fully_connected_per_tensor_no_bias", [](ModelBuilder& b) {
  fully_connected(b, {{3, 40}, 20, A::NONE, true, false, false, 14, 6}, 32);
});
const bool kFcKeepDims = register_op_model("fully_connected_keep_num_dims", [](ModelBuilder& b) {
  fully_connected(b, {{1, 4, 5, 24}, 10, A::RELU6, false, true, true, -2, -30}, 33);
});
const bool kFcFlatten = register_op_model("fully_connected_flatten_4d", [](ModelBuilder& b) {
  fully_connected(b, {{2, 3, 4, 16}, 50, A::NONE, true, true, false, 40, 0}, 34);
});
const bool kFcLargeK = register_op_model("fully_connected_large_k_1536", [](ModelBuilder& b) {
  fully_connected(b, {{2, 1536}, 48, A::NONE, false, true, false, -1, 12}, 35);
});
// Accumulators of ~3.3e7 (> 2^24, so float(acc) rounds): zero point -128 makes every x - zp
// non-negative and the weights are all positive; the tiny requantization scale keeps the
// outputs inside int8 while still varying from element to element.
const bool kFcHugeAcc = register_op_model("fully_connected_huge_accumulators", [](ModelBuilder& b) {
  const float in_scale = 0.02f;
  const int depth = 4096, units = 32;
  const int x = b.input(DType::kInt8, {1, depth}, q8(in_scale, -128));
  const Weights w = make_weights(b, 36, {units, depth}, 0, units, in_scale, false, true, 0.004f, 0.006f, 0, 127, 100000);
  const int y = b.tensor(DType::kInt8, {1, units}, q8(in_scale * 0.005f / 3.0e-6f, 0));
  b.op(B::FULLY_CONNECTED, {x, w.tensor, w.bias}, {y}, tflite::FullyConnectedOptionsT{});
  b.output(y);
});

// ---- TRANSPOSE_CONV ------------------------------------------------------------------------

void transpose_conv(ModelBuilder& b, int h, int w, int ic, int oc, int k, int s, Padding pad, bool bias, uint32_t seed) {
  const float in_scale = 0.02f;
  const int oh = pad == Padding::SAME ? h * s : (h - 1) * s + k, ow = pad == Padding::SAME ? w * s : (w - 1) * s + k;
  const int x = b.input(DType::kInt8, {1, h, w, ic}, q8(in_scale, 6));
  const int shape = b.constant_i32({4}, {1, oh, ow, oc});
  const Weights wt = make_weights(b, seed, {oc, k, k, ic}, 0, oc, in_scale, false, bias);
  // An output sums about (k / s)^2 taps of ic terms each.
  const int taps = std::max(1, (k / s) * (k / s));
  const int y = b.tensor(DType::kInt8, {1, oh, ow, oc}, q8(output_scale(in_scale, wt.scales, taps * ic), -3));
  tflite::TransposeConvOptionsT o;
  o.padding = pad, o.stride_h = s, o.stride_w = s;
  std::vector<int32_t> inputs{shape, wt.tensor, x};
  if (bias) inputs.push_back(wt.bias);
  b.op(B::TRANSPOSE_CONV, inputs, {y}, o);
  b.output(y);
}

const bool kTconv2x2 = register_op_model("transpose_conv_2x2_s2", [](ModelBuilder& b) {
  transpose_conv(b, 5, 6, 8, 6, 2, 2, Padding::VALID, true, 41);
});
const bool kTconv3x3 = register_op_model("transpose_conv_3x3_s2_same", [](ModelBuilder& b) {
  transpose_conv(b, 6, 5, 12, 10, 3, 2, Padding::SAME, true, 42);
});

}  // namespace
}  // namespace qcal::test
