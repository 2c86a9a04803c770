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
  bool int8 = false;              // TFLite has an int8 kernel: quantize it
  int weights = -1;               // input index of the constant weights
  int weights_axis = -1;          // their per-channel axis (-1: per tensor only)
  int bias = -1;                  // input index of the bias (int32, scale = in * w)
  int activation_input = 0;       // the input whose scale the bias scale uses
  std::optional<FixedQuantization> fixed_output;  // int8 output (scale, zp) required by the kernel
  bool same_scale = false;        // every quantized input and the output share scale/zp
  std::vector<int> float_inputs;  // inputs that are never quantized (shapes, axes, sizes)
  int int8_version = 2;           // the op version TFLite's converter writes for int8
  bool int8_needs_bias = false;   // the int8 kernel requires a bias input (zeros when absent)
  // LiteRT runs the int8 kernel with a fused RELU/RELU6/RELU_N1_TO_1 as fast as without
  // (XNNPACK clamps in the requantization; a standalone int8 RELU it does not take), proven
  // bit-exact in tests/interop/op_models: the rewrite folds a following activation op in.
  bool int8_fused_activation = false;
  const char* note = "";          // why, when not quantizable
};

// The entry for an op; ops not in the table get a default entry with int8 = false.
const OpQuantInfo& op_quant_info(const OpCode& code);

}  // namespace qcal
