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

// The float32 twin of a quantized (uint8, int8 or int16) model: the simulation above without
// its rounding. Quantized constants become float32 holding scale * (q - zero_point) (per axis
// where so quantized; int32 biases with their own scale); quantized activations become float32
// tensors without quantization parameters; QUANTIZE/DEQUANTIZE ops between two of them are
// identities and go (their consumers, graph inputs/outputs and signatures read the one
// tensor left, so integer inputs/outputs become float). Options, fused activations, op
// versions and custom ops (TFLite_Detection_PostProcess) are kept; DEQUANTIZE of float16
// constants too. The quantized model clips every result to its grid; where that clipping is
// part of the function the twin keeps it: an op that takes a fused activation but has none and
// writes a grid starting at 0 (TOCO folds RELU/RELU6 into uint8 output ranges) gets RELU6 (grid
// ending at 6), RELU_N1_TO_1 ([-1, 1]) or RELU back; a bounded activation whose grid ends more
// than a step inside its bound (quantization-aware training's learned ranges: a RELU output
// quantized on [0, 2.8]) gets a MINIMUM (MAXIMUM) against the grid's end after the op. Results
// without an activation, and pools on their input's grid, are not clamped. Throws Error naming the op for what has no float twin: integer-only
// recurrent ops (quantized intermediates), CAST of quantized codes, other custom ops on
// quantized tensors, shuffled FULLY_CONNECTED weights, constants it cannot read (int4,
// sparse), and a model with nothing quantized.
struct DequantizeReport {
  int constants = 0;            // quantized constants turned into float32
  int activations = 0;          // quantized activations turned into float32
  int conversions_dropped = 0;  // QUANTIZE/DEQUANTIZE ops removed
  int activations_restored = 0;  // fused activations a grid implied (TOCO drops them)
  int clamps = 0;                // MINIMUM/MAXIMUM ops keeping a bounded activation's clipping
  int shapes_set = 0;           // detection outputs given their static shape (set_detection_output_shapes)
  // Per subgraph: tensor of the quantized model -> the twin's tensor holding its real value
  // (kNoTensor for what went).
  std::vector<std::vector<int32_t>> tensor_map;
  // Per subgraph: operator of the quantized model -> the twin's operator (-1: dropped).
  std::vector<std::vector<int32_t>> op_map;
};
Model dequantize_model(const Model& quantized, DequantizeReport* report = nullptr);

// TOCO declares TFLite_Detection_PostProcess outputs without a shape ([]), which TFLite's
// interpreter resizes at run time but runtimes that allocate from the file (LiteRT's compiled
// model, qcal's executor) cannot: this gives each such output the static shape the op's
// options fix (D = max_detections * max_classes_per_detection: boxes [1,D,4], classes and scores
// [1,D], count [1]). Returns how many shapes it set; dequantize_model applies it.
int set_detection_output_shapes(Model& model);

// The pieces the simulation and the twin share. dequantize_constants turns every quantized
// constant of `sg` (int8/uint8/int16 with a scale, int32 biases; not sparse ones) into a
// float32 constant and returns how many; is_quantized_activation: an int8/uint8/int16 tensor
// with a scale and no constant data.
int dequantize_constants(Model& model, Subgraph& sg);
bool is_quantized_activation(const Model& model, const Tensor& tensor);

// Float value of element `i` of a constant of type float16/float32/int8/uint8/int16
// (quantized types are dequantized with the tensor's per-tensor or per-axis parameters).
std::vector<float> constant_as_float(const Model& model, const Tensor& tensor);

}  // namespace qcal
