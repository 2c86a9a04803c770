// What qcal knows about each op's quantization, in one declarative table (TFLite's
// quantization spec and operator_property.cc, see docs/architecture.md): which inputs are
// weights and their per-channel axis, which is the bias, which outputs have a fixed range,
// and which ops must keep one scale across inputs and outputs. Passes read this table
// instead of testing op codes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "qcal/model.h"

namespace qcal {

struct FixedQuantization {
  float scale;
  int32_t zero_point;
};

struct OpQuantInfo {
  const char* name = "";
  // Quantize it: LiteRT runs it in int8 at int8_version and qcal's integer kernel computes
  // it bit-exactly like LiteRT, both proven by a single-op model in tests/interop/op_models.
  bool int8 = false;
  int weights = -1;               // input index of the constant weights
  int weights_axis = -1;          // their per-channel axis (-1: per tensor only)
  // The weights' axis over input channels, for the weight-rounding bias correction (-1:
  // not corrected; TRANSPOSE_CONV's output pixels see a varying number of taps).
  int weights_input_axis = -1;
  int bias = -1;                  // input index of the bias (int32, scale = in * w)
  int activation_input = 0;       // the input whose scale the bias scale uses
  std::optional<FixedQuantization> fixed_output;  // int8 output (scale, zp) required by the kernel
  bool same_scale = false;        // every quantized input and the output share scale/zp
  std::vector<int> float_inputs;  // inputs that are never quantized (shapes, axes, sizes)
  int int8_version = 2;           // the op version qcal writes for int8 (as TFLite's converter)
  bool int8_needs_bias = false;   // the int8 kernel requires a bias input (zeros when absent)
  // LiteRT runs the int8 kernel with a fused RELU/RELU6/RELU_N1_TO_1 as fast as without
  // (XNNPACK clamps in the requantization; a standalone int8 RELU it does not take), proven
  // bit-exact in tests/interop/op_models: the rewrite folds a following activation op in.
  bool int8_fused_activation = false;
  // Set where LiteRT runs the op faster in float (behind DEQUANTIZE/QUANTIZE, inside its
  // XNNPACK partition) than in int8 (on TFLite's builtin kernel, cutting the partition),
  // measured (docs/performance.md): why the int8 rewrite keeps it float by default.
  const char* float_in_litert = nullptr;
  // A monotone clamp against a constant (MINIMUM, MAXIMUM: one input a constant): an input
  // that only this op reads may be quantized to the output's range, since saturating there
  // first gives the same result; the input's own wider range would coarsen the shared grid.
  bool clamps_to_constant = false;
  const char* note = "";          // why, when not quantizable
  // LiteRT on CPU hands the op to its XNNPACK delegate with float32 / per-tensor int8
  // activations (the delegate's own checks, xnnpack_delegate.cc; per-op conditions such as
  // scale ratios are in litert_placement.cc). Ops it does not take run on TFLite's builtin
  // kernels and cut the delegated graph in two.
  bool xnnpack_float = false;
  bool xnnpack_int8 = false;
};

// The entry for an op; ops not in the table get a default entry with int8 = false.
const OpQuantInfo& op_quant_info(const OpCode& code);

// Every builtin op the table lists, with its entry (for checks over the whole table).
std::vector<std::pair<int32_t, const OpQuantInfo*>> op_quant_table();

// The version qcal writes for `op` when its activations are quantized integers: the op's
// int8_version, or for QUANTIZE/DEQUANTIZE the version their input type calls for.
int quantized_op_version(const Operator& op, const Subgraph& sg);

}  // namespace qcal
