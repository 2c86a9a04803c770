// Weight-only rewrites (float32, fp16, dynamic range) and what every rewrite shares.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "qcal/error.h"
#include "qcal/json_read.h"
#include "qcal/inspect.h"
#include "qcal/op_table.h"
#include "qcal/passes.h"
#include "qcal/quantize.h"
#include "rewrite_util.h"

namespace qcal {

namespace rewrite {

namespace {

// Re-rounds a few weights per channel so that the channel's integer weights sum to the
// rounded sum of its real ones: the channel's response to a constant input (an input's
// mean) then stays what the float weights give. Rounding errors cancel only on average; a
// 3x3 depthwise kernel has 9 of them, and reading an input whose mean is large against its
// variation (MobileNet v1) turns their sum into a bias. Flips the weights whose rounding
// was closest to the other way, so each moves by less than one step.
template <typename ChannelOf>
void keep_sums(const std::vector<float>& w, int64_t channels, ChannelOf channel_of, SymmetricWeights& q) {
  std::vector<std::vector<size_t>> members(static_cast<size_t>(channels));
  for (size_t i = 0; i < w.size(); ++i) members[channel_of(i)].push_back(i);
  for (int64_t c = 0; c < channels; ++c) {
    std::vector<size_t>& idx = members[c];
    double real = 0, integer = 0;
    for (size_t i : idx) real += w[i] / q.scales[c], integer += q.values[i];
    int64_t need = std::llround(real - integer);
    if (need == 0) continue;
    const int step = need > 0 ? 1 : -1;
    // Most rounded-away-from-the-needed-direction first: residual (real - integer) x step.
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
      return (w[a] / q.scales[c] - q.values[a]) * step > (w[b] / q.scales[c] - q.values[b]) * step;
    });
    for (size_t k = 0; k < idx.size() && need != 0; ++k) {
      const int v = q.values[idx[k]] + step;
      if (v < -127 || v > 127) continue;
      q.values[idx[k]] = static_cast<int8_t>(v);
      need -= step;
    }
  }
}

}  // namespace

SymmetricWeights quantize_symmetric(const std::vector<float>& w, const Shape& shape, int axis, bool keep_channel_sums,
                                    const std::vector<float>& min_scales) {
  SymmetricWeights q;
  q.axis = axis;
  const int64_t channels = axis < 0 ? 1 : shape.at(axis);
  int64_t inner = 1;
  if (axis >= 0)
    for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  auto channel = [&](size_t i) { return axis < 0 ? 0 : static_cast<int64_t>(i / inner) % channels; };
  std::vector<float> absmax(channels, 0.0f);
  for (size_t i = 0; i < w.size(); ++i) absmax[channel(i)] = std::max(absmax[channel(i)], std::abs(w[i]));
  // An all-zero channel is exact at any scale: it takes the largest other channel's, so its
  // requantization scale (input x weight / output) stays in line with theirs.
  const float widest = absmax.empty() ? 0.0f : *std::max_element(absmax.begin(), absmax.end());
  q.scales.resize(channels);
  for (int64_t c = 0; c < channels; ++c) {
    q.scales[c] = absmax[c] > 0 ? absmax[c] / 127.0f : widest > 0 ? widest / 127.0f : 1.0f;
    if (static_cast<size_t>(c) < min_scales.size() && min_scales[c] > q.scales[c]) {
      q.scales[c] = min_scales[c];
      ++q.raised_to_floor;
    }
  }
  q.values.resize(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    const float v = std::round(w[i] / q.scales[channel(i)]);
    q.values[i] = static_cast<int8_t>(std::clamp(v, -127.0f, 127.0f));
  }
  if (keep_channel_sums && axis >= 0) keep_sums(w, channels, channel, q);
  return q;
}

Quantization per_tensor(float scale, int32_t zero_point) {
  Quantization q;
  q.scale = {scale};
  q.zero_point = {zero_point};
  return q;
}

int add_tensor_like(Subgraph& sg, const Tensor& like, DType dtype, std::optional<Quantization> q, const std::string& name) {
  Tensor t;
  t.name = name;
  t.shape = like.shape;
  t.shape_signature = like.shape_signature;
  t.has_rank = like.has_rank;
  t.dtype = dtype;
  t.quantization = std::move(q);
  sg.tensors.push_back(std::move(t));
  return static_cast<int>(sg.tensors.size() - 1);
}

int add_int32_constant(Model& model, Subgraph& sg, const std::string& name, const std::vector<int32_t>& values) {
  Tensor t;
  t.name = name;
  t.shape = {static_cast<int32_t>(values.size())};
  t.dtype = DType::kInt32;
  t.buffer = model.add_buffer(bytes_of(values));
  sg.tensors.push_back(std::move(t));
  return static_cast<int>(sg.tensors.size() - 1);
}

int add_weight_tensor(Model& model, Subgraph& sg, const Tensor& like, const SymmetricWeights& w) {
  Quantization q;
  q.scale = w.scales;
  q.zero_point.assign(w.scales.size(), 0);
  q.quantized_dimension = w.axis < 0 ? 0 : w.axis;
  const int t = add_tensor_like(sg, like, DType::kInt8, q, like.name);
  sg.tensors[t].buffer = model.add_buffer(bytes_of(w.values));
  return t;
}

