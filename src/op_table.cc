#include "qcal/op_table.h"

#include <map>

namespace qcal {
namespace {

using B = tflite::BuiltinOperator;

OpQuantInfo weighted(const char* name, int weights, int axis, int bias, int activation = 0, std::vector<int> floats = {}) {
  OpQuantInfo i;
  i.name = name;
  i.int8 = true;
  i.weights = weights;
  i.weights_axis = axis;
  i.bias = bias;
  i.activation_input = activation;
  i.float_inputs = std::move(floats);
  return i;
}
OpQuantInfo fixed(const char* name, float scale, int32_t zp) {
  OpQuantInfo i;
  i.name = name;
  i.int8 = true;
  i.fixed_output = FixedQuantization{scale, zp};
  return i;
}
OpQuantInfo same_scale(const char* name, std::vector<int> floats = {}) {
  OpQuantInfo i;
  i.name = name;
  i.int8 = true;
  i.same_scale = true;
  i.float_inputs = std::move(floats);
  return i;
}
OpQuantInfo plain(const char* name, std::vector<int> floats = {}) {
  OpQuantInfo i;
  i.name = name;
  i.int8 = true;
  i.float_inputs = std::move(floats);
  return i;
}
OpQuantInfo float_only(const char* name, const char* note) {
  OpQuantInfo i;
  i.name = name;
  i.note = note;
  return i;
}

const std::map<int32_t, OpQuantInfo>& table() {
  static const std::map<int32_t, OpQuantInfo> t = [] {
    std::map<int32_t, OpQuantInfo> m;
    auto add = [&](B op, OpQuantInfo info) { m.emplace(static_cast<int32_t>(op), std::move(info)); };
    // Weights: symmetric int8 per channel on the output-channel axis; bias int32.
    add(B::CONV_2D, weighted("CONV_2D", 1, 0, 2));
    add(B::DEPTHWISE_CONV_2D, weighted("DEPTHWISE_CONV_2D", 1, 3, 2));
    add(B::FULLY_CONNECTED, weighted("FULLY_CONNECTED", 1, 0, 2));
    add(B::TRANSPOSE_CONV, weighted("TRANSPOSE_CONV", 1, 0, 3, /*activation=*/2, /*output_shape*/ {0}));
    // Outputs whose range the int8 kernels fix.
    add(B::SOFTMAX, fixed("SOFTMAX", 1.0f / 256, -128));
    add(B::LOGISTIC, fixed("LOGISTIC", 1.0f / 256, -128));
    add(B::TANH, fixed("TANH", 1.0f / 128, 0));
    // Ops that move or select values: one scale in and out.
    add(B::AVERAGE_POOL_2D, same_scale("AVERAGE_POOL_2D"));
    add(B::MAX_POOL_2D, same_scale("MAX_POOL_2D"));
    add(B::CONCATENATION, same_scale("CONCATENATION"));
    add(B::RESHAPE, same_scale("RESHAPE", {1}));
    add(B::SQUEEZE, same_scale("SQUEEZE"));
    add(B::EXPAND_DIMS, same_scale("EXPAND_DIMS", {1}));
    add(B::RESIZE_BILINEAR, same_scale("RESIZE_BILINEAR", {1}));
    add(B::RESIZE_NEAREST_NEIGHBOR, same_scale("RESIZE_NEAREST_NEIGHBOR", {1}));
    add(B::SPACE_TO_DEPTH, same_scale("SPACE_TO_DEPTH"));
    add(B::DEPTH_TO_SPACE, same_scale("DEPTH_TO_SPACE"));
    add(B::PAD, same_scale("PAD", {1}));
    add(B::PADV2, same_scale("PADV2", {1}));
    add(B::GATHER, same_scale("GATHER", {1}));
    add(B::TRANSPOSE, same_scale("TRANSPOSE", {1}));
    add(B::SLICE, same_scale("SLICE", {1, 2}));
    add(B::STRIDED_SLICE, same_scale("STRIDED_SLICE", {1, 2, 3}));
    add(B::SPLIT, same_scale("SPLIT", {0}));
    add(B::SPLIT_V, same_scale("SPLIT_V", {1, 2}));
    add(B::PACK, same_scale("PACK"));
    add(B::UNPACK, same_scale("UNPACK"));
    OpQuantInfo maximum = same_scale("MAXIMUM"), minimum = same_scale("MINIMUM");
    maximum.clamps_to_constant = minimum.clamps_to_constant = true;
    add(B::MAXIMUM, maximum);
    add(B::MINIMUM, minimum);
    // Int8 kernels with their own output scale.
    add(B::ADD, plain("ADD"));
    add(B::SUB, plain("SUB"));
    add(B::MUL, plain("MUL"));
    add(B::SQUARED_DIFFERENCE, plain("SQUARED_DIFFERENCE"));
    add(B::MEAN, plain("MEAN", {1}));
    add(B::SUM, plain("SUM", {1}));
    add(B::RELU, plain("RELU"));
    add(B::RELU6, plain("RELU6"));
    add(B::RELU_N1_TO_1, plain("RELU_N1_TO_1"));
    add(B::LEAKY_RELU, plain("LEAKY_RELU"));
    add(B::PRELU, plain("PRELU"));
    add(B::HARD_SWISH, plain("HARD_SWISH"));
    add(B::QUANTIZE, plain("QUANTIZE"));
    add(B::DEQUANTIZE, plain("DEQUANTIZE"));
    // Float in TFLite's int8 op set: they stay float behind DEQUANTIZE/QUANTIZE.
    add(B::DIV, float_only("DIV", "no int8 kernel in TFLite"));
    add(B::EXP, float_only("EXP", "no int8 kernel in TFLite"));
    add(B::LOG, float_only("LOG", "no int8 kernel in TFLite"));
    add(B::SQRT, float_only("SQRT", "no int8 kernel in TFLite"));
    add(B::CAST, float_only("CAST", "type conversion"));
    add(B::DENSIFY, float_only("DENSIFY", "folded into constants"));
    // TFLite has int8 kernels for these, but qcal has no bit-exact integer kernel proven
    // against LiteRT by a single-op model (tests/interop/op_models), so they stay float.
    for (B op : {B::ABS, B::NEG, B::RSQRT, B::BATCH_MATMUL, B::LOG_SOFTMAX, B::L2_NORMALIZATION, B::REDUCE_MAX,
                 B::REDUCE_MIN, B::MIRROR_PAD, B::BATCH_TO_SPACE_ND, B::SPACE_TO_BATCH_ND, B::ARG_MAX, B::ARG_MIN})
      add(op, float_only(tflite::EnumNameBuiltinOperator(op), "no int8 kernel in qcal proven against LiteRT"));
    // Op versions of the int8 forms (TFLite's op_version.cc): 2 unless listed here. The
    // single-op LiteRT models are written with exactly these versions (quantized_op_version),
    // so a version LiteRT's op resolver lacks fails there, not in a user's deployment.
    for (auto [op, v] : {std::pair{B::CONV_2D, 3}, {B::DEPTHWISE_CONV_2D, 3}, {B::FULLY_CONNECTED, 4},
                         {B::TRANSPOSE_CONV, 2}, {B::RESHAPE, 1}, {B::SQUEEZE, 1}, {B::EXPAND_DIMS, 1},
                         {B::HARD_SWISH, 1}, {B::QUANTIZE, 1}, {B::PRELU, 1}, {B::RELU_N1_TO_1, 1}})
      m.at(static_cast<int32_t>(op)).int8_version = v;
    // LiteRT refuses an int8 conv without its bias ("optional but was expected").
    m.at(static_cast<int32_t>(B::CONV_2D)).int8_needs_bias = true;
    m.at(static_cast<int32_t>(B::DEPTHWISE_CONV_2D)).int8_needs_bias = true;
    // CONV_2D [O, kh, kw, I], DEPTHWISE_CONV_2D [1, kh, kw, C x M], FULLY_CONNECTED [O, I].
    m.at(static_cast<int32_t>(B::CONV_2D)).weights_input_axis = 3;
    m.at(static_cast<int32_t>(B::DEPTHWISE_CONV_2D)).weights_input_axis = 3;
    m.at(static_cast<int32_t>(B::FULLY_CONNECTED)).weights_input_axis = 1;
    // selfie_segmentation --io int8 in LiteRT.js: 1.84x float's time with its 11 int8
    // HARD_SWISH, 0.82x with them float (bench/int8_vs_float_litert.sh, docs/performance.md).
    m.at(static_cast<int32_t>(B::HARD_SWISH)).float_in_litert =
        "LiteRT's XNNPACK delegate takes float HARD_SWISH but not int8: float keeps the model in one fast partition "
        "(--all-int8 quantizes it)";
    // palm_detection_lite --io int8 in LiteRT.js: 1.5x float's time with its 26 int8 PRELU
    // (27 delegated runs), 0.70x with them float; face_landmark 2.8x -> 0.77x, hand_recrop
    // 3.6x -> 1.04x (docs/performance.md). Written instead as int8 MUL(x, a - 1, fused RELU) +
    // ADD (slopes a <= 1), both delegated, it measured slower than the float PRELU.
    m.at(static_cast<int32_t>(B::PRELU)).float_in_litert =
        "LiteRT's XNNPACK delegate takes float PRELU but not int8: float keeps the model in one fast partition "
        "(--all-int8 quantizes it)";
    for (B op : {B::ADD, B::SUB, B::MUL, B::CONV_2D, B::DEPTHWISE_CONV_2D, B::FULLY_CONNECTED, B::AVERAGE_POOL_2D,
                 B::MAX_POOL_2D})
      m.at(static_cast<int32_t>(op)).int8_fused_activation = true;
    // LiteRT's XNNPACK delegate (xnnpack_delegate.cc, VisitNode; agrees with the numerics the
    // int8 kernels match bit for bit in tests/interop/op_models): ops it takes with float32 or
    // per-tensor int8 activations, and those it takes in float32 only. In neither list:
    // SQUEEZE, EXPAND_DIMS (its visitor refuses every type), GATHER, PACK, UNPACK, SPLIT_V,
    // PADV2, CAST, ...: they run on TFLite's builtin kernels.
    const B float_or_int8[] = {B::ADD, B::SUB, B::MUL, B::CONV_2D, B::DEPTHWISE_CONV_2D, B::FULLY_CONNECTED,
                               B::TRANSPOSE_CONV, B::MAX_POOL_2D, B::CONCATENATION, B::RESHAPE, B::PAD, B::MEAN,
                               B::SUM, B::REDUCE_MAX, B::REDUCE_MIN, B::RESIZE_BILINEAR, B::SLICE, B::STRIDED_SLICE,
                               B::SPLIT, B::TRANSPOSE, B::DEPTH_TO_SPACE, B::SPACE_TO_DEPTH, B::LOGISTIC, B::TANH,
                               B::LEAKY_RELU, B::ELU, B::BATCH_MATMUL, B::QUANTIZE, B::DEQUANTIZE};
    const B float32_only[] = {B::ABS, B::CEIL, B::COS, B::EXP, B::FLOOR, B::GELU, B::HARD_SWISH, B::NEG, B::RELU,
                              B::RELU6, B::RELU_N1_TO_1, B::ROUND, B::RSQRT, B::SIN, B::SQRT, B::SQUARE, B::DIV,
                              B::MAXIMUM, B::MINIMUM, B::PRELU, B::SQUARED_DIFFERENCE, B::AVERAGE_POOL_2D, B::SOFTMAX};
    auto entry = [&](B op) -> OpQuantInfo& {
      return m.try_emplace(static_cast<int32_t>(op), float_only(tflite::EnumNameBuiltinOperator(op), "no int8 kernel known to qcal"))
          .first->second;
    };
    for (B op : float_or_int8) entry(op).xnnpack_float = entry(op).xnnpack_int8 = true;
    for (B op : float32_only) entry(op).xnnpack_float = true;
    return m;
  }();
  return t;
}

}  // namespace

std::vector<std::pair<int32_t, const OpQuantInfo*>> op_quant_table() {
  std::vector<std::pair<int32_t, const OpQuantInfo*>> all;
  for (const auto& [code, info] : table()) all.emplace_back(code, &info);
  return all;
}

int quantized_op_version(const Operator& op, const Subgraph& sg) {
  const DType in = op.inputs.empty() || op.inputs[0] < 0 ? DType::kFloat32 : sg.tensors[op.inputs[0]].dtype;
  // QUANTIZE from float is version 1, a requantization between integer types 2;
  // DEQUANTIZE of uint8 is version 1, of int8 2 (TFLite's op_version.cc).
  if (op.builtin() == B::QUANTIZE) return in == DType::kFloat32 ? 1 : 2;
  if (op.builtin() == B::DEQUANTIZE) return in == DType::kUInt8 ? 1 : 2;
  return op_quant_info(op.code).int8_version;
}

const OpQuantInfo& op_quant_info(const OpCode& code) {
  static const OpQuantInfo kCustom = float_only("CUSTOM", "custom op: runs in float behind DEQUANTIZE/QUANTIZE");
  static const OpQuantInfo kUnknown = float_only("", "no int8 kernel known to qcal");
  if (code.is_custom()) return kCustom;
  auto it = table().find(code.builtin);
  return it == table().end() ? kUnknown : it->second;
}

}  // namespace qcal
