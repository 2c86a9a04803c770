// The checks a quantized model must pass before qcal writes it: what TFLite's kernels
// demand at Prepare (and what its quantization spec promises), stated once, from the op
// table, so the rewriter cannot produce a model the runtime would reject or run wrongly.
#include <cmath>

#include "qcal/error.h"
#include "qcal/model_io.h"
#include "qcal/op_table.h"
#include "qcal/quantize.h"

namespace qcal {
namespace {

using B = tflite::BuiltinOperator;

bool quantized_int(const Tensor& t) {
  return (t.dtype == DType::kInt8 || t.dtype == DType::kUInt8 || t.dtype == DType::kInt16) && t.quantization &&
         t.quantization->has_scale();
}

class Verifier {
 public:
  Verifier(const Model& m, const Subgraph& sg) : m_(m), sg_(sg) {}

  void run() {
    try {
      check_execution_order(m_, sg_);
    } catch (const Error& e) {
      fail(e.what());
    }
    for (size_t oi = 0; oi < sg_.operators.size(); ++oi) {
      const Operator& op = sg_.operators[oi];
      where_ = "operator " + std::to_string(oi) + " (" + op.code.name() + ")";
      check_op(op);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("refusing to write an invalid quantized model: " + (where_.empty() ? "" : where_ + " ") + what);
  }
  const Tensor& t(int i) const { return sg_.tensors[i]; }

  void check_scales(const Tensor& x, const char* role) const {
    for (float s : x.quantization->scale)
      if (!(s > 0) || !std::isfinite(s)) fail(std::string(role) + " '" + x.name + "' has scale " + std::to_string(s));
  }

  void check_activation(const Tensor& x, const char* role) const {
    if (x.dtype != DType::kInt8 || !quantized_int(x) || x.quantization->per_axis())
      fail(std::string(role) + " '" + x.name + "' must be int8 quantized per tensor, is " + dtype_name(x.dtype));
    check_scales(x, role);
    const int64_t zp = x.quantization->zero_point.empty() ? 0 : x.quantization->zero_point[0];
    if (zp < -128 || zp > 127) fail(std::string(role) + " '" + x.name + "' has zero point " + std::to_string(zp));
  }

  void check_weights(const Tensor& w, const OpQuantInfo& info) const {
    if (w.dtype != DType::kInt8 || !quantized_int(w) || !m_.data_of(w))
      fail("weights '" + w.name + "' must be constant int8 with quantization parameters");
    check_scales(w, "weights");
    const Quantization& q = *w.quantization;
    for (int64_t zp : q.zero_point)
      if (zp != 0) fail("weights '" + w.name + "' must be symmetric (zero point 0)");
    if (q.per_axis() && (q.quantized_dimension != info.weights_axis || w.shape[q.quantized_dimension] != static_cast<int32_t>(q.scale.size())))
      fail("weights '" + w.name + "' are quantized on axis " + std::to_string(q.quantized_dimension) + " with " +
           std::to_string(q.scale.size()) + " scales; the kernel expects axis " + std::to_string(info.weights_axis));
    for (uint8_t b : m_.data_of(w)->data)
      if (static_cast<int8_t>(b) == -128) fail("weights '" + w.name + "' hold -128 (the int8 spec allows [-127, 127])");
  }

  void check_bias(const Tensor& b, const Tensor& w, const Tensor& in) const {
    if (b.dtype != DType::kInt32 || !b.quantization || !m_.data_of(b)) fail("bias '" + b.name + "' must be constant int32");
    const auto& bs = b.quantization->scale;
    const auto& ws = w.quantization->scale;
    if (bs.size() != ws.size()) fail("bias '" + b.name + "' needs one scale per weight channel");
    for (size_t c = 0; c < bs.size(); ++c) {
      const double want = static_cast<double>(in.quantization->scale[0]) * ws[c];
      if (std::abs(bs[c] - want) > 1e-6 * want)
        fail("bias '" + b.name + "' scale " + std::to_string(bs[c]) + " is not input x weight scale (" + std::to_string(want) + ")");
    }
  }

  // LiteRT's CPU path (XNNPACK) refuses to create the whole runtime when a convolution's or
  // fully connected layer's requantization scale, input x weight / output scale computed in
  // float, reaches 256 for any channel. (Its 2^-32 lower bound is a debug assertion only:
  // hand_landmark_lite has an FC channel of near-zero weights below it, and LiteRT runs it.)
  void check_requantization(const Tensor& in, const Tensor& w, const Tensor& out) const {
    if (!quantized_int(in) || !quantized_int(out)) return;
    for (size_t c = 0; c < w.quantization->scale.size(); ++c) {
      const float r = in.quantization->scale[0] * w.quantization->scale[c] / out.quantization->scale[0];
      if (!(r < 256.0f))
        fail("channel " + std::to_string(c) + " has requantization scale " + std::to_string(r) +
             " (input x weight / output scale); LiteRT's XNNPACK refuses 256 or more");
    }
  }

  // LiteRT looks kernels up by (op, version): write only the version the op set proves.
  void check_version(const Operator& op) const {
    const int want = quantized_op_version(op, sg_);
    if (op.code.version != want)
      fail("is written as version " + std::to_string(op.code.version) + "; qcal's int8 op set has it as version " +
           std::to_string(want));
  }

  void check_op(const Operator& op) {
    const B code = op.builtin();
    if (code == B::QUANTIZE) {
      if (op.outputs.empty() || !quantized_int(t(op.outputs[0]))) fail("must write a quantized integer tensor");
      check_version(op);
      return;
    }
    if (code == B::DEQUANTIZE) {
      if (op.outputs.empty() || t(op.outputs[0]).dtype != DType::kFloat32) fail("must write float32");
      if (!op.inputs.empty() && op.inputs[0] >= 0 && quantized_int(t(op.inputs[0]))) check_version(op);
      return;
    }
    const bool int8_op = !op.outputs.empty() && op.outputs[0] >= 0 && quantized_int(t(op.outputs[0]));
    const OpQuantInfo& info = op_quant_info(op.code);
    if (!int8_op) {
      // A float op (or an integer op on shapes/indices) never reads quantized activations.
      for (int32_t i : op.inputs)
        if (i >= 0 && !m_.data_of(t(i)) && quantized_int(t(i)) && code != B::CUSTOM)
          fail("is float but reads quantized tensor '" + t(i).name + "'");
      return;
    }
    if (!info.int8) fail("is not in qcal's int8 op set (no int8 kernel proven bit-exact against LiteRT)");
    check_version(op);
    std::vector<const Tensor*> shared;
    for (size_t s = 0; s < op.inputs.size(); ++s) {
      const int32_t i = op.inputs[s];
      const int slot = static_cast<int>(s);
      if (i < 0 || std::find(info.float_inputs.begin(), info.float_inputs.end(), slot) != info.float_inputs.end()) continue;
      if (slot == info.weights) {
        check_weights(t(i), info);
        check_requantization(t(op.inputs[info.activation_input]), t(i), t(op.outputs[0]));
      }
      else if (slot == info.bias) check_bias(t(i), t(op.inputs[info.weights]), t(op.inputs[info.activation_input]));
      else if (t(i).dtype != DType::kInt32 && t(i).dtype != DType::kInt64) {
        check_activation(t(i), "input");
        shared.push_back(&t(i));
      }
    }
    for (int32_t o : op.outputs) {
      if (o < 0 || t(o).dtype == DType::kInt32 || t(o).dtype == DType::kInt64) continue;
      check_activation(t(o), "output");
      shared.push_back(&t(o));
      if (info.fixed_output) {
        const auto& q = *t(o).quantization;
        const float want = info.fixed_output->scale;
        if (std::abs(q.scale[0] - want) > 0.001f * want || q.zero_point[0] != info.fixed_output->zero_point)
          fail("output '" + t(o).name + "' must have scale " + std::to_string(want) + " and zero point " +
               std::to_string(info.fixed_output->zero_point));
      }
    }
    if (info.same_scale)
      for (const Tensor* x : shared)
        if (x->quantization->scale[0] != shared[0]->quantization->scale[0] ||
            x->quantization->zero_point[0] != shared[0]->quantization->zero_point[0])
          fail("'" + x->name + "' and '" + shared[0]->name + "' must share scale and zero point");
  }

  const Model& m_;
  const Subgraph& sg_;
  std::string where_;
};

}  // namespace

void verify_quantized_model(const Model& model) {
  for (const Subgraph& sg : model.subgraphs) Verifier(model, sg).run();
}

}  // namespace qcal
