// Graph passes over the IR. Each keeps the model valid (indices, buffers, signatures).
#pragma once

#include <string>
#include <vector>

#include "qcal/model.h"

namespace qcal {

struct FoldReport {
  int folded = 0;            // DEQUANTIZE ops replaced by float32 constants
  int densified = 0;         // DENSIFY ops of sparse constants replaced by dense constants
  int64_t bytes_before = 0;  // constant bytes of the inputs that were folded
  int64_t bytes_after = 0;   // float32 bytes that replaced them
};

// Folds DENSIFY of sparse constants into dense constants, then every DEQUANTIZE whose
// input is a constant (float16, or int8/uint8/int16 with
// quantization parameters) into a float32 constant, then prunes what became unused.
// This turns the fp16-weight models TFLite's converter writes (and all @mediapipe models)
// into plain float32 models. DEQUANTIZE ops whose output is a subgraph output are kept.
// With prune = false, tensor indices stay as they were (the folded tensors become constants).
FoldReport fold_constant_dequantize(Model& model, bool prune = true);

// Removes operators-free garbage: tensors no operator, subgraph I/O or signature refers
// to, and buffers no tensor or metadata refers to. Indices are remapped everywhere; the
// tensor remap (old index -> new index or kNoTensor, per subgraph) is stored when asked for.
void prune_unused(Model& model, std::vector<std::vector<int32_t>>* tensor_remap = nullptr);

// TFLite's legacy uint8 scheme as int8: every uint8 quantized tensor becomes int8 with codes
// and zero points shifted by -128 (exact: real values are unchanged), ops that touched one
// get Operator::legacy_uint8, and uint8 subgraph inputs/outputs keep their index and type
// behind QUANTIZE ops (exact: same scale). The executor applies it to models where an op
// other than QUANTIZE/DEQUANTIZE/CAST computes on uint8 (uses_uint8_scheme); an op mixing
// uint8 and int8 quantized tensors is refused, as TFLite refuses it.
struct LowerReport {
  int tensors = 0;    // tensors turned into int8
  int constants = 0;  // constant buffers shifted
  int ops = 0;        // operators marked legacy_uint8
};
bool uses_uint8_scheme(const Model& model);
LowerReport lower_uint8_to_int8(Model& model);

// The fake-quant simulation of a quantized model: the same graph in float, with quantized
// constants dequantized and every quantized activation rounded onto its own grid
// (QUANTIZE + DEQUANTIZE after the op that computes it, in float). Graph inputs and outputs
// keep their types. Float vs simulated is the grid's error; simulated vs integer, the kernels'.
Model simulate_quantization(const Model& quantized);

// Float value of element `i` of a constant of type float16/float32/int8/uint8/int16
// (quantized types are dequantized with the tensor's per-tensor or per-axis parameters).
std::vector<float> constant_as_float(const Model& model, const Tensor& tensor);

}  // namespace qcal
