#include "qcal/litert_placement.h"

#include <cmath>
#include <cstring>
#include <string>

#include "qcal/op_table.h"

namespace qcal {
namespace {

using A = tflite::ActivationFunctionType;
using B = tflite::BuiltinOperator;

std::string format_ratio(const char* what, double r) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s %.3g", what, r);
  return buf;
}

class PlacementRules {
 public:
  PlacementRules(const Model& m, const Subgraph& sg) : m_(m), sg_(sg), unpacked_(sg.tensors.size(), false) {
    // The delegate unpacks DENSIFY and DEQUANTIZE of constants (sparse, fp16 or int8 weights)
    // ahead of time: their outputs count as constant for the ops that read them.
    for (const Operator& op : sg.operators)
      if (unpacks_constant(op)) unpacked_[op.outputs[0]] = true;
  }

  bool unpacks_constant(const Operator& op) const {
    return (op.builtin() == B::DEQUANTIZE || op.builtin() == B::DENSIFY) && !op.inputs.empty() && op.inputs[0] >= 0 &&
           !op.outputs.empty() && op.outputs[0] >= 0 && static_weights(op.inputs[0]);
  }

  // Empty when the delegate takes `op`; else why not.
  std::string refusal(const Operator& op) const {
    if (op.code.is_custom()) {
      const std::string& c = op.code.custom;
      const bool known = c == "Convolution2DTransposeBias" || c == "MaxPoolingWithArgmax2D" || c == "MaxUnpooling2D";
      if (!known) return "custom op " + c;
      return all_float32(op) ? "" : "custom op " + c + " with integer tensors (float32 only)";
    }
    const OpQuantInfo& info = op_quant_info(op.code);
    const B code = op.builtin();
    if (unpacks_constant(op)) return "";
    if (!info.xnnpack_float) return "not an op of the delegate";
    const DType dtype = activation_type(op);
    if (dtype != DType::kFloat32 && dtype != DType::kInt8 && dtype != DType::kUInt8)
      return std::string(dtype_name(dtype)) + " tensors";
    if (dtype != DType::kFloat32) {
      if (!info.xnnpack_int8) return std::string("float32 only (") + dtype_name(dtype) + " here)";
      if (std::string why = per_tensor_activations(op, info); !why.empty()) return why;
    }
    if (const A* act = op.fused_activation();
        act && *act != A::NONE && *act != A::RELU && *act != A::RELU6 && *act != A::RELU_N1_TO_1)
      return std::string("fused ") + tflite::EnumNameActivationFunctionType(*act);
    if (info.weights >= 0 && (!input(op, info.weights) || !static_weights(op.inputs[info.weights])))
      return "weights are not constant";
    if (info.bias >= 0 && (code == B::CONV_2D || code == B::DEPTHWISE_CONV_2D) &&
        (!input(op, info.bias) || !static_weights(op.inputs[info.bias])))
      return "no constant bias";
    return op_condition(op, code, dtype != DType::kFloat32);
  }

 private:
  const Model& m_;
  const Subgraph& sg_;
  std::vector<bool> unpacked_;

  const Tensor& t(int i) const { return sg_.tensors[i]; }
  bool input(const Operator& op, int k) const { return k < static_cast<int>(op.inputs.size()) && op.inputs[k] >= 0; }
  bool constant(int i) const { return m_.data_of(t(i)) != nullptr; }
  bool static_weights(int i) const { return constant(i) || unpacked_[i]; }
  float scale(int i) const {
    const auto& q = t(i).quantization;
    return q && !q->scale.empty() ? q->scale[0] : 0.0f;
  }
  int64_t zero_point(int i) const {
    const auto& q = t(i).quantization;
    return q && !q->zero_point.empty() ? q->zero_point[0] : 0;
  }

  bool all_float32(const Operator& op) const {
    for (int32_t i : op.inputs)
      if (i >= 0 && !constant(i) && t(i).dtype != DType::kFloat32) return false;
    for (int32_t i : op.outputs)
      if (i >= 0 && t(i).dtype != DType::kFloat32) return false;
    return true;
  }

  // The type of the op's activations: its first output's, or for DEQUANTIZE its input's.
  DType activation_type(const Operator& op) const {
    if (op.builtin() == B::DEQUANTIZE && !op.inputs.empty() && op.inputs[0] >= 0) return t(op.inputs[0]).dtype;
    if (!op.outputs.empty() && op.outputs[0] >= 0) return t(op.outputs[0]).dtype;
    return DType::kFloat32;
  }

  // Integer activations must have one scale and zero point (weights may be per channel).
  std::string per_tensor_activations(const Operator& op, const OpQuantInfo& info) const {
    auto check = [&](int i) -> std::string {
      if (i < 0 || constant(i) || t(i).dtype == DType::kFloat32 || t(i).dtype == DType::kInt32) return "";
      const auto& q = t(i).quantization;
      if (!q || q->scale.size() != 1) return "tensor '" + t(i).name + "' is not quantized per tensor";
      return "";
    };
    for (size_t k = 0; k < op.inputs.size(); ++k)
      if (static_cast<int>(k) != info.weights && static_cast<int>(k) != info.bias)
        if (std::string why = check(op.inputs[k]); !why.empty()) return why;
    for (int32_t o : op.outputs)
      if (std::string why = check(o); !why.empty()) return why;
    return "";
  }

