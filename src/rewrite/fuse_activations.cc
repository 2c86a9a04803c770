// Folds standalone int8 activations into their producers (see rewrite_util.h). LiteRT's
// XNNPACK delegate takes int8 ADD/CONV/... with a fused clamp but not a standalone int8
// RELU, so every RELU op left in the graph splits the delegated partition and runs on a
// slow reference kernel (face_detection_short_range ran 1.9x slower in int8 than in float).
#include <vector>

#include "qcal/op_table.h"
#include "rewrite_util.h"

namespace qcal::rewrite {
namespace {

using A = tflite::ActivationFunctionType;
using B = tflite::BuiltinOperator;

bool int8_quantized(const Tensor& t) {
  return t.dtype == DType::kInt8 && t.quantization && t.quantization->scale.size() == 1 &&
         t.quantization->zero_point.size() == 1;
}

bool same_quantization(const Tensor& a, const Tensor& b) {
  return a.quantization->scale[0] == b.quantization->scale[0] && a.quantization->zero_point[0] == b.quantization->zero_point[0];
}

}  // namespace

A fusable_activation(B code) {
  switch (code) {
    case B::RELU: return A::RELU;
    case B::RELU6: return A::RELU6;
    case B::RELU_N1_TO_1: return A::RELU_N1_TO_1;
    default: return A::NONE;
  }
}

int fuse_activations(Subgraph& sg) {
  const size_t n = sg.tensors.size();
  std::vector<int> readers(n, 0), producer(n, -1);
  for (size_t oi = 0; oi < sg.operators.size(); ++oi) {
    for (int32_t t : sg.operators[oi].inputs)
      if (t >= 0) ++readers[t];
    for (int32_t t : sg.operators[oi].outputs)
      if (t >= 0) producer[t] = static_cast<int>(oi);
  }
  for (int32_t t : sg.outputs)
    if (t >= 0) ++readers[t];  // a graph output must keep its values

  std::vector<bool> folded(sg.operators.size(), false);
  int count = 0;
  for (size_t ai = 0; ai < sg.operators.size(); ++ai) {
    const Operator& act = sg.operators[ai];
    const A a = fusable_activation(act.builtin());
    if (a == A::NONE || act.inputs.size() != 1 || act.outputs.size() != 1) continue;
    const int in = act.inputs[0], out = act.outputs[0];
    if (in < 0 || out < 0 || readers[in] != 1 || producer[in] < 0 || !int8_quantized(sg.tensors[in]) ||
        !int8_quantized(sg.tensors[out]))
      continue;
    Operator& prod = sg.operators[producer[in]];
    const OpQuantInfo& info = op_quant_info(prod.code);
    A* fused = prod.fused_activation();
    if (!info.int8_fused_activation || !fused || *fused != A::NONE || prod.outputs.size() != 1) continue;
    // A pool keeps its input's scale: the activation's output must have it too.
    if (info.same_scale && !same_quantization(sg.tensors[in], sg.tensors[out])) continue;
    *fused = a;
    prod.outputs[0] = out;
    producer[out] = producer[in];
    folded[ai] = true;
    ++count;
  }
  if (count == 0) return 0;
  std::vector<Operator> kept;
  kept.reserve(sg.operators.size() - count);
  for (size_t oi = 0; oi < sg.operators.size(); ++oi)
    if (!folded[oi]) kept.push_back(std::move(sg.operators[oi]));
  sg.operators = std::move(kept);
  return count;
}

}  // namespace qcal::rewrite
