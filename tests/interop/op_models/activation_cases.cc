// Int8 activations: LOGISTIC, TANH, HARD_SWISH, the RELU family, LEAKY_RELU, PRELU, SOFTMAX.
// Input scales and zero points are varied (realistic calibrations); LOGISTIC and SOFTMAX
// outputs are TFLite's fixed (1/256, -128), TANH's (1/128, 0). Unary inputs hold >= 1024
// elements so the seeded uniform int8 inputs reach every one of the 256 input codes.
#include "op_models.h"

namespace qcal::test {
namespace {

using B = tflite::BuiltinOperator;

// One int8 input -> one int8 output of the same shape through `op`.
template <typename OptionsT = std::nullptr_t>
void unary(ModelBuilder& b, B op, const Shape& shape, Quantization qin, Quantization qout, OptionsT options = nullptr) {
  const int x = b.input(DType::kInt8, shape, qin);
  const int y = b.tensor(DType::kInt8, shape, qout);
  b.op(op, {x}, {y}, options);
  b.output(y);
}

const Quantization kSigmoidOut = q8(1.0f / 256, -128);
const Quantization kTanhOut = q8(1.0f / 128, 0);

// ---- LOGISTIC ----
const bool kLogistic = register_op_model("logistic_int8", [](ModelBuilder& b) {
  unary(b, B::LOGISTIC, {1, 16, 16, 8}, q8(0.05f, -10), kSigmoidOut);
});
const bool kLogisticWide = register_op_model("logistic_wide_int8", [](ModelBuilder& b) {
  unary(b, B::LOGISTIC, {1, 32, 40}, q8(0.1f, 25), kSigmoidOut);
});
const bool kLogisticNarrow = register_op_model("logistic_narrow_int8", [](ModelBuilder& b) {
  unary(b, B::LOGISTIC, {2, 1024}, q8(0.0213f, 3), kSigmoidOut);
});

// ---- TANH ----
const bool kTanh = register_op_model("tanh_int8", [](ModelBuilder& b) {
  unary(b, B::TANH, {1, 16, 16, 8}, q8(0.03f, -7), kTanhOut);
});
const bool kTanhWide = register_op_model("tanh_wide_int8", [](ModelBuilder& b) {
  unary(b, B::TANH, {4, 600}, q8(0.0823f, 12), kTanhOut);
});

// ---- HARD_SWISH ----
// Output ranges as a calibrator would give them: [-0.375, max(x)].
const bool kHardSwish = register_op_model("hard_swish_int8", [](ModelBuilder& b) {
  unary(b, B::HARD_SWISH, {1, 16, 16, 8}, q8(0.05f, -30), q8(0.0325f, -116));
});
const bool kHardSwishWide = register_op_model("hard_swish_wide_int8", [](ModelBuilder& b) {
  unary(b, B::HARD_SWISH, {1, 12, 12, 16}, q8(0.1f, 5), q8(0.0617f, -122));
});
const bool kHardSwishNarrow = register_op_model("hard_swish_narrow_int8", [](ModelBuilder& b) {
  unary(b, B::HARD_SWISH, {2, 40, 30}, q8(0.0213f, 17), q8(0.0111f, -94));
});

// ---- RELU, RELU6, RELU_N1_TO_1 ----
const bool kRelu = register_op_model("relu_int8", [](ModelBuilder& b) {
  unary(b, B::RELU, {1, 16, 16, 8}, q8(0.05f, 10), q8(0.0255f, -128));
});
const bool kReluSame = register_op_model("relu_same_scale_int8", [](ModelBuilder& b) {
  unary(b, B::RELU, {1, 16, 16, 8}, q8(0.04f, -20), q8(0.04f, -20));
});
const bool kRelu6 = register_op_model("relu6_int8", [](ModelBuilder& b) {
  unary(b, B::RELU6, {1, 16, 16, 8}, q8(0.04f, -20), q8(6.0f / 255, -128));
});
const bool kRelu6Same = register_op_model("relu6_same_scale_int8", [](ModelBuilder& b) {
  unary(b, B::RELU6, {1, 16, 16, 8}, q8(0.0471f, -3), q8(0.0471f, -3));
});
// 6 / scale is exactly 200.5 in float: the upper bound rounds half away from zero (TFLite's
// roundf gives 201 - 128 = 73; round-half-even would give 72).
const bool kRelu6Tie = register_op_model("relu6_tie_int8", [](ModelBuilder& b) {
  unary(b, B::RELU6, {1, 32, 64}, q8(0x1.ea4b54p-6f, -128), q8(0x1.ea4b54p-6f, -128));
});
const bool kReluN1 = register_op_model("relu_n1_to_1_int8", [](ModelBuilder& b) {
  unary(b, B::RELU_N1_TO_1, {1, 16, 16, 8}, q8(0.02f, 5), q8(2.0f / 255, 0));
});
const bool kReluN1Same = register_op_model("relu_n1_to_1_same_scale_int8", [](ModelBuilder& b) {
  unary(b, B::RELU_N1_TO_1, {1, 16, 16, 8}, q8(0.0125f, -6), q8(0.0125f, -6));
});

// ---- LEAKY_RELU ----
tflite::LeakyReluOptionsT leaky(float alpha) {
  tflite::LeakyReluOptionsT o;
  o.alpha = alpha;
  return o;
}
const bool kLeaky = register_op_model("leaky_relu_int8", [](ModelBuilder& b) {
  unary(b, B::LEAKY_RELU, {1, 16, 16, 8}, q8(0.05f, 5), q8(0.0291f, -82), leaky(0.2f));
});
const bool kLeakySame = register_op_model("leaky_relu_same_scale_int8", [](ModelBuilder& b) {
  unary(b, B::LEAKY_RELU, {1, 16, 16, 8}, q8(0.06f, -12), q8(0.06f, -12), leaky(0.1f));
});
const bool kLeakySmall = register_op_model("leaky_relu_small_alpha_int8", [](ModelBuilder& b) {
  unary(b, B::LEAKY_RELU, {2, 32, 20}, q8(0.0371f, 9), q8(0.0191f, -125), leaky(0.01f));
});
// in/out scale * alpha < 2^-8: XNNPACK's kernel cannot take it, LiteRT runs TFLite's.
const bool kLeakyTiny = register_op_model("leaky_relu_tiny_alpha_int8", [](ModelBuilder& b) {
  unary(b, B::LEAKY_RELU, {1, 32, 64}, q8(0.05f, 3), q8(0.06f, -30), leaky(0.003f));
});

// ---- PRELU ----
// alpha is a constant int8 tensor with its own (asymmetric) quantization.
void prelu(ModelBuilder& b, const Shape& x_shape, const Shape& alpha_shape, Quantization qx, Quantization qa,
           Quantization qy, uint32_t seed) {
  const int x = b.input(DType::kInt8, x_shape, qx);
  std::mt19937 rng(seed);
  std::vector<int8_t> alpha(num_elements(alpha_shape));
  for (auto& v : alpha) v = static_cast<int8_t>(std::uniform_int_distribution<int>(-128, 127)(rng));
  const int a = b.constant(DType::kInt8, alpha_shape, to_bytes(alpha), qa);
  const int y = b.tensor(DType::kInt8, x_shape, qy);
  b.op(B::PRELU, {x, a}, {y});
  b.output(y);
}
const bool kPrelu = register_op_model("prelu_int8", [](ModelBuilder& b) {
  // alpha per channel, shared over H and W (Keras PReLU(shared_axes=[1, 2])): [0, 0.38].
  prelu(b, {1, 8, 8, 16}, {1, 1, 16}, q8(0.05f, 10), q8(0.0015f, -128), q8(0.031f, -70), 11);
});
const bool kPreluFull = register_op_model("prelu_full_alpha_int8", [](ModelBuilder& b) {
  // alpha over H, W, C (Keras' default), both signs.
  prelu(b, {1, 6, 6, 8}, {6, 6, 8}, q8(0.041f, -17), q8(0.004f, 3), q8(0.035f, -20), 12);
});

// ---- SOFTMAX ----
tflite::SoftmaxOptionsT softmax_beta(float beta) {
  tflite::SoftmaxOptionsT o;
  o.beta = beta;
  return o;
}
const bool kSoftmax = register_op_model("softmax_int8", [](ModelBuilder& b) {
  unary(b, B::SOFTMAX, {2, 1000}, q8(0.1f, 20), kSigmoidOut, softmax_beta(1.0f));
});
const bool kSoftmax4d = register_op_model("softmax_4d_int8", [](ModelBuilder& b) {
  unary(b, B::SOFTMAX, {1, 6, 6, 21}, q8(0.0625f, -12), kSigmoidOut, softmax_beta(1.0f));
});
const bool kSoftmaxSmall = register_op_model("softmax_small_scale_int8", [](ModelBuilder& b) {
  unary(b, B::SOFTMAX, {8, 10}, q8(0.0173f, 4), kSigmoidOut, softmax_beta(1.0f));
});
const bool kSoftmaxBeta = register_op_model("softmax_beta_int8", [](ModelBuilder& b) {
  unary(b, B::SOFTMAX, {4, 64}, q8(0.08f, -3), kSigmoidOut, softmax_beta(0.5f));
});

}  // namespace
}  // namespace qcal::test