  std::vector<int32_t> int32_values(int i) const {
    const Buffer* b = m_.data_of(t(i));
    std::vector<int32_t> v;
    if (!b || t(i).dtype != DType::kInt32) return v;
    v.resize(b->data.size() / 4);
    std::memcpy(v.data(), b->data.data(), v.size() * 4);
    return v;
  }

  std::string op_condition(const Operator& op, B code, bool integer) const {
    switch (code) {
      case B::ADD:
      case B::SUB:
        if (integer)
          for (int k = 0; k < 2; ++k) {
            if (!input(op, k)) continue;
            const double r = static_cast<double>(scale(op.inputs[k])) / scale(op.outputs[0]);
            if (!(r >= 1.0 / 1024 && r < 256)) return format_ratio("input/output scale ratio", r) + " outside [2^-10, 2^8)";
          }
        return "";
      case B::MUL:
        if (integer && input(op, 1)) {
          const double r = static_cast<double>(scale(op.inputs[0])) * scale(op.inputs[1]) / scale(op.outputs[0]);
          if (!(r >= 1.0 / 65536 && r < 256)) return format_ratio("input product/output scale ratio", r) + " outside [2^-16, 2^8)";
        }
        return "";
      case B::QUANTIZE: {
        const DType in = t(op.inputs[0]).dtype, out = t(op.outputs[0]).dtype;
        if (in == DType::kFloat32) return "";
        if (in != out) return std::string(dtype_name(in)) + " to " + dtype_name(out);
        const double r = static_cast<double>(scale(op.inputs[0])) / scale(op.outputs[0]);
        if (!(r >= 1.0 / 256 && r <= 128)) return format_ratio("requantization scale ratio", r) + " outside [2^-8, 2^7]";
        return "";
      }
      case B::LEAKY_RELU: {
        if (!integer) return "";
        const auto* o = op.options.AsLeakyReluOptions();
        const double alpha = o ? o->alpha : 0.0;
        const double pos = static_cast<double>(scale(op.inputs[0])) / scale(op.outputs[0]), neg = pos * alpha;
        if (!(pos >= 1.0 / 256 && pos <= 128) || !(neg >= -127.99609375 && neg <= 128) || std::fabs(neg) < 1.0 / 256)
          return "scale ratios outside XNNPACK's leaky-relu range";
        return "";
      }
      case B::MEAN:
      case B::SUM:
      case B::REDUCE_MAX:
      case B::REDUCE_MIN:
        return input(op, 1) && constant(op.inputs[1]) ? "" : "axes are not constant";
      case B::RESHAPE:
        if (integer && (scale(op.inputs[0]) != scale(op.outputs[0]) || zero_point(op.inputs[0]) != zero_point(op.outputs[0])))
          return "input and output quantization differ";
        return "";
      case B::STRIDED_SLICE: {
        const auto* o = op.options.AsStridedSliceOptions();
        if (o && (o->ellipsis_mask || o->new_axis_mask || o->shrink_axis_mask)) return "ellipsis/new-axis/shrink mask";
        for (int k = 1; k <= 3; ++k)
          if (!input(op, k) || !constant(op.inputs[k])) return "begin/end/strides are not constant";
        for (int32_t s : int32_values(op.inputs[3]))
          if (s != 1) return "a stride other than 1";
        return "";
      }
      case B::SPLIT:
        return op.outputs.size() >= 2 && op.outputs.size() <= 4 ? "" : "not 2 to 4 outputs";
      case B::CONCATENATION:
        return op.inputs.size() >= 2 && op.inputs.size() <= 5 ? "" : "not 2 to 5 inputs";
      case B::AVERAGE_POOL_2D:
      case B::MAX_POOL_2D: {
        const auto* o = op.options.AsPool2DOptions();
        if (!o) return "";
        if (o->stride_w > o->filter_width || o->stride_h > o->filter_height) return "stride larger than the filter";
        if (o->filter_width == 1 && o->filter_height == 1 && (o->stride_w > 1 || o->stride_h > 1))
          return "a 1x1 filter with stride above 1";
        return "";
      }
      case B::SOFTMAX: {
        const auto* o = op.options.AsSoftmaxOptions();
        return o && o->beta != 1.0f ? "beta other than 1" : "";
      }
      case B::DEPTH_TO_SPACE: {
        const auto* o = op.options.AsDepthToSpaceOptions();
        return o && o->block_size > 1 ? "" : "block size 1";
      }
      case B::SPACE_TO_DEPTH: {
        const auto* o = op.options.AsSpaceToDepthOptions();
        return o && o->block_size > 1 ? "" : "block size 1";
      }
      case B::PAD:
      case B::TRANSPOSE:
      case B::RESIZE_BILINEAR:
      case B::SLICE:
        return input(op, 1) && constant(op.inputs[1]) ? "" : "its shape input is not constant";
      default:
        return "";
    }
  }
};

}  // namespace

LitertPlacement litert_placement(const Model& model) {
  LitertPlacement p;
  if (model.subgraphs.empty()) return p;
  const Subgraph& sg = model.subgraphs[0];
  const PlacementRules rules(model, sg);
  bool in_run = false;
  for (size_t i = 0; i < sg.operators.size(); ++i) {
    OpPlacement o;
    o.op = static_cast<int>(i);
    o.reason = rules.refusal(sg.operators[i]);
    o.xnnpack = o.reason.empty();
    p.delegated += o.xnnpack;
    p.runs += o.xnnpack && !in_run;
    in_run = o.xnnpack;
    p.ops.push_back(std::move(o));
  }
  return p;
}

}  // namespace qcal
