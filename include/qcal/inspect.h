// What is inside a model: the data behind `qcal inspect`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "qcal/model.h"

namespace qcal {

// Stable keys (scripts rely on them): subgraphs[].operators[] (index, opcode, custom_code,
// inputs, outputs), subgraphs[].tensors[] (index, name, dtype, shape, quantization),
// subgraphs[].inputs, subgraphs[].outputs, op_counts (name -> count), plus summaries.
nlohmann::json inspect_json(const Model& model);

// A human-readable summary of the same facts.
std::string inspect_text(const Model& model, const std::string& label);

// How a model stores its weights: fp16 constants behind DEQUANTIZE (TFLite's float16
// convention), quantized integer tensors, or plain float.
struct WeightFormat {
  int fp16_constants = 0;       // float16 constants
  int fp16_dequantized = 0;     // ... of which feed a DEQUANTIZE
  int quantized_constants = 0;  // integer constants with quantization parameters
  int quantized_activations = 0;  // non-constant integer tensors with quantization
  bool already_quantized() const { return quantized_activations > 0 || quantized_constants > 0; }
};
WeightFormat weight_format(const Model& model);

}  // namespace qcal

namespace qcal {

// Multiply-accumulates per inference of conv, depthwise, fully-connected and
// transpose-conv ops (the work that dominates these models), from the file's shapes.
int64_t count_macs(const Model& model, int subgraph = 0);

}  // namespace qcal
