#include <Eigen/Core>
#include <cstring>
#include <set>

#include "qcal/error.h"
#include "qcal/passes.h"
#include "qcal/sparse.h"

namespace qcal {
namespace {

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Which scale/zero point applies to element i of a tensor quantized per tensor or per axis.
struct AxisParams {
  int64_t inner = 1;  // elements per step along the quantized axis
  int64_t axis_len = 1;
  const Quantization* q = nullptr;
  int64_t channel(int64_t i) const { return q && q->per_axis() ? (i / inner) % axis_len : 0; }
};

AxisParams axis_params(const Tensor& t) {
  AxisParams p;
  if (!t.quantization) return p;
  p.q = &*t.quantization;
  if (p.q->per_axis()) {
    const int axis = p.q->quantized_dimension;
    p.axis_len = t.shape[axis];
    for (size_t d = axis + 1; d < t.shape.size(); ++d) p.inner *= t.shape[d];
  }
  return p;
}

bool foldable_dtype(const Tensor& t) {
  if (t.dtype == DType::kFloat16 || t.dtype == DType::kFloat32) return true;
  const bool int_type = t.dtype == DType::kInt8 || t.dtype == DType::kUInt8 || t.dtype == DType::kInt16;
  return int_type && t.quantization && t.quantization->has_scale();
}

}  // namespace

std::vector<float> constant_as_float(const Model& model, const Tensor& t) {
  const Buffer* b = model.data_of(t);
  if (!b) throw Error("tensor '" + t.name + "' has no constant data");
  if (t.sparsity) throw Error("tensor '" + t.name + "' is sparse; densify it first");
  const int64_t n = num_elements(t.shape);
  std::vector<float> out(static_cast<size_t>(n));
  const uint8_t* p = b->data.data();
  const AxisParams ap = axis_params(t);
  auto dq = [&](int64_t i, int32_t q) {
    const int64_t c = ap.channel(i);
    const double scale = ap.q->scale[c];
    const int64_t zp = ap.q->zero_point.empty() ? 0 : ap.q->zero_point[c];
    return static_cast<float>(scale * static_cast<double>(q - zp));
  };
  switch (t.dtype) {
    case DType::kFloat32:
      std::memcpy(out.data(), p, n * 4);
      break;
    case DType::kFloat16:
      for (int64_t i = 0; i < n; ++i)
        out[i] = static_cast<float>(Eigen::numext::bit_cast<Eigen::half>(load<uint16_t>(p + 2 * i)));
      break;
    case DType::kInt8:
      for (int64_t i = 0; i < n; ++i) out[i] = dq(i, static_cast<int8_t>(p[i]));
      break;
    case DType::kUInt8:
      for (int64_t i = 0; i < n; ++i) out[i] = dq(i, p[i]);
      break;
    case DType::kInt16:
      for (int64_t i = 0; i < n; ++i) out[i] = dq(i, load<int16_t>(p + 2 * i));
      break;
    case DType::kInt32:  // quantized biases (scale = input x weight)
      if (!ap.q || !ap.q->has_scale()) throw Error("tensor '" + t.name + "': int32 constant without quantization parameters");
      for (int64_t i = 0; i < n; ++i) out[i] = dq(i, load<int32_t>(p + 4 * i));
      break;
    default:
      throw Error("tensor '" + t.name + "': cannot read " + dtype_name(t.dtype) + " constants as float");
  }
  return out;
}

// DENSIFY of a sparse constant becomes the dense constant (TFLite's converter writes
// sparse fp16 weights as sparse constant -> DENSIFY -> DEQUANTIZE).
int fold_constant_densify(Model& model) {
  int folded = 0;
  for (Subgraph& sg : model.subgraphs) {
    const std::set<int32_t> graph_outputs(sg.outputs.begin(), sg.outputs.end());
    std::vector<Operator> kept;
    for (Operator& op : sg.operators) {
      if (op.builtin() == tflite::BuiltinOperator::DENSIFY && op.inputs.size() == 1 && op.outputs.size() == 1 &&
          op.inputs[0] >= 0 && !graph_outputs.count(op.outputs[0])) {
        const Tensor& in = sg.tensors[op.inputs[0]];
        Tensor& out = sg.tensors[op.outputs[0]];
        const Buffer* data = model.data_of(in);
        if (data && in.sparsity && out.dtype == in.dtype) {
          std::vector<uint8_t> dense = densify(in, *data);
          out.buffer = model.add_buffer(std::move(dense));
          if (!out.quantization && in.quantization) out.quantization = in.quantization;
          ++folded;
          continue;
        }
      }
      kept.push_back(std::move(op));
    }
    sg.operators = std::move(kept);
  }
  return folded;
}

FoldReport fold_constant_dequantize(Model& model, bool prune) {
  FoldReport report;
  report.densified = fold_constant_densify(model);
  for (Subgraph& sg : model.subgraphs) {
    const std::set<int32_t> graph_outputs(sg.outputs.begin(), sg.outputs.end());
    std::vector<Operator> kept;
    kept.reserve(sg.operators.size());
    for (Operator& op : sg.operators) {
      const bool candidate = op.builtin() == tflite::BuiltinOperator::DEQUANTIZE && op.inputs.size() == 1 &&
                             op.outputs.size() == 1 && op.inputs[0] >= 0;
      if (candidate) {
        const Tensor& in = sg.tensors[op.inputs[0]];
        Tensor& out = sg.tensors[op.outputs[0]];
        if (model.data_of(in) && !in.sparsity && foldable_dtype(in) && out.dtype == DType::kFloat32 &&
            !graph_outputs.count(op.outputs[0]) && num_elements(in.shape) == num_elements(out.shape)) {
          const std::vector<float> values = constant_as_float(model, in);
          std::vector<uint8_t> bytes(values.size() * 4);
          std::memcpy(bytes.data(), values.data(), bytes.size());
          report.bytes_before += static_cast<int64_t>(model.data_of(in)->data.size());
          report.bytes_after += static_cast<int64_t>(bytes.size());
          out.buffer = model.add_buffer(std::move(bytes));
          out.quantization.reset();
          ++report.folded;
          continue;  // the op is gone; its output is now a constant
        }
      }
      kept.push_back(std::move(op));
    }
    sg.operators = std::move(kept);
  }
  if (prune && (report.folded || report.densified)) prune_unused(model);
  return report;
}

void prune_unused(Model& model, std::vector<std::vector<int32_t>>* tensor_remap) {
  std::vector<bool> buffer_used(model.buffers.size(), false);
  if (!buffer_used.empty()) buffer_used[0] = true;
  for (const Metadata& m : model.metadata) buffer_used[m.buffer] = true;
  for (int32_t b : model.metadata_buffer)
    if (b >= 0 && static_cast<size_t>(b) < buffer_used.size()) buffer_used[b] = true;

  if (tensor_remap) tensor_remap->assign(model.subgraphs.size(), {});
  for (size_t si = 0; si < model.subgraphs.size(); ++si) {
    Subgraph& sg = model.subgraphs[si];
    std::vector<bool> used(sg.tensors.size(), false);
    auto mark = [&](const std::vector<int32_t>& list) {
      for (int32_t i : list)
        if (i >= 0) used[i] = true;
    };
    mark(sg.inputs);
    mark(sg.outputs);
    for (const Operator& op : sg.operators) {
      mark(op.inputs);
      mark(op.outputs);
      mark(op.intermediates);
    }
    for (const SignatureDef& sig : model.signatures) {
      if (sig.subgraph_index != si) continue;
      for (const auto& e : sig.inputs) used[e.tensor_index] = true;
      for (const auto& e : sig.outputs) used[e.tensor_index] = true;
    }
    std::vector<int32_t> remap(sg.tensors.size(), kNoTensor);
    std::vector<Tensor> tensors;
    for (size_t i = 0; i < sg.tensors.size(); ++i) {
      if (!used[i]) continue;
      remap[i] = static_cast<int32_t>(tensors.size());
      tensors.push_back(std::move(sg.tensors[i]));
    }
    sg.tensors = std::move(tensors);
    auto apply = [&](std::vector<int32_t>& list) {
      for (int32_t& i : list)
        if (i >= 0) i = remap[i];
    };
    apply(sg.inputs);
    apply(sg.outputs);
    for (Operator& op : sg.operators) {
      apply(op.inputs);
      apply(op.outputs);
      apply(op.intermediates);
    }
    for (SignatureDef& sig : model.signatures) {
      if (sig.subgraph_index != si) continue;
      for (auto& e : sig.inputs) e.tensor_index = static_cast<uint32_t>(remap[e.tensor_index]);
      for (auto& e : sig.outputs) e.tensor_index = static_cast<uint32_t>(remap[e.tensor_index]);
    }
    for (const Tensor& t : sg.tensors)
      if (t.buffer < buffer_used.size()) buffer_used[t.buffer] = true;
    if (tensor_remap) (*tensor_remap)[si] = std::move(remap);
  }

  std::vector<uint32_t> bremap(model.buffers.size(), 0);
  std::vector<Buffer> buffers;
  for (size_t i = 0; i < model.buffers.size(); ++i) {
    if (!buffer_used[i]) continue;
    bremap[i] = static_cast<uint32_t>(buffers.size());
    buffers.push_back(std::move(model.buffers[i]));
  }
  model.buffers = std::move(buffers);
  for (Subgraph& sg : model.subgraphs)
    for (Tensor& t : sg.tensors)
      if (t.buffer < bremap.size()) t.buffer = bremap[t.buffer];
  for (Metadata& m : model.metadata) m.buffer = bremap[m.buffer];
  for (int32_t& b : model.metadata_buffer)
    if (b >= 0 && static_cast<size_t>(b) < bremap.size()) b = static_cast<int32_t>(bremap[b]);
}

}  // namespace qcal
