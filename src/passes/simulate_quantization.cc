// The fake-quant simulation of a quantized model (qcal run --numerics simulate): the same
// graph in float, where every quantized activation is rounded onto its own grid and
// clamped to its integer range, and every quantized constant is dequantized. It separates
// the error of the grid (scales, zero points, clipping) from the error of the integer
// kernels (requantization, fixed-point activations): float vs simulated is the grid's,
// simulated vs integer the kernels'.
#include <map>

#include "qcal/error.h"
#include "qcal/passes.h"
#include "../rewrite/rewrite_util.h"

namespace qcal {
namespace {

using B = tflite::BuiltinOperator;

void simulate_subgraph(Model& m, Subgraph& sg) {
  using rewrite::add_tensor_like;
  using rewrite::conversion_op;
  dequantize_constants(m, sg);  // weights, biases, quantized operands hold their real values
  // Every quantized activation t gets an integer twin t_q on its grid; t itself becomes
  // float and always holds dequantize(t_q). Graph inputs and outputs keep their types.
  std::map<int, int> int_twin;
  std::vector<Operator> ops;
  auto make_float = [&](int t) {
    const Tensor like = sg.tensors[t];
    int_twin[t] = add_tensor_like(sg, like, like.dtype, like.quantization, like.name + "/quantized");
    sg.tensors[t].dtype = DType::kFloat32;
    sg.tensors[t].quantization.reset();
  };
  for (int32_t& in : sg.inputs)
    if (in >= 0 && is_quantized_activation(m, sg.tensors[in])) {
      const int t = in;
      make_float(t);
      in = int_twin[t];  // the caller feeds integers, as to the quantized model
      ops.push_back(conversion_op(B::DEQUANTIZE, int_twin[t], t));
    }
  for (Operator& op : sg.operators) {
    if (op.builtin() == B::DEQUANTIZE && !op.inputs.empty() && int_twin.count(op.inputs[0])) {
      op.inputs[0] = int_twin[op.inputs[0]];  // dequantizing the twin is exact
      ops.push_back(std::move(op));
      continue;
    }
    // A QUANTIZE (or requantization) of a float value already rounds: it writes the twin.
    const bool rounds = op.builtin() == B::QUANTIZE;
    std::vector<std::pair<int, int>> unrounded;  // (float result, simulated tensor)
    for (int32_t& o : op.outputs) {
      if (o < 0 || !is_quantized_activation(m, sg.tensors[o])) continue;
      const int t = o;
      make_float(t);
      o = rounds ? int_twin[t] : add_tensor_like(sg, sg.tensors[t], DType::kFloat32, std::nullopt, sg.tensors[t].name + "/unrounded");
      unrounded.push_back({o, t});
    }
    ops.push_back(std::move(op));
    for (const auto& [raw, t] : unrounded) {
      if (!rounds) ops.push_back(conversion_op(B::QUANTIZE, raw, int_twin[t]));
      ops.push_back(conversion_op(B::DEQUANTIZE, int_twin[t], t));
    }
  }
  for (int32_t& out : sg.outputs)
    if (int_twin.count(out)) out = int_twin[out];
  sg.operators = std::move(ops);
}

}  // namespace

Model simulate_quantization(const Model& quantized) {
  Model m = quantized;
  for (Subgraph& sg : m.subgraphs) simulate_subgraph(m, sg);
  return m;
}

}  // namespace qcal
