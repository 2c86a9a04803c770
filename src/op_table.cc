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
    add(B::L2_NORMALIZATION, fixed("L2_NORMALIZATION", 1.0f / 128, 0));
    add(B::LOG_SOFTMAX, fixed("LOG_SOFTMAX", 16.0f / 256, 127));
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
    add(B::BATCH_TO_SPACE_ND, same_scale("BATCH_TO_SPACE_ND", {1, 2}));
    add(B::SPACE_TO_BATCH_ND, same_scale("SPACE_TO_BATCH_ND", {1, 2}));
    add(B::PAD, same_scale("PAD", {1}));
    add(B::PADV2, same_scale("PADV2", {1}));
    add(B::MIRROR_PAD, same_scale("MIRROR_PAD", {1}));
    add(B::GATHER, same_scale("GATHER", {1}));
    add(B::TRANSPOSE, same_scale("TRANSPOSE", {1}));
    add(B::SLICE, same_scale("SLICE", {1, 2}));
    add(B::STRIDED_SLICE, same_scale("STRIDED_SLICE", {1, 2, 3}));
    add(B::SPLIT, same_scale("SPLIT", {0}));
    add(B::SPLIT_V, same_scale("SPLIT_V", {1, 2}));
    add(B::PACK, same_scale("PACK"));
    add(B::UNPACK, same_scale("UNPACK"));
    add(B::MAXIMUM, same_scale("MAXIMUM"));
    add(B::MINIMUM, same_scale("MINIMUM"));
    add(B::REDUCE_MAX, same_scale("REDUCE_MAX", {1}));
    add(B::REDUCE_MIN, same_scale("REDUCE_MIN", {1}));
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
    add(B::ABS, plain("ABS"));
    add(B::NEG, plain("NEG"));
    add(B::RSQRT, plain("RSQRT"));
    add(B::ARG_MAX, plain("ARG_MAX", {1}));
    add(B::ARG_MIN, plain("ARG_MIN", {1}));
    add(B::BATCH_MATMUL, plain("BATCH_MATMUL"));
    add(B::QUANTIZE, plain("QUANTIZE"));
    add(B::DEQUANTIZE, plain("DEQUANTIZE"));
    // Float in TFLite's int8 op set: they stay float behind DEQUANTIZE/QUANTIZE.
    add(B::DIV, float_only("DIV", "no int8 kernel in TFLite"));
    add(B::EXP, float_only("EXP", "no int8 kernel in TFLite"));
    add(B::LOG, float_only("LOG", "no int8 kernel in TFLite"));
    add(B::SQRT, float_only("SQRT", "no int8 kernel in TFLite"));
    add(B::CAST, float_only("CAST", "type conversion"));
    add(B::DENSIFY, float_only("DENSIFY", "folded into constants"));
    // Op versions of the int8 forms (TFLite's op_version.cc): 2 unless listed here.
    for (auto [op, v] : {std::pair{B::CONV_2D, 3}, {B::DEPTHWISE_CONV_2D, 3}, {B::FULLY_CONNECTED, 4},
                         {B::TRANSPOSE_CONV, 2}, {B::RESHAPE, 1}, {B::SQUEEZE, 1}, {B::EXPAND_DIMS, 1},
                         {B::HARD_SWISH, 1}, {B::QUANTIZE, 1}})
      m.at(static_cast<int32_t>(op)).int8_version = v;
    // LiteRT refuses an int8 conv without its bias ("optional but was expected").
    m.at(static_cast<int32_t>(B::CONV_2D)).int8_needs_bias = true;
    m.at(static_cast<int32_t>(B::DEPTHWISE_CONV_2D)).int8_needs_bias = true;
    for (B op : {B::ADD, B::SUB, B::MUL, B::CONV_2D, B::DEPTHWISE_CONV_2D, B::FULLY_CONNECTED, B::AVERAGE_POOL_2D,
                 B::MAX_POOL_2D})
      m.at(static_cast<int32_t>(op)).int8_fused_activation = true;
    return m;
  }();
  return t;
}

}  // namespace

const OpQuantInfo& op_quant_info(const OpCode& code) {
  static const OpQuantInfo kCustom = float_only("CUSTOM", "custom op: runs in float behind DEQUANTIZE/QUANTIZE");
  static const OpQuantInfo kUnknown = float_only("", "no int8 kernel known to qcal");
  if (code.is_custom()) return kCustom;
  auto it = table().find(code.builtin);
  return it == table().end() ? kUnknown : it->second;
}

}  // namespace qcal
