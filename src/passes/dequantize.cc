// The float32 twin of a quantized model (qcal dequantize): the fake-quant simulation without
// its rounding. Quantized constants hold their real values, quantized activations become
// plain float32 tensors, and the conversions between the two (QUANTIZE, DEQUANTIZE,
// requantizing QUANTIZE) become identities and are dropped. Fused activations, options and
// custom ops are kept; what has no float meaning is refused.
#include <algorithm>
#include <cmath>
#include <optional>
#include <map>
#include <numeric>
#include <set>

#include <flatbuffers/flexbuffers.h>

#include "qcal/error.h"
#include "qcal/op_table.h"
#include "qcal/passes.h"
#include "../rewrite/rewrite_util.h"

namespace qcal {
namespace {

using B = tflite::BuiltinOperator;

bool integer_type(DType d) {
  return d == DType::kInt8 || d == DType::kUInt8 || d == DType::kInt16 || d == DType::kInt32 || d == DType::kInt4 ||
         d == DType::kUInt4 || d == DType::kInt2;
}
bool has_scale(const Tensor& t) { return t.quantization && t.quantization->has_scale(); }
// Still integer with a scale after the constants and activations were converted: a type the
// pass cannot read (int4), a sparse constant, an int32 activation.
bool still_quantized(const Tensor& t) { return integer_type(t.dtype) && has_scale(t); }

std::string op_label(int sg, int i, const Operator& op) {
  return (sg ? "subgraph " + std::to_string(sg) + " " : std::string()) + "operator " + std::to_string(i) + " (" +
         op.code.name() + ")";
}

// Ops whose quantized form has no float twin with the same options: refused up front.
void refuse_untwinnable(const Model& m, int s, const Subgraph& sg) {
  for (size_t i = 0; i < sg.operators.size(); ++i) {
    const Operator& op = sg.operators[i];
    const std::string what = op_label(s, static_cast<int>(i), op);
    bool touches_activation = false;
    for (const auto* list : {&op.inputs, &op.outputs})
      for (int32_t t : *list)
        if (t >= 0 && is_quantized_activation(m, sg.tensors[t])) touches_activation = true;
    for (int32_t t : op.intermediates)
      if (t >= 0 && has_scale(sg.tensors[t]))
        throw Error(what + " keeps its integer gate scales in intermediate tensor '" + sg.tensors[t].name +
                    "' (an integer-only recurrent op): it has no float twin");
    if (op.builtin() == B::CAST && touches_activation)
      throw Error(what + " casts the integer codes of a quantized tensor, not its values: it has no float twin");
    if (op.code.is_custom() && touches_activation && op.code.custom != "TFLite_Detection_PostProcess")
      throw Error(what + " is a custom op on quantized tensors; its float behaviour is unknown, so it has no float twin");
    if (op.builtin() == B::FULLY_CONNECTED)
      if (const auto* o = op.options.AsFullyConnectedOptions();
          o && o->weights_format != tflite::FullyConnectedOptionsWeightsFormat::DEFAULT)
        throw Error(what + " has shuffled int8 weights (weights_format SHUFFLED4x16INT8), which only its integer kernel reads");
  }
}

// The values an op's result can take because of its activation (fused, or the op itself);
// nullopt for ops without one, whose quantized range is only where observed values fell.
std::optional<std::pair<double, double>> activation_bounds(Operator& op) {
  using A = tflite::ActivationFunctionType;
  A a = A::NONE;
  if (const A* f = op.fused_activation()) a = *f;
  switch (op.builtin()) {
    case B::RELU: a = A::RELU; break;
    case B::RELU6: a = A::RELU6; break;
    case B::RELU_N1_TO_1: a = A::RELU_N1_TO_1; break;
    case B::LOGISTIC: case B::SOFTMAX: return std::pair{0.0, 1.0};
    case B::TANH: return std::pair{-1.0, 1.0};
    default: break;
  }
  switch (a) {
    case A::RELU: return std::pair{0.0, HUGE_VAL};
    case A::RELU6: return std::pair{0.0, 6.0};
    case A::RELU_N1_TO_1: return std::pair{-1.0, 1.0};
    default: return std::nullopt;
  }
}

struct Grid {
  double lo = 0, hi = 0, step = 0;
};

// A quantized model saturates every result at its grid's ends; where that clipping is part of
// the function, the twin keeps it. Two cases:
//  * a grid starting at 0 (or spanning [-1, 1]) on an op that takes a fused activation but has
//    none: TOCO drops the fused RELU/RELU6 of uint8 ops whose output range already does the
//    clipping. The twin gets the activation back: RELU6 for a grid ending at 6 (within a step),
//    RELU_N1_TO_1 for [-1, 1], else RELU;
//  * a bounded activation (fused or standalone RELU6, RELU, RELU_N1_TO_1, LOGISTIC, TANH,
//    SOFTMAX) whose grid ends more than a step inside its bound (the learned ranges of
//    quantization-aware training, a RELU clipped at 2.8): a MINIMUM (MAXIMUM) with the grid's end
//    after the op.
// Results without an activation are not clamped: their ranges only record where calibration
// values fell; nor are pools on their input's grid. `map[j]` gets op j's new index.
void keep_activation_clipping(Model& m, Subgraph& sg, const std::vector<std::optional<Grid>>& grid,
                              std::vector<int32_t>& map, DequantizeReport& report) {
  std::vector<Operator> ops;
  map.assign(sg.operators.size(), -1);
  auto clamp_op = [&](B code, int in, double bound, int out) {
    const Tensor like = sg.tensors[out];
    Operator c;
    c.code.builtin = static_cast<int32_t>(code);
    const int k = rewrite::add_tensor_like(sg, like, DType::kFloat32, std::nullopt,
                                           like.name + (code == B::MINIMUM ? "/grid_max" : "/grid_min"));
    sg.tensors[k].shape = {1};
    sg.tensors[k].shape_signature.clear();
    sg.tensors[k].buffer = m.add_buffer(rewrite::bytes_of(std::vector<float>{static_cast<float>(bound)}));
    c.inputs = {in, k};
    c.outputs = {out};
    c.options.Set(tflite::MaximumMinimumOptionsT{});
    ++report.clamps;
    return c;
  };
  for (size_t j = 0; j < sg.operators.size(); ++j) {
    Operator op = std::move(sg.operators[j]);
    map[j] = static_cast<int32_t>(ops.size());
    using A = tflite::ActivationFunctionType;
    // A pool's result lies within its input's values: on the input's grid (or a wider one) it
    // cannot clip what the input did not.
    const bool pool = op.builtin() == B::AVERAGE_POOL_2D || op.builtin() == B::MAX_POOL_2D;
    if (pool && op.inputs.size() == 1 && op.outputs.size() == 1 && op.inputs[0] >= 0 && op.outputs[0] >= 0 &&
        grid[op.inputs[0]] && grid[op.outputs[0]] && grid[op.outputs[0]]->lo <= grid[op.inputs[0]]->lo + 1e-6 &&
        grid[op.outputs[0]]->hi >= grid[op.inputs[0]]->hi - 1e-6) {
      ops.push_back(std::move(op));
      continue;
    }
    // Restored only on ops whose int8 kernels take a fused activation (the op table's list).
    if (A* f = op.fused_activation(); f && *f == A::NONE && op_quant_info(op.code).int8_fused_activation &&
                                      op.outputs.size() == 1 && op.outputs[0] >= 0 && grid[op.outputs[0]]) {
      const Grid g = *grid[op.outputs[0]];
      if (std::abs(g.lo) < 0.5 * g.step) *f = std::abs(g.hi - 6.0) <= g.step ? A::RELU6 : A::RELU;
      else if (std::abs(g.lo + 1.0) <= g.step && std::abs(g.hi - 1.0) <= g.step) *f = A::RELU_N1_TO_1;
      if (*f != A::NONE) ++report.activations_restored;
    }
    const auto bounds = activation_bounds(op);
    std::vector<Operator> after;
    for (int32_t& o : op.outputs) {
      if (!bounds || o < 0 || !grid[o]) continue;
      const Grid g = *grid[o];
      const bool cap = g.hi < bounds->second - g.step, floor = g.lo > bounds->first + g.step;
      if (!cap && !floor) continue;
      const int out = o;
      const Tensor like = sg.tensors[out];
      int cur = o = rewrite::add_tensor_like(sg, like, DType::kFloat32, std::nullopt, like.name + "/unclipped");
      if (floor) {
        const int next = cap ? rewrite::add_tensor_like(sg, like, DType::kFloat32, std::nullopt, like.name + "/floored") : out;
        after.push_back(clamp_op(B::MAXIMUM, cur, g.lo, next));
        cur = next;
      }
      if (cap) after.push_back(clamp_op(B::MINIMUM, cur, g.hi, out));
    }
    ops.push_back(std::move(op));
    for (Operator& c : after) ops.push_back(std::move(c));
  }
  sg.operators = std::move(ops);
}

struct UnionFind {
  std::vector<int> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int x) { return parent[x] == x ? x : parent[x] = find(parent[x]); }
  void unite(int a, int b) { parent[find(a)] = find(b); }
};

// Converts one subgraph in place; `alias[t]` receives the tensor that now stands for t.
void dequantize_subgraph(Model& m, int s, Subgraph& sg, DequantizeReport& report, std::vector<int32_t>& alias,
                         std::vector<int32_t>& op_map) {
  refuse_untwinnable(m, s, sg);
  report.constants += dequantize_constants(m, sg);
  std::vector<std::optional<Grid>> grid(sg.tensors.size());
  for (size_t i = 0; i < sg.tensors.size(); ++i) {
    const Tensor& t = sg.tensors[i];
    if (!is_quantized_activation(m, t) || t.quantization->per_axis()) continue;
    const double step = t.quantization->scale[0];
    const double z = t.quantization->zero_point.empty() ? 0.0 : static_cast<double>(t.quantization->zero_point[0]);
    const double qmin = t.dtype == DType::kInt8 ? -128 : t.dtype == DType::kUInt8 ? 0 : -32768;
    const double qmax = t.dtype == DType::kInt8 ? 127 : t.dtype == DType::kUInt8 ? 255 : 32767;
    grid[i] = Grid{step * (qmin - z), step * (qmax - z), step};
  }
  for (Tensor& t : sg.tensors) {
    if (is_quantized_activation(m, t)) {
      t.dtype = DType::kFloat32;
      ++report.activations;
    }
    if (t.dtype == DType::kFloat32) t.quantization.reset();  // float tensors carry no grid
  }
  std::vector<int32_t> clamp_map;
  keep_activation_clipping(m, sg, grid, clamp_map, report);
  const int n = static_cast<int>(sg.tensors.size());
  // Conversions between two float32 tensors are identities now: each joins its input and
  // output into one tensor. Which one survives: a graph output or signature tensor (callers
  // name it), else a graph input, else the chain's source (the op's own result, named after it).
  std::set<int> io_out(sg.outputs.begin(), sg.outputs.end()), io_in(sg.inputs.begin(), sg.inputs.end());
  for (const SignatureDef& sig : m.signatures)
    if (static_cast<int>(sig.subgraph_index) == s) {
      for (const auto& e : sig.outputs) io_out.insert(static_cast<int>(e.tensor_index));
      for (const auto& e : sig.inputs) io_in.insert(static_cast<int>(e.tensor_index));
    }
  UnionFind sets(n);
  std::set<int> converted;  // outputs of dropped conversions
  std::vector<Operator> kept;
  op_map.assign(sg.operators.size(), -1);
  for (size_t j = 0; j < sg.operators.size(); ++j) {
    Operator& op = sg.operators[j];
    const bool conversion = op.builtin() == B::QUANTIZE || op.builtin() == B::DEQUANTIZE;
    if (conversion && op.inputs.size() == 1 && op.outputs.size() == 1 && op.inputs[0] >= 0 && op.outputs[0] >= 0 &&
        sg.tensors[op.inputs[0]].dtype == DType::kFloat32 && sg.tensors[op.outputs[0]].dtype == DType::kFloat32) {
      sets.unite(op.outputs[0], op.inputs[0]);
      converted.insert(op.outputs[0]);
      ++report.conversions_dropped;
      continue;
    }
    op_map[j] = static_cast<int32_t>(kept.size());
    kept.push_back(std::move(op));
  }
  sg.operators = std::move(kept);
  for (int32_t& k : clamp_map) k = op_map[k];
  op_map = std::move(clamp_map);
  std::map<int, int> rep;  // set root -> surviving tensor
  auto rank = [&](int t) { return io_out.count(t) ? 0 : io_in.count(t) ? 1 : converted.count(t) ? 3 : 2; };
  for (int t = 0; t < n; ++t) {
    const int r = sets.find(t);
    auto it = rep.find(r);
    if (it == rep.end()) rep[r] = t;
    else if (rank(t) < rank(it->second)) it->second = t;
  }
  alias.assign(n, kNoTensor);
  for (int t = 0; t < n; ++t) alias[t] = rep[sets.find(t)];
  auto redirect = [&](int32_t& t) {
    if (t >= 0) t = alias[t];
  };
  for (Operator& op : sg.operators) {
    for (int32_t& t : op.inputs) redirect(t);
    for (int32_t& t : op.outputs) redirect(t);
  }
  for (int32_t& t : sg.inputs) redirect(t);
  for (int32_t& t : sg.outputs) redirect(t);
  for (SignatureDef& sig : m.signatures)
    if (static_cast<int>(sig.subgraph_index) == s) {
      for (auto& e : sig.inputs) e.tensor_index = static_cast<uint32_t>(alias[e.tensor_index]);
      for (auto& e : sig.outputs) e.tensor_index = static_cast<uint32_t>(alias[e.tensor_index]);
    }
  // What is left quantized has no float reading here (a sparse or int4 constant, an int32
  // activation with a scale): refuse rather than write a model that mixes the two.
  for (size_t i = 0; i < sg.operators.size(); ++i) {
    const Operator& op = sg.operators[i];
    for (const auto* list : {&op.inputs, &op.outputs})
      for (int32_t t : *list)
        if (t >= 0 && still_quantized(sg.tensors[t]))
          throw Error(op_label(s, static_cast<int>(i), op) + " uses tensor '" + sg.tensors[t].name + "' (" +
                      dtype_name(sg.tensors[t].dtype) + (sg.tensors[t].sparsity ? ", sparse" : "") +
                      ", quantized), which qcal cannot turn into float32");
  }
}

}  // namespace