Operator conversion_op(tflite::BuiltinOperator code, int32_t in, int32_t out, int version) {
  Operator op;
  op.code.builtin = static_cast<int32_t>(code);
  op.code.version = version;
  op.inputs = {in};
  op.outputs = {out};
  return op;
}

int64_t constant_bytes(const Model& model) {
  std::set<uint32_t> seen;
  int64_t bytes = 0;
  for (const Subgraph& sg : model.subgraphs)
    for (const Tensor& t : sg.tensors)
      if (const Buffer* b = model.data_of(t); b && seen.insert(t.buffer).second) bytes += static_cast<int64_t>(b->data.size());
  return bytes;
}

void set_metadata(Model& model, const std::string& name, const std::string& text) {
  std::vector<uint8_t> bytes(text.begin(), text.end());
  for (Metadata& m : model.metadata)
    if (m.name == name) {
      m.buffer = model.add_buffer(std::move(bytes));
      return;
    }
  model.metadata.push_back({name, model.add_buffer(std::move(bytes))});
}

}  // namespace rewrite

using namespace rewrite;
using B = tflite::BuiltinOperator;

QuantParams asymmetric_params(double min, double max, int32_t qmin, int32_t qmax) {
  // TFLite's GetAsymmetricQuantizationParams: the range must hold 0; the zero point is
  // rounded so that 0 is represented exactly.
  min = std::min(min, 0.0);
  max = std::max(max, 0.0);
  QuantParams p;
  const double scale = (max - min) / (qmax - qmin);
  if (!(scale > 0) || !std::isfinite(scale)) return {1.0f / 256, qmin};  // an all-zero tensor
  p.scale = static_cast<float>(scale);
  const double zp = std::clamp(qmin - min / p.scale, static_cast<double>(qmin), static_cast<double>(qmax));
  p.zero_point = static_cast<int32_t>(std::round(zp));
  return p;
}

nlohmann::json QuantizeSummary::to_json() const {
  nlohmann::json kept = nlohmann::json::array();
  for (const KeptFloat& k : kept_float)
    kept.push_back({{"op", k.op}, {"op_name", k.op_name}, {"tensor", k.tensor}, {"reason", k.reason}});
  nlohmann::json map = nlohmann::json::array();
  for (const auto& [q, f] : tensor_map) map.push_back({q, f});
  nlohmann::json scales = nlohmann::json::array();
  for (const auto& [q, factors] : channel_scales) scales.push_back({q, factors});
  return {{"scheme", scheme},
          {"quantized_ops", quantized_ops},
          {"kept_float", kept},
          {"quantize_ops_added", quantize_ops_added},
          {"dequantize_ops_added", dequantize_ops_added},
          {"bias_corrected", bias_corrected},
          {"rounding_corrected", rounding_corrected},
          {"equalized_pairs", equalized_pairs},
          {"fused_activations", fused_activations},
          {"weight_bytes_before", weight_bytes_before},
          {"weight_bytes_after", weight_bytes_after},
          {"notes", notes},
          {"tensor_map", map},
          {"channel_scales", scales}};
}

TensorRanges ranges_from_calibration(const CalibrationData& c, const std::string& method, const CalibratorOptions& options) {
  if (c.subgraph != 0) throw Error("the calibration covers subgraph " + std::to_string(c.subgraph) + "; int8 rewrites need subgraph 0");
  TensorRanges ranges;
  for (const auto& [t, stats] : c.tensors) ranges[t] = calibrate(stats, method, options);
  return ranges;
}

TensorRanges ranges_from_calibration(const CalibrationData& c, const std::string& method, const CalibratorOptions& options,
                                     const Model& float_model) {
  TensorRanges ranges = ranges_from_calibration(c, method, options);
  if (float_model.subgraphs.empty()) return ranges;
  for (int32_t t : float_model.subgraphs[0].outputs)
    if (auto it = c.tensors.find(t); it != c.tensors.end()) ranges[t] = calibrate(it->second, "minmax", options);
  return ranges;
}

constexpr const char* kRecordName = "qcal_quantization";

void set_quantization_record(Model& model, const nlohmann::json& record) { set_metadata(model, kRecordName, json_text(record)); }

std::optional<nlohmann::json> quantization_record(const Model& model) {
  const std::optional<std::string> text = model.metadata_string(kRecordName);
  if (!text) return std::nullopt;
  try {
    return nlohmann::json::parse(*text);
  } catch (const nlohmann::json::exception&) {
    throw Error(std::string("metadata '") + kRecordName + "' is not valid JSON");
  }
}

