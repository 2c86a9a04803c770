// TFLite's legacy uint8 scheme (what TOCO wrote for quantization-aware-trained models) maps
// onto the int8 one exactly: real = s * (q - z) = s * ((q - 128) - (z - 128)). So every
// uint8 tensor becomes int8 with its codes and zero point shifted by -128, and qcal's int8
// kernels compute the same integers. Two things differ from int8 models:
//  * weights carry a zero point (one per tensor); the int8 conv kernels accept that;
//  * ops whose uint8 rounding is not shift-invariant keep it: Operator::legacy_uint8 tells
//    the kernel (AVERAGE_POOL_2D rounds half up in uint8, half away from zero in int8).
// Subgraph inputs and outputs stay uint8 behind QUANTIZE ops with the same scale, which
// convert exactly, so callers see the model's own I/O.
#include <algorithm>
#include <set>
#include <string>

#include "qcal/error.h"
#include "qcal/passes.h"
#include "../rewrite/rewrite_util.h"

namespace qcal {
namespace {

bool is_uint8_quantized(const Tensor& t) { return t.dtype == DType::kUInt8 && t.quantization && t.quantization->has_scale(); }
bool is_int8_quantized(const Tensor& t) { return t.dtype == DType::kInt8 && t.quantization && t.quantization->has_scale(); }

// Conversions handle uint8 themselves (a uint8 I/O model qcal writes is int8 inside them).
bool converts(const Operator& op) {
  using B = tflite::BuiltinOperator;
  return op.builtin() == B::QUANTIZE || op.builtin() == B::DEQUANTIZE || op.builtin() == B::CAST;
}

template <typename F>
bool any_tensor(const Subgraph& sg, const Operator& op, F&& f) {
  for (const auto* list : {&op.inputs, &op.outputs})
    for (int32_t i : *list)
      if (i >= 0 && f(sg.tensors[i])) return true;
  return false;
}

// An op of the uint8 scheme: it computes on uint8 quantized tensors.
bool computes_on_uint8(const Subgraph& sg, const Operator& op) { return !converts(op) && any_tensor(sg, op, is_uint8_quantized); }

Operator quantize_op(int32_t in, int32_t out) { return rewrite::conversion_op(tflite::BuiltinOperator::QUANTIZE, in, out, 2); }

// shifted_buffers / other_buffers collect, over all subgraphs, the constant buffers of uint8
// tensors (shifted here) and of every other tensor.
void lower_subgraph(Model& model, Subgraph& sg, std::set<uint32_t>& shifted_buffers, std::set<uint32_t>& other_buffers,
                    LowerReport& report) {
  const size_t original = sg.tensors.size();
  std::vector<bool> uint8(original, false);
  for (size_t i = 0; i < original; ++i) uint8[i] = is_uint8_quantized(sg.tensors[i]);

  // The I/O tensors keep their index, name and uint8 type; the graph works on int8 twins.
  std::vector<int32_t> twin(original, kNoTensor);
  auto make_twin = [&](int32_t i) {
    Tensor t = sg.tensors[i];
    t.name += "/int8";
    sg.tensors.push_back(t);
    twin[i] = static_cast<int32_t>(sg.tensors.size() - 1);
    uint8.push_back(true);
    return twin[i];
  };
  std::vector<Operator> before, after;
  for (int32_t i : sg.inputs)
    if (i >= 0 && uint8[i] && twin[i] == kNoTensor) before.push_back(quantize_op(i, make_twin(i)));
  for (int32_t i : sg.outputs)
    if (i >= 0 && uint8[i] && twin[i] == kNoTensor) after.push_back(quantize_op(make_twin(i), i));
  for (size_t oi = 0; oi < sg.operators.size(); ++oi) {
    const Operator& op = sg.operators[oi];
    if (computes_on_uint8(sg, op) && any_tensor(sg, op, is_int8_quantized))
      throw Error("operator " + std::to_string(oi) + " (" + op.code.name() +
                  ") mixes uint8 and int8 quantized tensors, which TFLite's kernels do not accept");
  }
  for (Operator& op : sg.operators) {
    bool touches_uint8 = false;
    for (int32_t& i : op.inputs)
      if (i >= 0 && static_cast<size_t>(i) < original && uint8[i]) touches_uint8 = true, i = twin[i] != kNoTensor ? twin[i] : i;
    for (int32_t& i : op.outputs)
      if (i >= 0 && static_cast<size_t>(i) < original && uint8[i]) touches_uint8 = true, i = twin[i] != kNoTensor ? twin[i] : i;
    if (touches_uint8) op.legacy_uint8 = true, ++report.ops;
  }
  for (size_t i = 0; i < sg.tensors.size(); ++i) {
    if (!uint8[i]) {
      if (sg.tensors[i].buffer != 0) other_buffers.insert(sg.tensors[i].buffer);
      continue;
    }
    if (i < original && twin[i] != kNoTensor) continue;  // an I/O tensor: stays uint8
    Tensor& t = sg.tensors[i];
    t.dtype = DType::kInt8;
    for (int64_t& z : t.quantization->zero_point) z -= 128;
    if (t.quantization->zero_point.empty()) t.quantization->zero_point.assign(t.quantization->scale.size(), -128);
    ++report.tensors;
    if (t.buffer == 0 || model.buffers[t.buffer].empty()) continue;
    if (!shifted_buffers.insert(t.buffer).second) continue;  // shared by another uint8 tensor
    for (uint8_t& b : model.buffers[t.buffer].data) b ^= 0x80;  // q - 128 as int8
    ++report.constants;
  }
  before.insert(before.end(), sg.operators.begin(), sg.operators.end());
  before.insert(before.end(), after.begin(), after.end());
  sg.operators = std::move(before);
}

}  // namespace

bool uses_uint8_scheme(const Model& model) {
  for (const Subgraph& sg : model.subgraphs)
    for (const Operator& op : sg.operators)
      if (computes_on_uint8(sg, op)) return true;
  return false;
}

LowerReport lower_uint8_to_int8(Model& model) {
  LowerReport report;
  std::set<uint32_t> shifted, other;
  for (Subgraph& sg : model.subgraphs) lower_subgraph(model, sg, shifted, other, report);
  // A buffer shifted for a uint8 tensor must not also be read as something else, in any subgraph.
  for (uint32_t b : shifted)
    if (other.count(b)) throw Error("buffer " + std::to_string(b) + " holds a uint8 quantized constant and also another tensor's data");
  return report;
}

}  // namespace qcal