int set_detection_output_shapes(Model& m) {
  int n = 0;
  for (Subgraph& sg : m.subgraphs)
    for (const Operator& op : sg.operators) {
      if (!op.code.is_custom() || op.code.custom != "TFLite_Detection_PostProcess" || op.outputs.size() != 4) continue;
      const std::vector<uint8_t>& opt = op.custom_options;
      if (opt.empty() || !flexbuffers::VerifyBuffer(opt.data(), opt.size())) continue;  // the kernel says what is wrong
      const flexbuffers::Reference root = flexbuffers::GetRoot(opt.data(), opt.size());
      if (!root.IsMap()) continue;
      const flexbuffers::Map o = root.AsMap();
      const int32_t per = o["max_classes_per_detection"].IsNull() ? 1 : o["max_classes_per_detection"].AsInt32();
      const int32_t d = o["max_detections"].AsInt32() * per;
      const Shape shapes[4] = {{1, d, 4}, {1, d}, {1, d}, {1}};
      for (int i = 0; i < 4; ++i) {
        if (op.outputs[i] < 0) continue;
        Tensor& t = sg.tensors[op.outputs[i]];
        if (!t.shape.empty()) continue;
        t.shape = shapes[i];
        ++n;
      }
    }
  return n;
}

bool is_quantized_activation(const Model& m, const Tensor& t) {
  const bool int_type = t.dtype == DType::kInt8 || t.dtype == DType::kUInt8 || t.dtype == DType::kInt16;
  return int_type && has_scale(t) && !m.data_of(t);
}

