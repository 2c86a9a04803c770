// Int8 arithmetic, reductions, pooling and conversions: ADD, SUB, MUL, SQUARED_DIFFERENCE,
// MAXIMUM, MINIMUM, MEAN, SUM, AVERAGE_POOL_2D, MAX_POOL_2D, QUANTIZE, DEQUANTIZE.
// Scales are what calibration gives real models (0.01-0.1, zero points != 0), with
// input/output scale ratios both above and below 1, broadcasting, fused activations, and
// a few cases outside the ranges XNNPACK accepts (LiteRT then runs TFLite's builtin kernel),
// and "_ties" cases whose scales make exact rounding ties, where the runtimes differ most.
// QUANTIZE and DEQUANTIZE cases have a float input or output.
// Names avoid the substrings of other case families ("relu", "conv", ...).
#include "op_models.h"

namespace qcal::test {
namespace {

using B = tflite::BuiltinOperator;
using Act = tflite::ActivationFunctionType;

// A constant int8 tensor with codes spread over [-128, 127].
int int8_constant(ModelBuilder& b, const Shape& shape, const Quantization& q, int seed) {
  std::vector<int8_t> v(static_cast<size_t>(num_elements(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int8_t>((i * 73 + static_cast<size_t>(seed) * 29 + 11) % 256 - 128);
  return b.constant(DType::kInt8, shape, to_bytes(v), q);
}

// ---- ADD / SUB / MUL / SQUARED_DIFFERENCE / MAXIMUM / MINIMUM ------------------------------

template <typename OptionsT>
void binary(ModelBuilder& b, B op, const Shape& a_shape, Quantization qa, const Shape& b_shape, Quantization qb,
            const Shape& out_shape, Quantization qout, OptionsT options, bool b_constant = false) {
  const int x = b.input(DType::kInt8, a_shape, qa);
  const int y = b_constant ? int8_constant(b, b_shape, qb, 3) : b.input(DType::kInt8, b_shape, qb);
  const int z = b.tensor(DType::kInt8, out_shape, qout);
  b.op(op, {x, y}, {z}, options);
  b.output(z);
}

tflite::AddOptionsT add_opts(Act a = Act::NONE) {
  tflite::AddOptionsT o;
  o.fused_activation_function = a;
  return o;
}
tflite::SubOptionsT sub_opts(Act a = Act::NONE) {
  tflite::SubOptionsT o;
  o.fused_activation_function = a;
  return o;
}
tflite::MulOptionsT mul_opts(Act a = Act::NONE) {
  tflite::MulOptionsT o;
  o.fused_activation_function = a;
  return o;
}

// ---- ADD ----
const bool kAdd = register_op_model("add_int8", [](ModelBuilder& b) {
  binary(b, B::ADD, {1, 16, 16, 32}, q8(0.05f, -3), {1, 16, 16, 32}, q8(0.02f, 10), {1, 16, 16, 32}, q8(0.06f, 5), add_opts());
});
const bool kAddUp = register_op_model("add_ratio_above_one_int8", [](ModelBuilder& b) {
  binary(b, B::ADD, {1, 16, 16, 32}, q8(0.1f, 7), {1, 16, 16, 32}, q8(0.0731f, -12), {1, 16, 16, 32}, q8(0.0437f, -2), add_opts());
});
const bool kAddSame = register_op_model("add_same_scale_int8", [](ModelBuilder& b) {
  binary(b, B::ADD, {1, 16, 16, 32}, q8(0.0392f, -1), {1, 16, 16, 32}, q8(0.0392f, -1), {1, 16, 16, 32}, q8(0.0392f, -1), add_opts());
});
const bool kAddBcast = register_op_model("add_broadcast_channel_int8", [](ModelBuilder& b) {
  binary(b, B::ADD, {1, 6, 6, 24}, q8(0.03f, 20), {24}, q8(0.011f, -40), {1, 6, 6, 24}, q8(0.035f, 9), add_opts());
});
const bool kAddBcast2 = register_op_model("add_broadcast_both_int8", [](ModelBuilder& b) {
  binary(b, B::ADD, {1, 5, 1, 12}, q8(0.025f, -7), {1, 1, 7, 12}, q8(0.061f, 3), {1, 5, 7, 12}, q8(0.07f, -10), add_opts());
});
const bool kAddConst = register_op_model("add_constant_scalar_int8", [](ModelBuilder& b) {
  binary(b, B::ADD, {1, 16, 16, 32}, q8(0.05f, -30), {}, q8(0.0235f, -128), {1, 16, 16, 32}, q8(0.052f, -80), add_opts(), true);
});
const bool kAddR6 = register_op_model("add_bounded_0_6_int8", [](ModelBuilder& b) {
  binary(b, B::ADD, {1, 16, 16, 32}, q8(0.05f, -3), {1, 16, 16, 32}, q8(0.04f, 10), {1, 16, 16, 32}, q8(6.0f / 255, -128),
         add_opts(Act::RELU6));
});
const bool kAddR = register_op_model("add_bounded_0_inf_int8", [](ModelBuilder& b) {
  binary(b, B::ADD, {1, 16, 16, 32}, q8(0.05f, -3), {1, 16, 16, 32}, q8(0.04f, 10), {1, 16, 16, 32}, q8(0.05f, -60),
         add_opts(Act::RELU));
});
const bool kAddR1 = register_op_model("add_bounded_n1_1_int8", [](ModelBuilder& b) {
  binary(b, B::ADD, {1, 16, 16, 32}, q8(0.01f, 4), {1, 16, 16, 32}, q8(0.013f, -9), {1, 16, 16, 32}, q8(0.009f, 2),
         add_opts(Act::RELU_N1_TO_1));
});
// Output scale 0.4, zp 2: RELU_N1_TO_1's bounds fall on exact ties (+-2.5 steps), which
// XNNPACK rounds to [0, 4] and TFLite to [-1, 5].
const bool kAddTieBounds = register_op_model("add_bounded_n1_1_tie_bounds_int8", [](ModelBuilder& b) {
  binary(b, B::ADD, {1, 8, 8, 16}, q8(0.02f, 3), {1, 8, 8, 16}, q8(0.02f, -1), {1, 8, 8, 16}, q8(0.4f, 2),
         add_opts(Act::RELU_N1_TO_1));
});
// Input 1 / output ratio 2^-11: outside XNNPACK's [2^-10, 2^8), so LiteRT runs TFLite's
// kernel. Input 2's ratio 1/4 makes exact ties (a == zp_a), which TFLite rounds away from
// zero and XNNPACK up, so the case tells the two apart.
const bool kAddFar = register_op_model("add_ratio_outside_xnnpack_int8", [](ModelBuilder& b) {
  binary(b, B::ADD, {1, 16, 16, 32}, q8(0.0001f, 7), {1, 16, 16, 32}, q8(0.05f, -9), {1, 16, 16, 32}, q8(0.2f, 3), add_opts());
});

// ---- SUB ----
const bool kSub = register_op_model("sub_int8", [](ModelBuilder& b) {
  binary(b, B::SUB, {1, 16, 16, 32}, q8(0.05f, -3), {1, 16, 16, 32}, q8(0.02f, 10), {1, 16, 16, 32}, q8(0.06f, 5), sub_opts());
});
const bool kSubUp = register_op_model("sub_ratio_above_one_int8", [](ModelBuilder& b) {
  binary(b, B::SUB, {1, 16, 16, 32}, q8(0.1f, 7), {1, 16, 16, 32}, q8(0.0731f, -12), {1, 16, 16, 32}, q8(0.0437f, -2), sub_opts());
});
const bool kSubBcast = register_op_model("sub_broadcast_int8", [](ModelBuilder& b) {
  binary(b, B::SUB, {2, 1, 6, 10}, q8(0.03f, 20), {3, 1, 10}, q8(0.011f, -40), {2, 3, 6, 10}, q8(0.035f, 9), sub_opts());
});
const bool kSubConst = register_op_model("sub_constant_int8", [](ModelBuilder& b) {
  binary(b, B::SUB, {1, 6, 6, 8}, q8(0.02f, 0), {1, 1, 1, 8}, q8(0.05f, 17), {1, 6, 6, 8}, q8(0.04f, -3), sub_opts(), true);
});
const bool kSubR6 = register_op_model("sub_bounded_0_6_int8", [](ModelBuilder& b) {
  binary(b, B::SUB, {1, 16, 16, 32}, q8(0.05f, -3), {1, 16, 16, 32}, q8(0.04f, 10), {1, 16, 16, 32}, q8(6.0f / 255, -128),
         sub_opts(Act::RELU6));
});
const bool kSubFar = register_op_model("sub_ratio_outside_xnnpack_int8", [](ModelBuilder& b) {
  binary(b, B::SUB, {1, 16, 16, 32}, q8(0.05f, -9), {1, 16, 16, 32}, q8(0.0001f, 7), {1, 16, 16, 32}, q8(0.2f, 3), sub_opts());
});

// ---- MUL ----
const bool kMul = register_op_model("mul_int8", [](ModelBuilder& b) {
  binary(b, B::MUL, {1, 16, 16, 32}, q8(0.05f, -3), {1, 16, 16, 32}, q8(0.02f, 10), {1, 16, 16, 32}, q8(0.01f, 5), mul_opts());
});
const bool kMulUp = register_op_model("mul_ratio_above_one_int8", [](ModelBuilder& b) {
  binary(b, B::MUL, {1, 16, 16, 32}, q8(0.1f, 7), {1, 16, 16, 32}, q8(0.0731f, -12), {1, 16, 16, 32}, q8(0.0037f, -2), mul_opts());
});
const bool kMulBcast = register_op_model("mul_broadcast_channel_int8", [](ModelBuilder& b) {
  binary(b, B::MUL, {1, 6, 6, 24}, q8(0.03f, 20), {1, 1, 1, 24}, q8(1.0f / 256, -128), {1, 6, 6, 24}, q8(0.02f, 9), mul_opts());
});
const bool kMulConst = register_op_model("mul_constant_scalar_int8", [](ModelBuilder& b) {
  binary(b, B::MUL, {1, 16, 16, 32}, q8(0.05f, -30), {1}, q8(0.0013f, -128), {1, 16, 16, 32}, q8(0.0081f, 11), mul_opts(), true);
});
const bool kMulR6 = register_op_model("mul_bounded_0_6_int8", [](ModelBuilder& b) {
  binary(b, B::MUL, {1, 16, 16, 32}, q8(0.05f, -3), {1, 16, 16, 32}, q8(0.04f, 10), {1, 16, 16, 32}, q8(6.0f / 255, -128),
         mul_opts(Act::RELU6));
});
// Product/output ratio 1.49e-5: below XNNPACK's 2^-16, LiteRT runs TFLite's kernel (outputs
// are within one step of the zero point, where the two formulas agree).
const bool kMulFar = register_op_model("mul_ratio_outside_xnnpack_int8", [](ModelBuilder& b) {
  binary(b, B::MUL, {1, 16, 16, 32}, q8(0.02f, 3), {1, 16, 16, 32}, q8(0.0073f, -5), {1, 16, 16, 32}, q8(9.8f, 1), mul_opts());
});

// ---- SQUARED_DIFFERENCE ----
const bool kSqDiff = register_op_model("sqdiff_int8", [](ModelBuilder& b) {
  binary(b, B::SQUARED_DIFFERENCE, {1, 16, 16, 32}, q8(0.05f, -3), {1, 16, 16, 32}, q8(0.03f, 10), {1, 16, 16, 32},
         q8(0.21f, -128), nullptr);
});
const bool kSqDiffBcast = register_op_model("sqdiff_broadcast_int8", [](ModelBuilder& b) {
  binary(b, B::SQUARED_DIFFERENCE, {1, 6, 6, 24}, q8(0.02f, 5), {1, 1, 1, 24}, q8(0.02f, 5), {1, 6, 6, 24},
         q8(0.03f, -128), nullptr);
});

// ---- MAXIMUM / MINIMUM ----
const bool kMax = register_op_model("maximum_int8", [](ModelBuilder& b) {
  binary(b, B::MAXIMUM, {1, 16, 16, 32}, q8(0.04f, -6), {1, 16, 16, 32}, q8(0.04f, -6), {1, 16, 16, 32}, q8(0.04f, -6), nullptr);
});
const bool kMaxBcast = register_op_model("maximum_broadcast_int8", [](ModelBuilder& b) {
  binary(b, B::MAXIMUM, {1, 6, 6, 24}, q8(0.02f, 5), {24}, q8(0.02f, 5), {1, 6, 6, 24}, q8(0.02f, 5), nullptr, true);
});
const bool kMin = register_op_model("minimum_int8", [](ModelBuilder& b) {
  binary(b, B::MINIMUM, {1, 16, 16, 32}, q8(0.04f, -6), {1, 16, 16, 32}, q8(0.04f, -6), {1, 16, 16, 32}, q8(0.04f, -6), nullptr);
});
const bool kMinBcast = register_op_model("minimum_broadcast_int8", [](ModelBuilder& b) {
  binary(b, B::MINIMUM, {2, 1, 6, 8}, q8(0.02f, 5), {1, 4, 1, 8}, q8(0.02f, 5), {2, 4, 6, 8}, q8(0.02f, 5), nullptr);
});

// ---- MEAN / SUM ------------------------------------------------------------------------------

void reduce(ModelBuilder& b, B op, const Shape& in_shape, Quantization qin, std::vector<int32_t> axes, bool keep_dims,
            const Shape& out_shape, Quantization qout) {
  const int x = b.input(DType::kInt8, in_shape, qin);
  const int a = b.constant_i32({static_cast<int32_t>(axes.size())}, axes);
  const int y = b.tensor(DType::kInt8, out_shape, qout);
  tflite::ReducerOptionsT o;
  o.keep_dims = keep_dims;
  b.op(op, {x, a}, {y}, o);
  b.output(y);
}

// Global average pooling as converters write it: MEAN over H, W with keep_dims.
const bool kMeanHW = register_op_model("mean_hw_keep_dims_int8", [](ModelBuilder& b) {
  reduce(b, B::MEAN, {1, 7, 7, 32}, q8(0.05f, -3), {1, 2}, true, {1, 1, 1, 32}, q8(0.0213f, 4));
});
const bool kMeanHWSame = register_op_model("mean_hw_same_scale_int8", [](ModelBuilder& b) {
  reduce(b, B::MEAN, {1, 10, 10, 16}, q8(0.04f, -20), {1, 2}, true, {1, 1, 1, 16}, q8(0.04f, -20));
});
const bool kMeanHWUp = register_op_model("mean_hw_ratio_above_one_int8", [](ModelBuilder& b) {
  reduce(b, B::MEAN, {1, 4, 6, 16}, q8(0.05f, 11), {2, 1}, false, {1, 16}, q8(0.0081f, -7));
});
const bool kMeanBatch = register_op_model("mean_hw_batch2_int8", [](ModelBuilder& b) {
  reduce(b, B::MEAN, {2, 5, 5, 8}, q8(0.03f, 9), {1, 2}, true, {2, 1, 1, 8}, q8(0.01f, -2));
});
const bool kMeanC = register_op_model("mean_channels_int8", [](ModelBuilder& b) {
  reduce(b, B::MEAN, {1, 6, 6, 20}, q8(0.05f, -3), {3}, true, {1, 6, 6, 1}, q8(0.0213f, 4));
});
const bool kMeanW = register_op_model("mean_width_int8", [](ModelBuilder& b) {
  reduce(b, B::MEAN, {1, 6, 9, 12}, q8(0.05f, -3), {2}, false, {1, 6, 12}, q8(0.031f, 6));
});
// in/out = 4 and 1/32 make the scale exactly 1/8, so an eighth of the means are exact ties;
// with an odd output zero point they show that XNNPACK adds the zero point before rounding.
const bool kMean3 = register_op_model("mean_rank3_last_ties_int8", [](ModelBuilder& b) {
  reduce(b, B::MEAN, {4, 10, 32}, q8(0.02f, 1), {2}, false, {4, 10}, q8(0.005f, -1));
});
const bool kMean3Neg = register_op_model("mean_rank3_negative_axis_ties_int8", [](ModelBuilder& b) {
  reduce(b, B::MEAN, {4, 10, 32}, q8(0.02f, 1), {-1}, false, {4, 10}, q8(0.005f, -1));
});
const bool kMeanOuter = register_op_model("mean_batch_and_width_int8", [](ModelBuilder& b) {
  reduce(b, B::MEAN, {3, 4, 5, 6}, q8(0.04f, -20), {0, 2}, true, {1, 4, 1, 6}, q8(0.011f, 3));
});
const bool kMeanNegHW = register_op_model("mean_hw_negative_axes_int8", [](ModelBuilder& b) {
  reduce(b, B::MEAN, {1, 7, 7, 32}, q8(0.05f, -3), {-3, -2}, true, {1, 1, 1, 32}, q8(0.0213f, 4));
});
const bool kSumHW = register_op_model("sum_hw_int8", [](ModelBuilder& b) {
  reduce(b, B::SUM, {1, 4, 4, 16}, q8(0.01f, -3), {1, 2}, true, {1, 1, 1, 16}, q8(0.08f, 4));
});
const bool kSumC = register_op_model("sum_channels_int8", [](ModelBuilder& b) {
  reduce(b, B::SUM, {1, 6, 6, 8}, q8(0.01f, 5), {3}, false, {1, 6, 6}, q8(0.05f, -1));
});
// in/out = 1/2 exactly: ties, odd output zero point.
const bool kSumTies = register_op_model("sum_batch_ties_int8", [](ModelBuilder& b) {
  reduce(b, B::SUM, {2, 3, 64}, q8(0.02f, 0), {0}, false, {3, 64}, q8(0.04f, 1));
});

// ---- AVERAGE_POOL_2D / MAX_POOL_2D -------------------------------------------------------

void pool(ModelBuilder& b, B op, const Shape& in_shape, Quantization q, tflite::Padding padding, int filter_h, int filter_w,
          int stride_h, int stride_w, const Shape& out_shape, Act act = Act::NONE) {
  const int x = b.input(DType::kInt8, in_shape, q);
  const int y = b.tensor(DType::kInt8, out_shape, q);
  tflite::Pool2DOptionsT o;
  o.padding = padding;
  o.filter_height = filter_h;
  o.filter_width = filter_w;
  o.stride_h = stride_h;
  o.stride_w = stride_w;
  o.fused_activation_function = act;
  b.op(op, {x}, {y}, o);
  b.output(y);
}

const bool kAvgValid = register_op_model("avgpool_2x2_s2_valid_int8", [](ModelBuilder& b) {
  pool(b, B::AVERAGE_POOL_2D, {1, 16, 16, 32}, q8(0.05f, -3), tflite::Padding::VALID, 2, 2, 2, 2, {1, 8, 8, 32});
});
const bool kAvgSame = register_op_model("avgpool_3x3_s1_same_int8", [](ModelBuilder& b) {
  pool(b, B::AVERAGE_POOL_2D, {1, 7, 9, 8}, q8(0.031f, 12), tflite::Padding::SAME, 3, 3, 1, 1, {1, 7, 9, 8});
});
const bool kAvgSameS2 = register_op_model("avgpool_3x3_s2_same_int8", [](ModelBuilder& b) {
  pool(b, B::AVERAGE_POOL_2D, {2, 9, 8, 12}, q8(0.02f, -17), tflite::Padding::SAME, 3, 3, 2, 2, {2, 5, 4, 12});
});
const bool kAvgGlobal = register_op_model("avgpool_global_int8", [](ModelBuilder& b) {
  pool(b, B::AVERAGE_POOL_2D, {1, 7, 7, 32}, q8(0.05f, -3), tflite::Padding::VALID, 7, 7, 1, 1, {1, 1, 1, 32});
});
const bool kAvgR6 = register_op_model("avgpool_2x2_s1_bounded_0_6_int8", [](ModelBuilder& b) {
  pool(b, B::AVERAGE_POOL_2D, {1, 6, 6, 8}, q8(0.04f, -100), tflite::Padding::VALID, 2, 2, 1, 1, {1, 5, 5, 8}, Act::RELU6);
});
const bool kMaxValid = register_op_model("maxpool_2x2_s2_valid_int8", [](ModelBuilder& b) {
  pool(b, B::MAX_POOL_2D, {1, 16, 16, 32}, q8(0.05f, -3), tflite::Padding::VALID, 2, 2, 2, 2, {1, 8, 8, 32});
});
const bool kMaxSame = register_op_model("maxpool_3x3_s2_same_int8", [](ModelBuilder& b) {
  pool(b, B::MAX_POOL_2D, {1, 9, 8, 12}, q8(0.02f, -17), tflite::Padding::SAME, 3, 3, 2, 2, {1, 5, 4, 12});
});
// Tie bounds as in add_bounded_n1_1_tie_bounds: AVERAGE_POOL_2D runs on TFLite ([-1, 5]).
const bool kAvgTie = register_op_model("avgpool_2x2_s2_tie_bounds_int8", [](ModelBuilder& b) {
  pool(b, B::AVERAGE_POOL_2D, {1, 8, 8, 16}, q8(0.4f, 2), tflite::Padding::VALID, 2, 2, 2, 2, {1, 4, 4, 16}, Act::RELU_N1_TO_1);
});
// The same tie bounds: a delegated pool clamps to XNNPACK's [0, 4]; a 1x1 pool with stride 2
// (which the delegate leaves to TFLite) to TFLite's [-1, 5].
const bool kMaxTie = register_op_model("maxpool_2x2_s2_tie_bounds_int8", [](ModelBuilder& b) {
  pool(b, B::MAX_POOL_2D, {1, 8, 8, 16}, q8(0.4f, 2), tflite::Padding::VALID, 2, 2, 2, 2, {1, 4, 4, 16}, Act::RELU_N1_TO_1);
});
const bool kMaxTie1x1 = register_op_model("maxpool_1x1_s2_tie_bounds_int8", [](ModelBuilder& b) {
  pool(b, B::MAX_POOL_2D, {1, 8, 8, 16}, q8(0.4f, 2), tflite::Padding::VALID, 1, 1, 2, 2, {1, 4, 4, 16}, Act::RELU_N1_TO_1);
});
const bool kMaxR = register_op_model("maxpool_3x3_s1_same_bounded_0_inf_int8", [](ModelBuilder& b) {
  pool(b, B::MAX_POOL_2D, {1, 6, 7, 8}, q8(0.04f, 30), tflite::Padding::SAME, 3, 3, 1, 1, {1, 6, 7, 8}, Act::RELU);
});

// ---- QUANTIZE / DEQUANTIZE -----------------------------------------------------------------

void quantize_f32(ModelBuilder& b, const Shape& shape, Quantization q) {
  const int x = b.input(DType::kFloat32, shape);
  const int y = b.tensor(DType::kInt8, shape, q);
  b.op(B::QUANTIZE, {x}, {y});
  b.output(y);
}
void requantize(ModelBuilder& b, const Shape& shape, Quantization qin, Quantization qout) {
  const int x = b.input(DType::kInt8, shape, qin);
  const int y = b.tensor(DType::kInt8, shape, qout);
  b.op(B::QUANTIZE, {x}, {y});
  b.output(y);
}

const bool kQuant = register_op_model("quantize_f32_int8", [](ModelBuilder& b) { quantize_f32(b, {1, 32, 32, 3}, q8(0.0078f, -1)); });
const bool kQuantOdd = register_op_model("quantize_f32_odd_scale_int8", [](ModelBuilder& b) {
  quantize_f32(b, {4, 1000}, q8(0.0037f, 17));
});
const bool kQuantPow2 = register_op_model("quantize_f32_pow2_scale_int8", [](ModelBuilder& b) {
  quantize_f32(b, {4, 1000}, q8(1.0f / 128, 0));
});
// Exact ties: int8 codes dequantized with scale 1/256 are requantized with scale 1/128, so
// every odd code lands on x.5 (XNNPACK rounds those half to even, TFLite away from zero);
// the odd output zero point checks that the zero point is added after rounding.
void quantize_ties(ModelBuilder& b, DType out_type, int32_t out_zero_point) {
  const int x = b.input(DType::kInt8, {4, 1024}, q8(1.0f / 256, 0));
  const int f = b.tensor(DType::kFloat32, {4, 1024});
  const int y = b.tensor(out_type, {4, 1024}, q8(1.0f / 128, out_zero_point));
  b.op(B::DEQUANTIZE, {x}, {f});
  b.op(B::QUANTIZE, {f}, {y});
  b.output(y);
}
const bool kQuantTies = register_op_model("quantize_f32_ties_int8", [](ModelBuilder& b) { quantize_ties(b, DType::kInt8, -3); });
const bool kQuantTiesU = register_op_model("quantize_f32_ties_uint8", [](ModelBuilder& b) { quantize_ties(b, DType::kUInt8, 125); });
const bool kRequant = register_op_model("quantize_requant_down_int8", [](ModelBuilder& b) {
  requantize(b, {4, 1024}, q8(0.05f, -3), q8(0.0213f, 4));
});
const bool kRequantUp = register_op_model("quantize_requant_up_int8", [](ModelBuilder& b) {
  requantize(b, {4, 1024}, q8(0.0213f, 7), q8(0.05f, -9));
});
const bool kRequantZp = register_op_model("quantize_requant_zero_point_int8", [](ModelBuilder& b) {
  requantize(b, {4, 1024}, q8(0.04f, -20), q8(0.04f, 15));
});
const bool kRequantU8 = register_op_model("quantize_requant_uint8", [](ModelBuilder& b) {
  const int x = b.input(DType::kUInt8, {4, 1024}, q8(0.0213f, 130));
  const int y = b.tensor(DType::kUInt8, {4, 1024}, q8(0.05f, 121));
  b.op(B::QUANTIZE, {x}, {y});
  b.output(y);
});
// Ratio 1/308: outside XNNPACK's [2^-8, 2^7], LiteRT runs TFLite's kernel (XNNPACK's 8-bit
// multiplier would round it to 1/256 and move the step from 154 to 128 above the zero point).
const bool kRequantFar = register_op_model("quantize_requant_outside_xnnpack_int8", [](ModelBuilder& b) {
  requantize(b, {4, 1024}, q8(0.0013f, -100), q8(0.4f, -5));
});
const bool kDequant = register_op_model("dequantize_int8_f32", [](ModelBuilder& b) {
  const int x = b.input(DType::kInt8, {4, 1024}, q8(0.0213f, -7));
  const int y = b.tensor(DType::kFloat32, {4, 1024});
  b.op(B::DEQUANTIZE, {x}, {y});
  b.output(y);
});
const bool kDequantU8 = register_op_model("dequantize_uint8_f32", [](ModelBuilder& b) {
  const int x = b.input(DType::kUInt8, {4, 1024}, q8(0.0371f, 131));
  const int y = b.tensor(DType::kFloat32, {4, 1024});
  b.op(B::DEQUANTIZE, {x}, {y});
  b.output(y);
});

}  // namespace
}  // namespace qcal::test
