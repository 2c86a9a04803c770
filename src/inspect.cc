#include "qcal/inspect.h"

#include <algorithm>
#include <map>

#include <sstream>

#include "qcal/executor.h"
#include "qcal/litert_placement.h"

namespace qcal {
namespace {

using nlohmann::json;

json quantization_json(const Tensor& t) {
  if (!t.quantization) return nullptr;
  const Quantization& q = *t.quantization;
  json j = {{"scale", q.scale}, {"zero_point", q.zero_point}, {"quantized_dimension", q.quantized_dimension}};
  if (!q.min.empty()) j["min"] = q.min;
  if (!q.max.empty()) j["max"] = q.max;
  if (q.details) j["details"] = tflite::EnumNameQuantizationDetails(q.details->type);
  return j;
}

std::string quantization_str(const Tensor& t) {
  if (!t.quantization || !t.quantization->has_scale()) return "";
  const Quantization& q = *t.quantization;
  std::ostringstream s;
  if (q.per_axis()) {
    s << " per-axis(dim " << q.quantized_dimension << ", " << q.scale.size() << " scales)";
  } else {
    s << " scale=" << q.scale[0] << " zp=" << (q.zero_point.empty() ? 0 : q.zero_point[0]);
  }
  return s.str();
}

bool is_integer(DType t) {
  return t == DType::kInt8 || t == DType::kUInt8 || t == DType::kInt16 || t == DType::kInt32 || t == DType::kInt4;
}

struct SubgraphStats {
  std::map<std::string, int> op_counts;
  std::map<std::string, int> dtype_counts;
  int64_t params = 0, param_bytes = 0;
  std::vector<std::string> custom_ops;
};

SubgraphStats stats_of(const Model& m, const Subgraph& sg) {
  SubgraphStats s;
  for (const Operator& op : sg.operators) {
    s.op_counts[op.code.name()]++;
    if (op.code.is_custom() && std::find(s.custom_ops.begin(), s.custom_ops.end(), op.code.custom) == s.custom_ops.end())
      s.custom_ops.push_back(op.code.custom);
  }
  for (const Tensor& t : sg.tensors) {
    s.dtype_counts[dtype_name(t.dtype)]++;
    if (const Buffer* b = m.data_of(t)) {
      s.params += t.sparsity ? 0 : num_elements(t.shape);
      s.param_bytes += static_cast<int64_t>(b->data.size());
    }
  }
  return s;
}

json io_json(const Subgraph& sg, const std::vector<int32_t>& list) {
  json out = json::array();
  for (int32_t i : list) {
    const Tensor& t = sg.tensors[i];
    out.push_back({{"index", i}, {"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape},
                   {"quantization", quantization_json(t)}});
  }
  return out;
}

// The ops LiteRT's XNNPACK delegate leaves to TFLite's builtin kernels, grouped by op name
// and reason, in the order they first appear.
struct Refusal {
  std::string op, reason;
  std::vector<int> indices;
};
std::vector<Refusal> refusals(const Model& m, const LitertPlacement& p) {
  std::vector<Refusal> out;
  for (const OpPlacement& o : p.ops) {
    if (o.xnnpack) continue;
    const std::string name = m.subgraphs[0].operators[o.op].code.name();
    auto it = std::find_if(out.begin(), out.end(), [&](const Refusal& r) { return r.op == name && r.reason == o.reason; });
    if (it == out.end()) it = out.insert(out.end(), Refusal{name, o.reason, {}});
    it->indices.push_back(o.op);
  }
  return out;
}

}  // namespace

WeightFormat weight_format(const Model& m) {
  WeightFormat w;
  for (const Subgraph& sg : m.subgraphs) {
    std::vector<bool> feeds_dequantize(sg.tensors.size(), false);
    for (const Operator& op : sg.operators)
      if (op.builtin() == tflite::BuiltinOperator::DEQUANTIZE && !op.inputs.empty() && op.inputs[0] >= 0)
        feeds_dequantize[op.inputs[0]] = true;
    for (size_t i = 0; i < sg.tensors.size(); ++i) {
      const Tensor& t = sg.tensors[i];
      const bool constant = m.data_of(t) != nullptr;
      if (t.dtype == DType::kFloat16 && constant) {
        w.fp16_constants++;
        if (feeds_dequantize[i]) w.fp16_dequantized++;
      }
      const bool quantized = is_integer(t.dtype) && t.quantization && t.quantization->has_scale();
      if (quantized && constant) w.quantized_constants++;
      if (quantized && !constant) w.quantized_activations++;
    }
  }
  return w;
}

nlohmann::json inspect_json(const Model& m) {
  json j;
  j["version"] = m.version;
  j["description"] = m.description;
  std::map<std::string, int> op_counts;
  std::vector<std::string> custom_ops;
  json sgs = json::array();
  int64_t params = 0, param_bytes = 0;
  for (size_t si = 0; si < m.subgraphs.size(); ++si) {
    const Subgraph& sg = m.subgraphs[si];
    const SubgraphStats s = stats_of(m, sg);
    for (const auto& [k, v] : s.op_counts) op_counts[k] += v;
    for (const auto& c : s.custom_ops)
      if (std::find(custom_ops.begin(), custom_ops.end(), c) == custom_ops.end()) custom_ops.push_back(c);
    params += s.params;
    param_bytes += s.param_bytes;
    json ops = json::array();
    for (size_t oi = 0; oi < sg.operators.size(); ++oi) {
      const Operator& op = sg.operators[oi];
      ops.push_back({{"index", oi},
                     {"opcode", op.code.is_custom() ? std::string("CUSTOM") : op.code.name()},
                     {"custom_code", op.code.is_custom() ? json(op.code.custom) : json(nullptr)},
                     {"version", op.code.version},
                     {"inputs", op.inputs},
                     {"outputs", op.outputs}});
    }
    json tensors = json::array();
    for (size_t ti = 0; ti < sg.tensors.size(); ++ti) {
      const Tensor& t = sg.tensors[ti];
      const Buffer* b = m.data_of(t);
      json tj = {{"index", ti}, {"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape},
                 {"quantization", quantization_json(t)}, {"buffer", t.buffer}, {"constant", b != nullptr},
                 {"bytes", b ? b->data.size() : 0}};
      if (!t.shape_signature.empty()) tj["shape_signature"] = t.shape_signature;
      if (t.sparsity) tj["sparse"] = true;
      if (t.is_variable) tj["variable"] = true;
      tensors.push_back(std::move(tj));
    }
    sgs.push_back({{"index", si},
                   {"name", sg.name},
                   {"inputs", io_json(sg, sg.inputs)},
                   {"outputs", io_json(sg, sg.outputs)},
                   {"op_counts", s.op_counts},
                   {"dtype_counts", s.dtype_counts},
                   {"parameters", s.params},
                   {"parameter_bytes", s.param_bytes},
                   {"custom_ops", s.custom_ops},
                   {"operators", std::move(ops)},
                   {"tensors", std::move(tensors)}});
  }
  j["subgraphs"] = std::move(sgs);
  j["op_counts"] = op_counts;
  j["custom_ops"] = custom_ops;
  j["parameters"] = params;
  j["parameter_bytes"] = param_bytes;
  const WeightFormat w = weight_format(m);
  j["weights"] = {{"fp16_constants", w.fp16_constants},
                  {"fp16_dequantized", w.fp16_dequantized},
                  {"quantized_constants", w.quantized_constants},
                  {"quantized_activations", w.quantized_activations},
                  {"already_quantized", w.already_quantized()}};
  json md = json::array();
  for (const Metadata& e : m.metadata) {
    json x = {{"name", e.name}, {"bytes", e.buffer < m.buffers.size() ? m.buffers[e.buffer].data.size() : 0}};
    if (e.name == "min_runtime_version") x["value"] = *m.metadata_string(e.name);
    // qcal's own record (calibration, pre-processing, summary), when it parses.
    if (e.name == "qcal_quantization")
      if (auto text = m.metadata_string(e.name)) {
        json r = json::parse(*text, nullptr, /*allow_exceptions=*/false);
        if (!r.is_discarded()) x["record"] = std::move(r);
      }
    md.push_back(std::move(x));
  }
  j["metadata"] = std::move(md);
  if (auto v = m.metadata_string("min_runtime_version")) j["min_runtime_version"] = *v;
  json sigs = json::array();
  for (const SignatureDef& s : m.signatures) {
    json in = json::object(), out = json::object();
    for (const auto& e : s.inputs) in[e.name] = e.tensor_index;
    for (const auto& e : s.outputs) out[e.name] = e.tensor_index;
    sigs.push_back({{"key", s.key}, {"subgraph", s.subgraph_index}, {"inputs", in}, {"outputs", out}});
  }
  j["signatures"] = std::move(sigs);
  j["buffers"] = m.buffers.size();
  j["macs"] = count_macs(m, 0);
  json unsupported = json::array();
  for (const UnsupportedOp& u : find_unsupported_ops(m, KernelRegistry::global()))
    unsupported.push_back({{"subgraph", u.subgraph}, {"index", u.index}, {"name", u.name}, {"custom", u.custom}});
  j["executable"] = {{"all", unsupported.empty()}, {"unsupported", std::move(unsupported)}};
  const LitertPlacement placement = litert_placement(m);
  json outside = json::array();
  for (const Refusal& r : refusals(m, placement))
    outside.push_back({{"op", r.op}, {"reason", r.reason}, {"indices", r.indices}});
  j["litert_xnnpack"] = {{"operators", placement.ops.size()},
                         {"delegated", placement.delegated},
                         {"runs", placement.runs},
                         {"not_delegated", std::move(outside)}};
  return j;
}

std::string inspect_text(const Model& m, const std::string& label) {
  std::ostringstream s;
  s << label << ": TFLite schema v" << m.version;
  if (!m.description.empty()) s << ", \"" << m.description << "\"";
  if (auto v = m.metadata_string("min_runtime_version")) s << ", min runtime " << *v;
  s << ", " << m.subgraphs.size() << " subgraph" << (m.subgraphs.size() == 1 ? "" : "s") << "\n";
  for (size_t si = 0; si < m.subgraphs.size(); ++si) {
    const Subgraph& sg = m.subgraphs[si];
    const SubgraphStats st = stats_of(m, sg);
    s << "\nsubgraph " << si << (sg.name.empty() ? "" : " '" + sg.name + "'") << ": " << sg.operators.size()
      << " operators, " << sg.tensors.size() << " tensors, " << st.params << " parameters (" << st.param_bytes
      << " bytes)\n";
    auto io = [&](const char* what, const std::vector<int32_t>& list) {
      for (int32_t i : list) {
        const Tensor& t = sg.tensors[i];
        s << "  " << what << " " << i << " '" << t.name << "' " << dtype_name(t.dtype) << shape_str(t.shape)
          << quantization_str(t) << "\n";
      }
    };
    io("input ", sg.inputs);
    io("output", sg.outputs);
    s << "  operators:";
    for (const auto& [name, count] : st.op_counts) s << " " << name << "×" << count;
    s << "\n  tensor types:";
    for (const auto& [name, count] : st.dtype_counts) s << " " << name << "×" << count;
    s << "\n";
    if (!st.custom_ops.empty()) {
      s << "  custom ops:";
      for (const auto& c : st.custom_ops) s << " " << c;
      s << "\n";
    }
  }
  s << "\nwork: " << count_macs(m, 0) / 1e6 << " MMACs per inference (conv, depthwise, FC, transpose-conv)\n";
  const std::vector<UnsupportedOp> missing = find_unsupported_ops(m, KernelRegistry::global());
  if (missing.empty())
    s << "executable by qcal: all operators\n";
  else
    s << "executable by qcal: no: " << describe_unsupported(missing, "this model") << "\n";
  if (!m.subgraphs.empty() && !m.subgraphs[0].operators.empty()) {
    const LitertPlacement placement = litert_placement(m);
    const size_t n = placement.ops.size();
    s << "LiteRT on CPU: XNNPACK takes " << placement.delegated << " of " << n << " operators";
    if (placement.delegated == static_cast<int>(n)) {
      s << " (one delegated graph)\n";
    } else {
      s << " (" << placement.runs << " delegated run" << (placement.runs == 1 ? "" : "s")
        << "); TFLite's builtin kernels run the rest:\n";
      for (const Refusal& r : refusals(m, placement)) {
        s << "  " << r.op << " x" << r.indices.size() << " (op";
        for (size_t k = 0; k < r.indices.size() && k < 8; ++k) s << (k ? ", " : " ") << r.indices[k];
        if (r.indices.size() > 8) s << ", ...";
        s << "): " << r.reason << "\n";
      }
    }
  }
  const WeightFormat w = weight_format(m);
  s << "weights: ";
  if (w.fp16_constants)
    s << w.fp16_constants << " float16 constants (" << w.fp16_dequantized
      << " behind DEQUANTIZE: an fp16-weight model; `qcal quantize --scheme float32` folds them)";
  else if (w.quantized_constants || w.quantized_activations)
    s << w.quantized_constants << " quantized constants, " << w.quantized_activations << " quantized activations";
  else
    s << "float32";
  s << "\n";
  if (w.already_quantized()) s << "already quantized: yes (quantizing it again is refused)\n";
  if (!m.metadata.empty()) {
    s << "metadata:";
    for (const Metadata& e : m.metadata) s << " " << e.name;
    s << "\n";
  }
  for (const SignatureDef& sig : m.signatures)
    s << "signature '" << sig.key << "': " << sig.inputs.size() << " inputs, " << sig.outputs.size()
      << " outputs (subgraph " << sig.subgraph_index << ")\n";
  return s.str();
}

}  // namespace qcal

namespace qcal {

int64_t count_macs(const Model& m, int subgraph) {
  const Subgraph& sg = m.subgraphs.at(subgraph);
  int64_t macs = 0;
  for (const Operator& op : sg.operators) {
    if (op.inputs.size() < 2 || op.outputs.empty()) continue;
    auto shape = [&](int32_t i) -> const Shape& {
      static const Shape kNone;
      return i >= 0 ? sg.tensors[i].shape : kNone;
    };
    const Shape& out = shape(op.outputs[0]);
    using B = tflite::BuiltinOperator;
    const B code = op.builtin();
    if (code == B::CONV_2D) {
      const Shape& w = shape(op.inputs[1]);  // OHWI
      if (w.size() == 4) macs += num_elements(out) * w[1] * w[2] * w[3];
    } else if (code == B::DEPTHWISE_CONV_2D) {
      const Shape& w = shape(op.inputs[1]);  // 1HWC
      if (w.size() == 4) macs += num_elements(out) * w[1] * w[2];
    } else if (code == B::FULLY_CONNECTED) {
      const Shape& w = shape(op.inputs[1]);  // [O, I]
      if (w.size() == 2) macs += num_elements(out) * w[1];
    } else if (code == B::TRANSPOSE_CONV && op.inputs.size() >= 3) {
      const Shape& w = shape(op.inputs[1]);  // OHWI; every input pixel scatters a HxWxO patch
      if (w.size() == 4) macs += num_elements(shape(op.inputs[2])) * w[0] * w[1] * w[2];
    } else if (op.code.is_custom() && op.code.custom == "Convolution2DTransposeBias") {
      const Shape& w = shape(op.inputs[1]);
      if (w.size() == 4) macs += num_elements(shape(op.inputs[0])) * w[0] * w[1] * w[2];
    }
  }
  return macs;
}

}  // namespace qcal