int dequantize_constants(Model& m, Subgraph& sg) {
  int n = 0;
  for (Tensor& x : sg.tensors) {
    const bool int_type = x.dtype == DType::kInt8 || x.dtype == DType::kUInt8 || x.dtype == DType::kInt16 ||
                          x.dtype == DType::kInt32;
    if (!int_type || !has_scale(x) || !m.data_of(x) || x.sparsity) continue;
    const std::vector<float> v = constant_as_float(m, x);
    x.buffer = m.add_buffer(rewrite::bytes_of(v));
    x.dtype = DType::kFloat32;
    x.quantization.reset();
    ++n;
  }
  return n;
}

Model dequantize_model(const Model& quantized, DequantizeReport* report_out) {
  Model m = quantized;
  DequantizeReport report;
  report.shapes_set = set_detection_output_shapes(m);
  std::vector<std::vector<int32_t>> alias(m.subgraphs.size());
  report.op_map.resize(m.subgraphs.size());
  for (size_t s = 0; s < m.subgraphs.size(); ++s)
    dequantize_subgraph(m, static_cast<int>(s), m.subgraphs[s], report, alias[s], report.op_map[s]);
  if (report.constants == 0 && report.activations == 0)
    throw Error("the model has no quantized tensors: it is already float (fp16 weights: qcal quantize --scheme float32)");
  // The tensor map of a qcal-quantized model names the quantized model's tensors.
  std::erase_if(m.metadata, [](const Metadata& md) { return md.name == "qcal_quantization"; });
  std::vector<std::vector<int32_t>> remap;
  prune_unused(m, &remap);
  report.tensor_map.resize(m.subgraphs.size());
  for (size_t s = 0; s < m.subgraphs.size(); ++s) {
    report.tensor_map[s].resize(alias[s].size(), kNoTensor);
    for (size_t t = 0; t < alias[s].size(); ++t) report.tensor_map[s][t] = remap[s][alias[s][t]];
  }
  if (report_out) *report_out = std::move(report);
  return m;
}

}  // namespace qcal
