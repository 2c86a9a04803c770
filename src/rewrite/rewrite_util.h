// Pieces the rewrites share: symmetric weight quantization, adding tensors and conversion
// ops, and counting constant bytes.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "qcal/model.h"

namespace qcal::rewrite {

template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Symmetric int8 weights in [-127, 127] (zero point 0), one scale per slice of `axis`
// (axis < 0: one scale for the whole tensor). An all-zero slice gets scale 1 so that
// every scale the runtime sees is positive and finite.
struct SymmetricWeights {
  std::vector<int8_t> values;
  std::vector<float> scales;
  int axis = -1;
  int raised_to_floor = 0;  // slices whose scale min_scales raised
};
// keep_channel_sums: re-round a few weights per slice so that each slice's integer sum is
// the rounded sum of its real values (see the weight-rounding correction in quantize.h).
// min_scales (empty, or one per slice): a slice's scale is never below its entry.
SymmetricWeights quantize_symmetric(const std::vector<float>& w, const Shape& shape, int axis,
                                    bool keep_channel_sums = false, const std::vector<float>& min_scales = {});

// A tensor holding `weights`, named after `like`, quantized per axis (or per tensor).
int add_weight_tensor(Model& model, Subgraph& sg, const Tensor& like, const SymmetricWeights& weights);

// Appends a tensor shaped like `like` with a new dtype and quantization; returns its index.
int add_tensor_like(Subgraph& sg, const Tensor& like, DType dtype, std::optional<Quantization> q, const std::string& name);

// Appends a 1-D int32 constant (a shape, axes) named `name`; returns its index.
int add_int32_constant(Model& model, Subgraph& sg, const std::string& name, const std::vector<int32_t>& values);

// A QUANTIZE or DEQUANTIZE operator from `in` to `out`.
Operator conversion_op(tflite::BuiltinOperator code, int32_t in, int32_t out, int version = 1);

// Bytes of constant data referenced by subgraph tensors (what the weights cost on disk).
int64_t constant_bytes(const Model& model);

// Per-tensor quantization.
Quantization per_tensor(float scale, int32_t zero_point);

// Folds every int8 RELU / RELU6 / RELU_N1_TO_1 op into the int8 op that writes its input,
// as TFLite's converter does, where the op table says LiteRT's int8 kernel of that op takes
// a fused activation (OpQuantInfo::int8_fused_activation), the producer has none yet, and
// only the activation reads the producer's output (not a graph output either). The producer
// then writes the activation's output tensor, with its quantization (same-scale producers
// only when that equals their own); the activation op goes, its input tensor is left
// unreferenced for a prune. Returns how many ops were folded.
int fuse_activations(Subgraph& sg);
// Rewrites SQUEEZE / EXPAND_DIMS ops whose shapes are static as RESHAPE (which LiteRT's
// XNNPACK delegate takes; it takes neither of the others). Returns how many.
int squeezes_as_reshape(Model& m, Subgraph& sg);
// The fused form of a standalone activation op (RELU -> RELU, ...), or NONE.
tflite::ActivationFunctionType fusable_activation(tflite::BuiltinOperator code);

// Replaces (or adds) a metadata entry holding `text`.
void set_metadata(Model& model, const std::string& name, const std::string& text);

}  // namespace qcal::rewrite