void check_float_model(const Model& model, const std::string& label) {
  for (const Subgraph& sg : model.subgraphs)
    for (const Tensor& t : sg.tensors) {
      const bool integer = t.dtype == DType::kInt8 || t.dtype == DType::kUInt8 || t.dtype == DType::kInt16;
      if (integer && t.quantization && t.quantization->has_scale())
        throw Error(label + ": already quantized (tensor '" + t.name + "' is " + dtype_name(t.dtype) +
                    " with quantization parameters); qcal quantizes float models only - start from the float .tflite");
    }
}

Model quantize_float32(const Model& float_model, QuantizeSummary& summary) {
  Model m = float_model;
  summary.scheme = "float32";
  summary.weight_bytes_before = constant_bytes(m);
  fold_constant_dequantize(m);
  summary.weight_bytes_after = constant_bytes(m);
  return m;
}

// fp16: every float32 constant an op reads becomes a float16 constant behind a DEQUANTIZE
// (TFLite's convention; the runtime dequantizes once at load time). The DEQUANTIZE writes
// the original tensor, so the ops themselves are untouched.
Model quantize_fp16(const Model& float_model, QuantizeSummary& summary) {
  check_float_model(float_model, "model");
  Model m = float_model;
  summary.scheme = "fp16";
  summary.weight_bytes_before = constant_bytes(m);
  fold_constant_dequantize(m);
  for (Subgraph& sg : m.subgraphs) {
    std::vector<Operator> dequantize_ops;
    std::set<int32_t> done;
    for (const Operator& op : sg.operators)
      for (int32_t t : op.inputs) {
        if (t < 0 || done.count(t)) continue;
        const Tensor& w = sg.tensors[t];
        const Buffer* data = m.data_of(w);
        if (w.dtype != DType::kFloat32 || !data) continue;
        done.insert(t);
        const size_t n = data->data.size() / 4;
        std::vector<float> v(n);
        std::memcpy(v.data(), data->data.data(), n * 4);
        if (std::any_of(v.begin(), v.end(), [](float x) { return std::isfinite(x) && std::abs(x) > 65504.0f; })) {
          summary.notes.push_back("'" + w.name + "' stays float32: values beyond float16's range (65504)");
          continue;
        }
        std::vector<Eigen::half> h(n);
        for (size_t i = 0; i < n; ++i) h[i] = Eigen::half(v[i]);
        const int ht = add_tensor_like(sg, w, DType::kFloat16, std::nullopt, w.name + "_fp16");
        sg.tensors[ht].buffer = m.add_buffer(bytes_of(h));
        sg.tensors[t].buffer = 0;  // now computed by the DEQUANTIZE
        dequantize_ops.push_back(conversion_op(B::DEQUANTIZE, ht, t, 3));
      }
    summary.dequantize_ops_added += static_cast<int>(dequantize_ops.size());
    sg.operators.insert(sg.operators.begin(), dequantize_ops.begin(), dequantize_ops.end());
  }
  prune_unused(m);
  summary.weight_bytes_after = constant_bytes(m);
  return m;
}

// dynamic range: conv/depthwise/FC weights become int8 (symmetric; per channel for conv
// and depthwise, per tensor for FC, as the runtime's hybrid kernels expect); activations
// and biases stay float32. Small weights stay float (TFLite's default threshold).
Model quantize_dynamic(const Model& float_model, const QuantizeOptions& options, QuantizeSummary& summary) {
  check_float_model(float_model, "model");
  Model m = float_model;
  summary.scheme = "dynamic";
  summary.weight_bytes_before = constant_bytes(m);
  fold_constant_dequantize(m);
  for (Subgraph& sg : m.subgraphs) {
    std::map<int32_t, int32_t> quantized;  // float weight tensor -> int8 tensor
    for (size_t oi = 0; oi < sg.operators.size(); ++oi) {
      Operator& op = sg.operators[oi];
      const B code = op.builtin();
      if (code != B::CONV_2D && code != B::DEPTHWISE_CONV_2D && code != B::FULLY_CONNECTED) continue;
      const OpQuantInfo& info = op_quant_info(op.code);
      const int32_t wt = op.inputs.size() > static_cast<size_t>(info.weights) ? op.inputs[info.weights] : -1;
      if (wt < 0) continue;
      const Tensor& w = sg.tensors[wt];
      if (w.dtype != DType::kFloat32 || !m.data_of(w)) continue;
      if (num_elements(w.shape) < options.dynamic_min_elements) {
        summary.kept_float.push_back({static_cast<int>(oi), op.code.name(), w.name,
                                      "weights have fewer than " + std::to_string(options.dynamic_min_elements) + " elements"});
        continue;
      }
      if (!quantized.count(wt)) {
        const int axis = code == B::FULLY_CONNECTED || (options.per_tensor && code == B::CONV_2D) ? -1 : info.weights_axis;
        const Tensor copy = w;  // add_weight_tensor may reallocate sg.tensors
        quantized[wt] = add_weight_tensor(m, sg, copy, quantize_symmetric(constant_as_float(m, copy), copy.shape, axis));
      }
      op.inputs[info.weights] = quantized[wt];
      ++summary.quantized_ops;
    }
  }
  prune_unused(m);
  summary.weight_bytes_after = constant_bytes(m);
  return m;
}

}  // namespace qcal
