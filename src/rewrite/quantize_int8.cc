// Full-integer int8 rewrite (TFLite's int8 quantization spec).
//
// 1. Decide, op by op, int8 or float: the op table (qcal/op_table.h) says which ops have
//    int8 kernels; custom ops, ops without calibrated ranges and what --keep-float names
//    stay float.
// 2. Resolve quantization parameters: ops that must keep one scale (pools, concatenation,
//    reshape, pad, resize, ...) tie their tensors into groups; a group takes the union of
//    its members' calibrated ranges, or the fixed range an op demands (LOGISTIC, SOFTMAX,
//    ...), so every constraint holds by construction.
// 3. Rebuild the operator list: int8 ops read int8 versions of their inputs (QUANTIZE
//    inserted where the producer is float), float ops read float versions (DEQUANTIZE
//    inserted where the producer is int8); weights become symmetric int8 per channel and
//    biases int32 with scale input x weight.
// 4. Fold RELU/RELU6/RELU_N1_TO_1 ops into the int8 op before them (fuse_activations.cc):
//    LiteRT's XNNPACK delegate takes no standalone int8 RELU.
// Tensor indices of the original model are kept until a final prune, so the float model's
// calibration statistics and the tensor map refer to the same tensors.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <regex>
#include <set>

#include "qcal/error.h"
#include "qcal/op_table.h"
#include "qcal/passes.h"
#include "qcal/quantize.h"
#include "rewrite_util.h"

namespace qcal {
namespace {

using namespace rewrite;
using B = tflite::BuiltinOperator;

// --keep-float rules.
class KeepFloatRules {
 public:
  explicit KeepFloatRules(const std::vector<std::string>& rules) {
    for (const std::string& r : rules) {
      Rule rule;
      rule.text = r;
      std::string s = r;
      if (!s.empty() && s[0] == '#') s = s.substr(1);
      if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)) {
        rule.kind = Rule::kIndex;
        rule.index = std::stoi(s);
      } else if (r.rfind("re:", 0) == 0) {
        rule.kind = Rule::kRegex;
        try {
          rule.re = std::regex(r.substr(3));
        } catch (const std::regex_error& e) {
          throw Error("--keep-float '" + r + "': not a valid regular expression (" + e.what() + ")");
        }
      } else {
        rule.kind = Rule::kName;  // an op type or a tensor name
      }
      rules_.push_back(std::move(rule));
    }
    used_.assign(rules_.size(), false);
  }

  // The first rule naming op `index`, or nullptr.
  const std::string* match(int index, const Operator& op, const Subgraph& sg) {
    for (size_t k = 0; k < rules_.size(); ++k) {
      const Rule& r = rules_[k];
      bool hit = false;
      switch (r.kind) {
        case Rule::kIndex: hit = r.index == index; break;
        case Rule::kName:
          hit = op.code.name() == r.text;
          for (int32_t t : op.outputs) hit = hit || (t >= 0 && sg.tensors[t].name == r.text);
          break;
        case Rule::kRegex:
          for (int32_t t : op.outputs) hit = hit || (t >= 0 && std::regex_search(sg.tensors[t].name, r.re));
          break;
      }
      if (hit) {
        used_[k] = true;
        return &r.text;
      }
    }
    return nullptr;
  }

  // A rule that matched nothing is almost always a typo: say so rather than ignore it.
  void check_all_used() const {
    for (size_t k = 0; k < rules_.size(); ++k)
      if (!used_[k])
        throw Error("--keep-float '" + rules_[k].text +
                    "' matches no op (give an op index, an op type such as LOGISTIC, an output tensor name, or "
                    "re:REGEX over output tensor names)");
  }

 private:
  struct Rule {
    enum Kind { kIndex, kName, kRegex } kind = kName;
    std::string text;
    int index = -1;
    std::regex re;
  };
  std::vector<Rule> rules_;
  std::vector<bool> used_;
};

struct UnionFind {
  std::vector<int> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int x) { return parent[x] == x ? x : parent[x] = find(parent[x]); }
  void unite(int a, int b) { parent[find(a)] = find(b); }
};

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// A producer/consumer pair channel equalization may rescale (see equalization_tensors),
// by operator index in subgraph 0 of a model whose weights are float constants.
struct EqualizablePair {
  int producer = -1, consumer = -1;
  int relu = -1;             // a RELU op between them, or -1
  std::vector<int> tensors;  // the producer's output (and the RELU's): what gets rescaled
};

std::vector<EqualizablePair> equalizable_pairs(const Model& m) {
  const Subgraph& sg = m.subgraphs.at(0);
  const size_t n = sg.tensors.size();
  std::vector<int> uses(n, 0), reader(n, -1);
  for (size_t oi = 0; oi < sg.operators.size(); ++oi)
    for (int32_t t : sg.operators[oi].inputs)
      if (t >= 0) ++uses[t], reader[t] = static_cast<int>(oi);
  for (int32_t t : sg.outputs)
    if (t >= 0) ++uses[t];
  // A float constant only this op reads, so rescaling it changes nothing else.
  auto own_float_constant = [&](int t) {
    return t >= 0 && sg.tensors[t].dtype == DType::kFloat32 && m.data_of(sg.tensors[t]) != nullptr && uses[t] == 1;
  };
  auto linear_or_relu = [](const Operator& op) {
    using A = tflite::ActivationFunctionType;
    const A* a = op.fused_activation();
    return a && (*a == A::NONE || *a == A::RELU);  // y(x / s) = y(x) / s for s > 0
  };
  std::vector<EqualizablePair> pairs;
  for (size_t oi = 0; oi < sg.operators.size(); ++oi) {
    const Operator& p = sg.operators[oi];
    const bool depthwise = p.builtin() == B::DEPTHWISE_CONV_2D;
    if ((p.builtin() != B::CONV_2D && !depthwise) || p.inputs.size() < 2 || p.outputs.size() != 1 || !linear_or_relu(p)) continue;
    const int out = p.outputs[0];
    if (out < 0 || uses[out] != 1 || reader[out] < 0 || sg.tensors[out].shape.size() != 4) continue;
    const int channels = sg.tensors[out].shape[3];
    const int w = p.inputs[1];
    if (!own_float_constant(w) || sg.tensors[w].shape.size() != 4 || sg.tensors[w].shape[depthwise ? 3 : 0] != channels) continue;
    if (p.inputs.size() > 2 && p.inputs[2] >= 0 && !own_float_constant(p.inputs[2])) continue;
    EqualizablePair pair{static_cast<int>(oi), reader[out], -1, {out}};
    if (const Operator& r = sg.operators[reader[out]]; r.builtin() == B::RELU && r.outputs.size() == 1) {
      const int relu_out = r.outputs[0];  // RELU(x / s) = RELU(x) / s: look through it
      if (relu_out < 0 || uses[relu_out] != 1 || reader[relu_out] < 0) continue;
      pair.relu = pair.consumer;
      pair.consumer = reader[relu_out];
      pair.tensors.push_back(relu_out);
    }
    // The consumer: CONV_2D weights [O, kh, kw, C], DEPTHWISE_CONV_2D (one output channel
    // per input channel) [1, kh, kw, C]: input channel c is the last axis either way.
    const Operator& q = sg.operators[pair.consumer];
    const bool conv = q.builtin() == B::CONV_2D;
    const auto* qd = q.options.AsDepthwiseConv2DOptions();
    if ((!conv && !(qd && q.builtin() == B::DEPTHWISE_CONV_2D && qd->depth_multiplier == 1)) || q.inputs.size() < 2 ||
        q.inputs[0] != pair.tensors.back())
      continue;
    const int wq = q.inputs[1];
    if (!own_float_constant(wq) || sg.tensors[wq].shape.size() != 4 || sg.tensors[wq].shape[3] != channels) continue;
    pairs.push_back(std::move(pair));
  }
  return pairs;
}

class Int8Rewriter {
 public:
  Int8Rewriter(const Model& float_model, const TensorRanges& ranges, const QuantizeOptions& options, QuantizeSummary& summary)
      : m_(float_model), ranges_(ranges), opt_(options), sum_(summary) {}  // copies: both are rewritten

  Model run() {
    sum_.scheme = "int8";
    sum_.weight_bytes_before = constant_bytes(m_);
    const std::vector<Operator> original_ops = m_.subgraphs.at(0).operators;
    fold_constant_dequantize(m_, /*prune=*/false);  // tensor indices stay those of the float model
    sg_ = &m_.subgraphs.at(0);
    // Folding removed constant DEQUANTIZE ops; users name ops by their index in the model
    // they gave (as qcal inspect shows it). Each op writes its own outputs, so match on them.
    for (size_t j = 0; const Operator& op : sg_->operators) {
      while (j < original_ops.size() && original_ops[j].outputs != op.outputs) ++j;
      original_index_.push_back(static_cast<int>(j++));
    }
    global_pools_as_mean();
    n_ = static_cast<int>(sg_->tensors.size());
    for (int t = 0; t < n_; ++t) float_act_.push_back(tensor(t).dtype == DType::kFloat32 && !constant(t));
    producer_.assign(n_, -1);  // the op list is final from here on (rebuild re-emits it in order)
    for (size_t oi = 0; oi < sg_->operators.size(); ++oi)
      for (int32_t t : sg_->operators[oi].outputs)
        if (t >= 0 && t < n_) producer_[t] = static_cast<int>(oi);
    decide_ops();
    equalize_channels();
    resolve_parameters();
    rebuild();
    finish();
    return std::move(m_);
  }

 private:
  Subgraph& sg() { return *sg_; }
  const Tensor& tensor(int t) const { return sg_->tensors[t]; }
  bool constant(int t) const { return m_.data_of(sg_->tensors[t]) != nullptr; }
  // A float32 activation of the float model (the rewrite changes dtypes in place).
  bool float_activation(int t) const { return t >= 0 && t < n_ && float_act_[t]; }

  // How many op inputs read each of the float model's tensors.
  std::vector<int> reader_counts(const std::vector<Operator>& ops) const {
    std::vector<int> readers(n_, 0);
    for (const Operator& op : ops)
      for (int32_t t : op.inputs)
        if (t >= 0 && t < n_) ++readers[t];
    return readers;
  }

  // Input slots of an int8 op that carry quantized activations (or constants quantized
  // like them): everything but weights, bias and the inputs the table keeps as they are.
  bool data_slot(const OpQuantInfo& info, int slot) const {
    return slot != info.weights && slot != info.bias && !contains(info.float_inputs, slot);
  }

  // Every activation input is written by an op that stays float (no graph input, no
  // constant, no int8 op among them). Called in op order, so the producers are decided.
  bool fed_by_float_ops(const Operator& op, const OpQuantInfo& info) const {
    bool any = false;
    for (size_t s = 0; s < op.inputs.size(); ++s) {
      const int t = op.inputs[s];
      if (t < 0 || !data_slot(info, static_cast<int>(s))) continue;
      if (constant(t) || tensor(t).dtype != DType::kFloat32) return false;
      if (producer_[t] < 0 || int8_op_[producer_[t]]) return false;
      any = true;
    }
    return any;
  }

  bool is_graph_output(const Operator& op) const {
    for (int32_t t : op.outputs)
      if (t < 0 || std::find(sg_->outputs.begin(), sg_->outputs.end(), t) == sg_->outputs.end()) return false;
    return !op.outputs.empty();
  }

  void keep_float(int oi, const std::string& reason) {
    const Operator& op = sg().operators[oi];
    const std::string out = !op.outputs.empty() && op.outputs[0] >= 0 ? tensor(op.outputs[0]).name : "";
    sum_.kept_float.push_back({original_index_[oi], op.code.name(), out, reason});
  }

  // int8 AVERAGE_POOL_2D must keep its input's scale (TFLite's kernel does not rescale).
  // For a pool over the whole image (a squeeze-excite block's or a classifier head's global
  // average) that is costly: the mean of a feature map spans a small part of the map's
  // range, so it gets a handful of levels (selfie_segmentation: isolated SQNR 16-19 dB).
  // MEAN over H and W computes the same average in float and has its own output scale.
  void global_pools_as_mean() {
    KeepFloatRules rules(opt_.keep_float);  // an op the user keeps float stays what it was
    for (size_t oi = 0; oi < sg().operators.size(); ++oi) {
      Operator& op = sg().operators[oi];
      if (op.builtin() != B::AVERAGE_POOL_2D || op.inputs.empty() || op.outputs.empty()) continue;
      const auto* o = op.options.AsPool2DOptions();
      const int in = op.inputs[0], out = op.outputs[0];
      if (!o || in < 0 || out < 0 || tensor(in).dtype != DType::kFloat32 || !ranges_.count(out)) continue;
      const Shape& is = tensor(in).shape;
      const Shape& os = tensor(out).shape;
      if (is.size() != 4 || os.size() != 4 || os[1] != 1 || os[2] != 1 || o->filter_height != is[1] ||
          o->filter_width != is[2] || o->fused_activation_function != tflite::ActivationFunctionType::NONE)
        continue;
      if (rules.match(original_index_[oi], op, sg())) continue;
      const int axes = add_int32_constant(m_, sg(), tensor(out).name + "/mean_axes", {1, 2});
      op.code = OpCode{static_cast<int32_t>(B::MEAN), "", 1};
      op.inputs = {in, axes};
      tflite::ReducerOptionsT reducer;
      reducer.keep_dims = true;
      op.options.Set(std::move(reducer));
      sum_.notes.push_back("op " + std::to_string(original_index_[oi]) + " AVERAGE_POOL_2D '" + tensor(out).name +
                           "' covers the whole image: written as MEAN over H and W, which gets its own output scale "
                           "(int8 AVERAGE_POOL_2D keeps its input's)");
    }
  }

  void decide_ops() {
    KeepFloatRules rules(opt_.keep_float);
    const auto& ops = sg().operators;
    int8_op_.assign(ops.size(), false);
    for (size_t oi = 0; oi < ops.size(); ++oi) {
      const Operator& op = ops[oi];
      const OpQuantInfo& info = op_quant_info(op.code);
      const B code = op.builtin();
      if (code == B::QUANTIZE || code == B::DEQUANTIZE) continue;  // conversions stay as they are
      if (const std::string* rule = rules.match(original_index_[oi], op, sg())) {
        keep_float(oi, "--keep-float " + *rule);
        continue;
      }
      if (!info.int8) {
        keep_float(oi, op.code.is_custom() ? "custom op: runs in float behind DEQUANTIZE (as TFLite does)" : info.note);
        continue;
      }
      if (info.float_in_litert && !opt_.all_int8) {
        keep_float(oi, info.float_in_litert);
        continue;
      }
      // A sigmoid/softmax/tanh whose output is a model output: its int8 form has a fixed step
      // of 1/256 (or 1/128), so a probability of 0.0005 becomes 0 - a large relative error on
      // every score near 0. With float model outputs nothing is gained by running it in int8.
      if (info.fixed_output && opt_.io == IoType::kFloat && is_graph_output(op)) {
        keep_float(oi, "model output with a fixed int8 range (steps of " +
                           std::to_string(info.fixed_output->scale).substr(0, 8) +
                           "): float keeps small probabilities (--io int8 quantizes it)");
        continue;
      }
      // With integer model outputs, the same op fed only by float ops (a custom op's logits):
      // quantizing it would round its input to an int8 grid first, and a mask's edge where
      // the logits are near 0 moves (selfie_segmentation: mask agreement 97.2% -> 93.2%).
      // In float, then one QUANTIZE to its fixed output grid, it costs only that rounding.
      if (info.fixed_output && opt_.io != IoType::kFloat && is_graph_output(op) && fed_by_float_ops(op, info)) {
        keep_float(oi, "model output with a fixed int8 range, fed by float ops: computed in float, then rounded once "
                       "to the int8 output");
        float_then_quantize_.insert(static_cast<int>(oi));
        continue;
      }
      std::string why;
      bool any_float = false;
      for (size_t s = 0; s < op.inputs.size() && why.empty(); ++s) {
        const int t = op.inputs[s];
        if (t < 0) continue;
        const int slot = static_cast<int>(s);
        if (slot == info.weights || slot == info.bias) {
          if (tensor(t).dtype != DType::kFloat32 || !constant(t)) why = "its weights/bias '" + tensor(t).name + "' are not float constants";
          continue;
        }
        if (!data_slot(info, slot) || tensor(t).dtype != DType::kFloat32) continue;
        any_float = true;
        if (!constant(t) && !ranges_.count(t)) why = "no calibration statistics for its input '" + tensor(t).name + "'";
      }
      for (int32_t t : op.outputs) {
        if (t < 0 || tensor(t).dtype != DType::kFloat32) continue;
        any_float = true;
        if (why.empty() && !ranges_.count(t) && !info.fixed_output && !info.same_scale)
          why = "no calibration statistics for its output '" + tensor(t).name + "'";
      }
      if (!any_float) continue;  // an integer op (shapes, indices): nothing to quantize
      if (!why.empty()) {
        keep_float(oi, why);
        continue;
      }
      int8_op_[oi] = true;
      ++sum_.quantized_ops;
    }
    rules.check_all_used();
  }

  // Channel equalization of DEPTHWISE/CONV -> CONV pairs (see equalization_tensors). Scale
  // per channel, after cross-layer equalization (Nagel et al., "Data-Free Quantization"),
  // with the observed activation range r_c in place of the producer's weight range:
  // s_c = sqrt(r_c / w_c), w_c = the consumer's largest |weight| on input channel c, so that
  // channel c's activation range r_c / s_c and its weight range w_c * s_c become equal.
  // The producer's weights are per channel in int8 anyway, so dividing them costs nothing.
  void equalize_channels() {
    if (!opt_.equalize) return;
    int done = 0, missing = 0;
    double spread_before = 0, spread_after = 0;
    for (const EqualizablePair& p : equalizable_pairs(m_)) {
      if (!int8_op_[p.producer] || !int8_op_[p.consumer] || (p.relu >= 0 && !int8_op_[p.relu])) continue;
      const size_t channels = static_cast<size_t>(tensor(p.tensors[0]).shape[3]);
      std::vector<const ChannelRanges*> cr;
      for (int t : p.tensors)
        if (auto it = opt_.channel_ranges.find(t);
            it != opt_.channel_ranges.end() && it->second.min.size() == channels && it->second.max.size() == channels)
          cr.push_back(&it->second);
      if (cr.size() != p.tensors.size()) {
        ++missing;
        continue;
      }
      std::vector<float> r(channels, 0.0f);  // over the rescaled tensors (before and after a RELU)
      bool finite = true;
      for (const ChannelRanges* c_r : cr)
        for (size_t c = 0; c < channels; ++c) {
          r[c] = std::max({r[c], std::fabs(c_r->min[c]), std::fabs(c_r->max[c])});
          finite = finite && std::isfinite(r[c]);
        }
      if (!finite) continue;
      const Operator& prod = sg().operators[p.producer];
      const Operator& cons = sg().operators[p.consumer];
      const int wp_t = prod.inputs[1], wq_t = cons.inputs[1];
      const int bias_t = prod.inputs.size() > 2 ? prod.inputs[2] : kNoTensor;
      std::vector<float> wp = constant_as_float(m_, tensor(wp_t)), wq = constant_as_float(m_, tensor(wq_t));
      std::vector<float> wmax(channels, 0.0f);
      for (size_t i = 0; i < wq.size(); ++i) wmax[i % channels] = std::max(wmax[i % channels], std::fabs(wq[i]));
      std::vector<float> s(channels, 1.0f);
      for (size_t c = 0; c < channels; ++c)
        if (r[c] > 0 && wmax[c] > 0) s[c] = std::clamp(std::sqrt(r[c] / wmax[c]), 1e-4f, 1e4f);
      // Producer: CONV_2D weights are [C, kh, kw, in], DEPTHWISE_CONV_2D [1, kh, kw, C].
      const bool depthwise = prod.builtin() == B::DEPTHWISE_CONV_2D;
      const size_t per_out = depthwise ? 1 : wp.size() / channels;
      for (size_t i = 0; i < wp.size(); ++i) wp[i] /= s[depthwise ? i % channels : i / per_out];
      for (size_t i = 0; i < wq.size(); ++i) wq[i] *= s[i % channels];
      sg().tensors[wp_t].buffer = m_.add_buffer(bytes_of(wp));
      sg().tensors[wq_t].buffer = m_.add_buffer(bytes_of(wq));
      if (bias_t >= 0) {
        std::vector<float> b = constant_as_float(m_, tensor(bias_t));
        for (size_t c = 0; c < channels; ++c) b[c] /= s[c];
        sg().tensors[bias_t].buffer = m_.add_buffer(bytes_of(b));
      }
      // The equalized tensor's range: its channels' observed ranges, rescaled (the
      // calibrator's histogram described the unscaled tensor).
      std::vector<float> after(channels), inv(channels);
      for (size_t c = 0; c < channels; ++c) after[c] = r[c] / s[c], inv[c] = 1.0f / s[c];
      for (size_t k = 0; k < p.tensors.size(); ++k) {
        Range eq{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
        for (size_t c = 0; c < channels; ++c) {
          eq.min = std::min(eq.min, cr[k]->min[c] / s[c]);
          eq.max = std::max(eq.max, cr[k]->max[c] / s[c]);
        }
        ranges_[p.tensors[k]] = eq;
        equalized_.insert(p.tensors[k]);
        channel_scale_[p.tensors[k]] = inv;
      }
      bias_scale_[p.tensors[0]] = std::move(inv);
      auto spread = [](std::vector<float> v) {
        std::sort(v.begin(), v.end());
        return v.back() / std::max(v[v.size() / 2], 1e-12f);
      };
      spread_before += spread(r);
      spread_after += spread(after);
      ++done;
    }
    if (done > 0) {
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "channel equalization: %d conv pairs rescaled (widest channel range / median: %.1fx -> %.1fx on average)",
                    done, spread_before / done, spread_after / done);
      sum_.notes.push_back(buf);
      sum_.equalized_pairs = done;
    }
    if (missing > 0)
      sum_.notes.push_back("channel equalization: " + std::to_string(missing) +
                           " conv pairs left alone: the calibration has no per-channel ranges for them (re-run qcal calibrate)");
  }

  // Parameters for every tensor an int8 op touches, by group.
  void resolve_parameters() {
    UnionFind groups(n_);
    const auto& ops = sg().operators;
    for (size_t oi = 0; oi < ops.size(); ++oi) {
      if (!int8_op_[oi]) continue;
      const OpQuantInfo& info = op_quant_info(ops[oi].code);
      if (!info.same_scale) continue;
      int first = -1;
      auto tie = [&](int t) {
        if (t < 0 || tensor(t).dtype != DType::kFloat32) return;
        if (first < 0) first = t;
        else groups.unite(t, first);
      };
      for (size_t s = 0; s < ops[oi].inputs.size(); ++s)
        if (data_slot(info, static_cast<int>(s))) tie(ops[oi].inputs[s]);
      for (int32_t t : ops[oi].outputs) tie(t);
    }
    // An input clamped by its only reader against a constant (x in MINIMUM(x, 6)) is
    // saturated to the group's range anyway: its own observation, beyond the clamp, is left
    // out of the union (a twin's clamp after a conv would otherwise widen the conv's grid).
    std::vector<char> clamped(n_, 0);
    const std::vector<int> readers = reader_counts(ops);
    for (size_t oi = 0; oi < ops.size(); ++oi) {
      const Operator& op = ops[oi];
      if (!int8_op_[oi] || !op_quant_info(op.code).clamps_to_constant || op.inputs.size() != 2) continue;
      for (int k = 0; k < 2; ++k) {
        const int x = op.inputs[k], c = op.inputs[1 - k];
        if (x >= 0 && c >= 0 && float_activation(x) && constant(c) && readers[x] == 1 && !contains(sg().outputs, x))
          clamped[x] = 1;
      }
    }
    // Each group's range: union of what was observed (or a constant's values); a fixed
    // output range wins over any observation.
    std::vector<double> lo(n_, std::numeric_limits<double>::infinity()), hi(n_, -std::numeric_limits<double>::infinity());
    std::vector<std::optional<FixedQuantization>> fixed(n_);
    for (int t = 0; t < n_; ++t) {
      if (tensor(t).dtype != DType::kFloat32) continue;
      if (clamped[t]) continue;
      const int g = groups.find(t);
      if (auto it = ranges_.find(t); it != ranges_.end() && !constant(t)) {
        lo[g] = std::min<double>(lo[g], it->second.min);
        hi[g] = std::max<double>(hi[g], it->second.max);
      } else if (constant(t) && num_elements(tensor(t).shape) > 0) {
        const std::vector<float> v = constant_as_float(m_, tensor(t));
        const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
        lo[g] = std::min<double>(lo[g], *mn);
        hi[g] = std::max<double>(hi[g], *mx);
      }
    }
    for (size_t oi = 0; oi < ops.size(); ++oi) {
      if (!int8_op_[oi]) continue;
      const OpQuantInfo& info = op_quant_info(ops[oi].code);
      if (!info.fixed_output) continue;
      for (int32_t t : ops[oi].outputs) {
        if (t < 0) continue;
        const int g = groups.find(t);
        if (fixed[g] && (fixed[g]->scale != info.fixed_output->scale || fixed[g]->zero_point != info.fixed_output->zero_point))
          throw Error("operator " + std::to_string(oi) + " (" + ops[oi].code.name() + "): its fixed output range conflicts "
                      "with another fixed range it must share a scale with; keep one of them float (--keep-float)");
        fixed[g] = info.fixed_output;
      }
    }
    params_.resize(n_);
    auto assign = [&] {
      for (int t = 0; t < n_; ++t) {
        if (tensor(t).dtype != DType::kFloat32) continue;
        const int g = groups.find(t);
        if (fixed[g]) params_[t] = QuantParams{fixed[g]->scale, fixed[g]->zero_point};
        else if (lo[g] <= hi[g]) params_[t] = asymmetric_params(lo[g], hi[g]);
      }
    };
    assign();
    // LiteRT's XNNPACK refuses a conv/FC whose requantization scale, input x weight / output
    // scale, reaches 256 in any channel (a channel with huge weights after a batch norm of
    // tiny variance). Widen such an output's range until the widest channel fits; that makes
    // the consumers' input scales larger, so repeat until nothing changes.
    // The largest |weight| of each conv/FC (-1: not one), read once: the rounds only rescale.
    std::vector<float> widest_weight(ops.size(), -1.0f);
    for (size_t oi = 0; oi < ops.size(); ++oi) {
      const OpQuantInfo& info = op_quant_info(ops[oi].code);
      if (!int8_op_[oi] || info.weights < 0 || info.activation_input < 0 || ops[oi].outputs.empty()) continue;
      const int w = ops[oi].inputs[info.weights];
      if (w < 0) continue;
      widest_weight[oi] = 0.0f;
      for (float x : constant_as_float(m_, tensor(w))) widest_weight[oi] = std::max(widest_weight[oi], std::abs(x));
    }
    for (int round = 0; round < 64; ++round) {
      bool widened = false;
      for (size_t oi = 0; oi < ops.size(); ++oi) {
        if (widest_weight[oi] < 0) continue;
        const OpQuantInfo& info = op_quant_info(ops[oi].code);
        const int in = ops[oi].inputs[info.activation_input], out = ops[oi].outputs[0];
        if (in < 0 || out < 0 || !params_[in] || !params_[out]) continue;
        const int g = groups.find(out);
        if (fixed[g]) continue;
        // 250, not 256: the weight scale and float rounding must not land it on the limit.
        const double needed = static_cast<double>(params_[in]->scale) * (widest_weight[oi] / 127.0) / 250.0;
        if (params_[out]->scale >= needed) continue;
        const double factor = needed / params_[out]->scale * 1.001;
        lo[g] = std::min(lo[g], 0.0) * factor;
        hi[g] = std::max(hi[g], 0.0) * factor;
        if (lo[g] == hi[g]) hi[g] = needed * 255;
        sum_.notes.push_back("op " + std::to_string(original_index_[oi]) + " " + ops[oi].code.name() + " '" +
                             tensor(out).name + "': output range widened " + std::to_string(factor).substr(0, 6) +
                             "x, so its widest weight channel's requantization scale stays under 256 (LiteRT's "
                             "XNNPACK refuses more)");
        assign();
        widened = true;
      }
      if (!widened) break;
    }
  }

  const QuantParams& params(int t) const {
    if (!params_[t]) throw Error("tensor '" + tensor(t).name + "' has no quantization parameters (no calibrated range)");
    return *params_[t];
  }
  Quantization q8(int t) const { return per_tensor(params(t).scale, params(t).zero_point); }
  Quantization qu8(int t) const { return per_tensor(params(t).scale, params(t).zero_point + 128); }

  // ---- step 3: the new operator list -----------------------------------------------------

  int new_tensor(int like, DType dtype, std::optional<Quantization> q, const std::string& suffix) {
    const Tensor copy = tensor(like);
    const int t = add_tensor_like(sg(), copy, dtype, std::move(q), copy.name + suffix);
    origin_[t] = like;
    return t;
  }

  void emit_conversion(B code, int in, int out) {
    Operator op = conversion_op(code, in, out);
    op.code.version = quantized_op_version(op, sg());
    out_ops_.push_back(std::move(op));
    (code == B::QUANTIZE ? sum_.quantize_ops_added : sum_.dequantize_ops_added)++;
  }

  // The int8 version of activation tensor t, adding a QUANTIZE when there is none yet.
  int int8_of(int t) {
    if (int8_[t] >= 0) return int8_[t];
    const int src = uint8_input_.count(t) ? t : float_of(t);
    int8_[t] = new_tensor(t, DType::kInt8, q8(t), "_int8");
    emit_conversion(B::QUANTIZE, src, int8_[t]);
    return int8_[t];
  }

  // The float version of t, adding a DEQUANTIZE when there is none yet.
  int float_of(int t) {
    if (float_[t] >= 0) return float_[t];
    const int src = uint8_input_.count(t) ? t : int8_[t];
    float_[t] = new_tensor(t, DType::kFloat32, std::nullopt, "_dequantized");
    emit_conversion(B::DEQUANTIZE, src, float_[t]);
    return float_[t];
  }

  int quantized_constant(int t) {
    if (auto it = const_int8_.find(t); it != const_int8_.end()) return it->second;
    const std::vector<float> v = constant_as_float(m_, tensor(t));
    const QuantParams p = params(t);
    std::vector<int8_t> q(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      q[i] = static_cast<int8_t>(std::clamp(std::round(v[i] / p.scale) + p.zero_point, -128.0f, 127.0f));
    const int n = new_tensor(t, DType::kInt8, q8(t), "");
    sg().tensors[n].buffer = m_.add_buffer(bytes_of(q));
    return const_int8_[t] = n;
  }

  // The smallest weight scale per output channel (one for all with axis < 0) at which the
  // op's bias, quantized with scale input x weight, keeps to the middle half of int32 (as
  // TFLite's quantizer does): a channel with tiny weights and a real bias (a dead channel
  // after batch norm) would otherwise saturate its bias and output a wrong constant. The
  // half left over is room for the rounding and bias corrections added later.
  std::vector<float> bias_scale_floor(const Operator& op, const OpQuantInfo& info, int axis) const {
    if (info.bias < 0 || static_cast<int>(op.inputs.size()) <= info.bias || op.inputs[info.bias] < 0) return {};
    const int in = op.inputs[info.activation_input];
    if (in < 0 || in >= n_ || !params_[in]) return {};
    const std::vector<float> b = constant_as_float(m_, tensor(op.inputs[info.bias]));
    const double limit = static_cast<double>(params_[in]->scale) * 1073741824.0;  // 2^30
    std::vector<float> floor(b.size());
    for (size_t c = 0; c < b.size(); ++c) floor[c] = static_cast<float>(std::abs(static_cast<double>(b[c])) / limit);
    if (axis < 0 && !floor.empty()) floor = {*std::max_element(floor.begin(), floor.end())};
    return floor;
  }

  int quantized_weights(int t, int axis, const std::vector<float>& min_scales) {
    auto key = std::tuple{t, axis, min_scales};
    if (auto it = weights_.find(key); it != weights_.end()) return it->second;
    const Tensor copy = tensor(t);
    const SymmetricWeights q =
        quantize_symmetric(constant_as_float(m_, copy), copy.shape, axis, opt_.correct_weight_rounding, min_scales);
    if (q.raised_to_floor)
      sum_.notes.push_back("weights '" + copy.name + "': " + std::to_string(q.raised_to_floor) +
                           " channel scales raised so their bias fits int32 (tiny weights, large bias)");
    const int w = add_weight_tensor(m_, sg(), copy, q);
    origin_[w] = t;
    return weights_[std::move(key)] = w;
  }

  // The mean output shift, per output channel, that rounding `float_w` to `int8_w` causes on
  // an input with the per-channel means the calibration saw (empty: unknown or not wanted).
  // For a CONV_2D/DEPTHWISE_CONV_2D: per kernel tap (ky, kx), the share of output positions
  // at which the tap reads inside the input rather than padding (all 1 without padding). On
  // the small maps late in a network the border is a large share, and taps that read zeros
  // there shift the output less than the input's mean says.
  std::vector<double> tap_coverage(const Operator& op, int kh, int kw) const {
    std::vector<double> cover(static_cast<size_t>(kh) * kw, 1.0);
    int sh = 1, sw = 1, dh = 1, dw = 1;
    tflite::Padding pad = tflite::Padding::VALID;
    if (const auto* o = op.options.AsConv2DOptions())
      sh = o->stride_h, sw = o->stride_w, dh = o->dilation_h_factor, dw = o->dilation_w_factor, pad = o->padding;
    else if (const auto* o = op.options.AsDepthwiseConv2DOptions())
      sh = o->stride_h, sw = o->stride_w, dh = o->dilation_h_factor, dw = o->dilation_w_factor, pad = o->padding;
    else
      return cover;
    const Shape& in = tensor(op.inputs[0]).shape;
    if (in.size() != 4 || sh < 1 || sw < 1 || dh < 1 || dw < 1) return cover;
    auto axis = [&](int size, int k, int stride, int dilation) {
      // TFLite's output size and leading padding (kernels/padding.h), in 64 bits.
      const int64_t extent = (int64_t{k} - 1) * dilation + 1;
      const int64_t out = pad == tflite::Padding::SAME ? (int64_t{size} + stride - 1) / stride
                                                       : (int64_t{size} - extent + stride) / stride;
      const int64_t before = std::max<int64_t>((out - 1) * stride + extent - size, 0) / 2;
      std::vector<double> f(static_cast<size_t>(k), 1.0);
      if (out < 1 || out > (int64_t{1} << 20)) return f;  // not a map this model ran on: no border share
      for (int t = 0; t < k; ++t) {
        int64_t inside = 0;
        for (int64_t y = 0; y < out; ++y) {
          const int64_t at = y * stride + static_cast<int64_t>(t) * dilation - before;
          inside += at >= 0 && at < size;
        }
        f[t] = static_cast<double>(inside) / static_cast<double>(out);
      }
      return f;
    };
    const std::vector<double> fy = axis(in[1], kh, sh, dh), fx = axis(in[2], kw, sw, dw);
    for (int y = 0; y < kh; ++y)
      for (int x = 0; x < kw; ++x) cover[static_cast<size_t>(y) * kw + x] = fy[y] * fx[x];
    return cover;
  }

  std::vector<float> rounding_shift(const Operator& op, const OpQuantInfo& info, int float_w, int int8_w, int input) const {
    if (!opt_.correct_weight_rounding || info.weights_input_axis < 0 || info.weights_axis < 0) return {};
    const auto it = opt_.channel_ranges.find(input);
    if (it == opt_.channel_ranges.end() || it->second.mean.empty()) return {};
    std::vector<float> mean = it->second.mean;
    if (auto s = channel_scale_.find(input); s != channel_scale_.end())  // the input was equalized
      for (size_t c = 0; c < mean.size() && c < s->second.size(); ++c) mean[c] *= s->second[c];
    const Shape& shape = tensor(float_w).shape;
    const std::vector<float> w = constant_as_float(m_, tensor(float_w));
    const std::vector<float> wq = constant_as_float(m_, tensor(int8_w));
    const int out_axis = info.weights_axis, in_axis = info.weights_input_axis;
    if (out_axis >= static_cast<int>(shape.size()) || in_axis >= static_cast<int>(shape.size())) return {};
    auto stride = [&](int axis) {
      int64_t s = 1;
      for (size_t d = axis + 1; d < shape.size(); ++d) s *= shape[d];
      return s;
    };
    const int64_t outs = shape[out_axis], ins = shape[in_axis], out_stride = stride(out_axis), in_stride = stride(in_axis);
    const int64_t channels = static_cast<int64_t>(mean.size());
    // Depthwise: the weights' channel axis is the output axis; channel c reads input c / M.
    const bool depthwise = out_axis == in_axis;
    if (channels == 0 || ins % channels != 0) return {};
    const int64_t multiplier = depthwise ? ins / channels : 1;
    // Conv weights are [., kh, kw, in]: the tap of element i is (i / in) mod (kh x kw).
    const bool spatial = shape.size() == 4;
    const int kh = spatial ? shape[1] : 1, kw = spatial ? shape[2] : 1;
    const std::vector<double> cover = spatial ? tap_coverage(op, kh, kw) : std::vector<double>{1.0};
    std::vector<double> shift(static_cast<size_t>(outs), 0.0);
    for (size_t i = 0; i < w.size(); ++i) {
      const int64_t o = static_cast<int64_t>(i) / out_stride % outs;
      const int64_t a = static_cast<int64_t>(i) / in_stride % ins;
      const int64_t c = depthwise ? a / multiplier : a % channels;
      const double f = spatial ? cover[static_cast<size_t>(static_cast<int64_t>(i) / shape[3] % (kh * kw))] : 1.0;
      shift[o] += static_cast<double>(wq[i] - w[i]) * mean[c] * f;
    }
    return std::vector<float>(shift.begin(), shift.end());
  }

  // The bias correction measured for the op writing float tensor `output`. An op with an
  // activation folded into it was measured at the activation's output (as an op with a
  // fused activation in the float model is): only ops with a bias get corrections, so one
  // keyed by an activation op's output belongs to its producer.
  std::map<int, std::vector<float>>::const_iterator bias_correction_of(int output) const {
    const auto& bc = opt_.bias_corrections;
    auto c = bc.find(output);
    if (c != bc.end() || !opt_.fuse_activations) return c;
    const auto act = activation_reading_.find(output);
    return act == activation_reading_.end() ? bc.end() : bc.find(act->second);
  }

  int quantized_bias(int oi, int t, int weights, int activation, int output, const std::vector<float>& rounding_shift) {
    std::vector<float> b = constant_as_float(m_, tensor(t));
    if (rounding_shift.size() == b.size()) {
      for (size_t i = 0; i < b.size(); ++i) b[i] -= rounding_shift[i];
      ++sum_.rounding_corrected;
    }
    if (auto c = bias_correction_of(output); c != opt_.bias_corrections.end()) {
      if (c->second.size() != b.size())
        throw Error("bias correction for '" + tensor(output).name + "' has " + std::to_string(c->second.size()) +
                    " values for " + std::to_string(b.size()) + " channels");
      const auto scale = bias_scale_.find(output);
      for (size_t i = 0; i < b.size(); ++i) b[i] += c->second[i] * (scale != bias_scale_.end() ? scale->second[i] : 1.0f);
      ++sum_.bias_corrected;
    }
    const std::vector<float>& ws = tensor(weights).quantization->scale;
    const float in_scale = tensor(activation).quantization->scale[0];
    Quantization q;
    q.scale.resize(ws.size());
    for (size_t c = 0; c < ws.size(); ++c) q.scale[c] = in_scale * ws[c];
    q.zero_point.assign(ws.size(), 0);
    std::vector<int32_t> v(b.size());
    int saturated = 0;
    for (size_t i = 0; i < b.size(); ++i) {
      const double x = std::round(static_cast<double>(b[i]) / q.scale[ws.size() == 1 ? 0 : i]);
      const double c = std::clamp(x, -2147483647.0, 2147483647.0);
      saturated += c != x;
      v[i] = static_cast<int32_t>(c);
    }
    if (ws.size() != 1 && ws.size() != b.size())
      throw Error("operator " + std::to_string(oi) + ": bias '" + tensor(t).name + "' has " + std::to_string(b.size()) +
                  " values for " + std::to_string(ws.size()) + " weight channels");
    if (saturated)
      sum_.notes.push_back("bias '" + tensor(t).name + "': " + std::to_string(saturated) + " values saturate int32");
    const int n = new_tensor(t, DType::kInt32, q, "");
    sg().tensors[n].buffer = m_.add_buffer(bytes_of(v));
    return n;
  }

  void rebuild() {
    std::vector<Operator> ops = std::move(sg().operators);
    int8_.assign(n_, -1);
    float_.assign(n_, -1);
    const std::vector<int>& producer = producer_;
    const std::set<int32_t> graph_outputs(sg().outputs.begin(), sg().outputs.end());
    const std::vector<int> readers = reader_counts(ops);
    for (const Operator& op : ops) {
      if (fusable_activation(op.builtin()) != tflite::ActivationFunctionType::NONE && op.inputs.size() == 1 &&
          op.inputs[0] >= 0 && op.inputs[0] < n_ && readers[op.inputs[0]] == 1 && op.outputs.size() == 1)
        activation_reading_[op.inputs[0]] = op.outputs[0];
    }

    // Where each float activation's int8 and float versions live before any op runs.
    std::map<int, std::vector<std::pair<B, std::pair<int, int>>>> emit_after;
    for (int t = 0; t < n_; ++t) {
      if (!float_activation(t)) continue;
      const bool graph_input = contains(sg().inputs, t);
      const bool made_int8 = producer[t] >= 0 && int8_op_[producer[t]];
      if (graph_input) {
        if (opt_.io == IoType::kFloat) {
          float_[t] = t;
        } else {
          if (!params_[t]) {
            const auto it = ranges_.find(t);
            if (it == ranges_.end()) throw Error("input '" + tensor(t).name + "': no calibration statistics for --io int8/uint8");
            params_[t] = asymmetric_params(it->second.min, it->second.max);
          }
          if (opt_.io == IoType::kInt8) {
            sg().tensors[t].dtype = DType::kInt8;
            sg().tensors[t].quantization = q8(t);
            int8_[t] = t;
          } else {
            sg().tensors[t].dtype = DType::kUInt8;
            sg().tensors[t].quantization = qu8(t);
            uint8_input_.insert(t);
          }
        }
      } else if (!made_int8 && producer[t] >= 0 && float_then_quantize_.count(producer[t]) && graph_outputs.count(t)) {
        // The op writes a float copy; one QUANTIZE rounds it to the graph output's fixed grid.
        const auto& fixed = *op_quant_info(ops[producer[t]].code).fixed_output;
        params_[t] = QuantParams{fixed.scale, fixed.zero_point};
        float_[t] = new_tensor(t, DType::kFloat32, std::nullopt, "_float");
        sg().tensors[t].dtype = opt_.io == IoType::kInt8 ? DType::kInt8 : DType::kUInt8;
        sg().tensors[t].quantization = opt_.io == IoType::kInt8 ? q8(t) : qu8(t);
        if (opt_.io == IoType::kInt8) int8_[t] = t;
        emit_after[producer[t]].push_back({B::QUANTIZE, {float_[t], t}});
      } else if (!made_int8) {
        float_[t] = t;  // a float op's output (its io type cannot change: e.g. detection boxes)
      } else if (graph_outputs.count(t) && opt_.io != IoType::kInt8) {
        // The graph output keeps its index (signatures point at it) and gets the io type;
        // the op writes a new int8 tensor that a conversion turns into it.
        int8_[t] = new_tensor(t, DType::kInt8, q8(t), "_int8");
        if (opt_.io == IoType::kFloat) {
          float_[t] = t;
          emit_after[producer[t]].push_back({B::DEQUANTIZE, {int8_[t], t}});
        } else {
          sg().tensors[t].dtype = DType::kUInt8;
          sg().tensors[t].quantization = qu8(t);
          emit_after[producer[t]].push_back({B::QUANTIZE, {int8_[t], t}});
        }
      } else {
        sg().tensors[t].dtype = DType::kInt8;
        sg().tensors[t].quantization = q8(t);
        int8_[t] = t;
      }
    }

    for (size_t oi = 0; oi < ops.size(); ++oi) {
      Operator op = std::move(ops[oi]);
      const OpQuantInfo& info = op_quant_info(op.code);
      if (int8_op_[oi]) {
        const int float_weights = info.weights >= 0 && info.weights < static_cast<int>(op.inputs.size()) ? op.inputs[info.weights] : -1;
        const int input = op.inputs.empty() ? -1 : op.inputs[info.activation_input];
        const int weight_axis = opt_.per_tensor ? -1 : info.weights_axis;
        // Before the inputs are replaced: the floor reads the float input's parameters.
        const std::vector<float> scale_floor = float_weights >= 0 ? bias_scale_floor(op, info, weight_axis) : std::vector<float>{};
        for (size_t s = 0; s < op.inputs.size(); ++s) {
          const int t = op.inputs[s];
          const int slot = static_cast<int>(s);
          if (t < 0 || slot == info.bias) continue;
          if (slot == info.weights) op.inputs[s] = quantized_weights(t, weight_axis, scale_floor);
          else if (!data_slot(info, slot)) continue;
          else if (float_activation(t)) op.inputs[s] = int8_of(t);
          else if (constant(t) && tensor(t).dtype == DType::kFloat32) op.inputs[s] = quantized_constant(t);
        }
        if (info.int8_needs_bias && (static_cast<int>(op.inputs.size()) <= info.bias || op.inputs[info.bias] < 0)) {
          const int channels = tensor(op.inputs[info.weights]).shape.at(info.weights_axis);
          Tensor zeros;
          zeros.name = tensor(op.outputs.at(0)).name + "_bias";
          zeros.shape = {channels};
          zeros.buffer = m_.add_buffer(bytes_of(std::vector<float>(channels, 0.0f)));
          sg().tensors.push_back(std::move(zeros));
          op.inputs.resize(std::max<size_t>(op.inputs.size(), info.bias + 1), kNoTensor);
          op.inputs[info.bias] = static_cast<int>(sg().tensors.size() - 1);
        }
        // The bias scale needs the activation's and weights' final scales.
        if (info.bias >= 0 && static_cast<int>(op.inputs.size()) > info.bias && op.inputs[info.bias] >= 0)
          op.inputs[info.bias] = quantized_bias(
              static_cast<int>(oi), op.inputs[info.bias], op.inputs[info.weights], op.inputs[info.activation_input],
              op.outputs.at(0),
              float_weights >= 0 ? rounding_shift(op, info, float_weights, op.inputs[info.weights], input) : std::vector<float>{});
        for (int32_t& t : op.outputs)
          if (t >= 0 && int8_[t] >= 0) t = int8_[t];
        op.code.version = quantized_op_version(op, sg());  // exactly what the single-op LiteRT tests prove
        out_ops_.push_back(std::move(op));
      } else {
        for (int32_t& t : op.inputs)
          if (float_activation(t)) t = float_of(t);
        for (int32_t& t : op.outputs)  // a float copy of an integer graph output (float_then_quantize_)
          if (t >= 0 && t < n_ && float_[t] >= 0) t = float_[t];
        out_ops_.push_back(std::move(op));
      }
      for (const auto& [code, io] : emit_after[static_cast<int>(oi)]) emit_conversion(code, io.first, io.second);
    }
    sg().operators = std::move(out_ops_);
  }

  void finish() {
    // Before the prune: a folded activation's input tensor goes with it (and off the map).
    if (opt_.fuse_activations) sum_.fused_activations = fuse_activations(sg());
    if (sum_.fused_activations > 0)
      sum_.notes.push_back(std::to_string(sum_.fused_activations) +
                           " RELU/RELU6/RELU_N1_TO_1 ops folded into the int8 op before them (LiteRT's XNNPACK delegate "
                           "takes no standalone int8 RELU)");
    if (const int n = squeezes_as_reshape(m_, sg()); n > 0)
      sum_.notes.push_back(std::to_string(n) + " SQUEEZE/EXPAND_DIMS ops written as RESHAPE (LiteRT's XNNPACK delegate "
                           "takes RESHAPE, not them)");
    // The tensor map: original tensors that kept their index, plus every copy made of one.
    std::map<int, int> map;
    for (int t = 0; t < n_; ++t)
      if (float_act_[t]) map[t] = t;
    for (const auto& [t, from] : origin_) map[t] = from;
    std::vector<std::vector<int32_t>> remap;
    prune_unused(m_, &remap);
    for (const auto& [q, f] : map) {
      if (remap[0][q] == kNoTensor) continue;
      sum_.tensor_map[remap[0][q]] = f;
      // An equalized tensor carries the float values rescaled per channel: comparisons undo it.
      if (equalized_.count(f)) sum_.channel_scales[remap[0][q]] = channel_scale_.at(f);
    }
    sum_.weight_bytes_after = constant_bytes(m_);
    // The summary goes into the model at once, so that a comparison of this model before it
    // is written (bias correction, --max-drop candidates) maps tensors as one of the file does.
    set_quantization_record(m_, {{"summary", sum_.to_json()}});
  }

  Model m_;
  TensorRanges ranges_;
  const QuantizeOptions& opt_;
  QuantizeSummary& sum_;
  Subgraph* sg_ = nullptr;
  int n_ = 0;
  std::vector<bool> int8_op_;
  std::vector<int> original_index_;  // op index after folding -> index in the given model
  std::vector<bool> float_act_;
  std::vector<std::optional<QuantParams>> params_;
  std::vector<int> int8_, float_;
  std::set<int> uint8_input_;
  std::set<int> float_then_quantize_;  // float ops whose integer graph output one QUANTIZE writes
  std::map<int, int> const_int8_;
  std::map<std::tuple<int, int, std::vector<float>>, int> weights_;
  std::map<int, int> origin_;  // new tensor -> the original tensor it holds a version of
  std::vector<int> producer_;  // the op writing each tensor of the float model, or -1
  std::set<int> equalized_;    // float-model tensors whose values equalization rescaled
  std::map<int, std::vector<float>> bias_scale_;  // per equalized producer output: 1 / s per channel
  std::map<int, std::vector<float>> channel_scale_;  // per equalized tensor: its channels' 1 / s
  std::map<int, int> activation_reading_;  // float tensor -> output of the only op reading it, a RELU-family op
  std::vector<Operator> out_ops_;
};

}  // namespace

std::set<int> equalization_tensors(const Model& float_model) {
  if (float_model.subgraphs.empty()) return {};
  Model folded = float_model;
  fold_constant_dequantize(folded, /*prune=*/false);  // fp16 weights become float constants; indices stay
  std::set<int> out;
  for (const EqualizablePair& p : equalizable_pairs(folded)) out.insert(p.tensors.begin(), p.tensors.end());
  return out;
}

std::set<int> channel_statistics_tensors(const Model& float_model) {
  std::set<int> out = equalization_tensors(float_model);
  if (float_model.subgraphs.empty()) return out;
  const Subgraph& sg = float_model.subgraphs[0];
  for (const Operator& op : sg.operators) {
    const OpQuantInfo& info = op_quant_info(op.code);
    if (info.weights_input_axis < 0 || op.inputs.empty()) continue;
    const int in = op.inputs[info.activation_input];
    if (in >= 0 && sg.tensors[in].dtype == DType::kFloat32 && !float_model.data_of(sg.tensors[in])) out.insert(in);
  }
  return out;
}

std::map<int, ChannelRanges> channel_ranges_from_calibration(const CalibrationData& calibration) {
  std::map<int, ChannelRanges> out;
  for (const auto& [t, stats] : calibration.tensors) {
    if (stats.channel_min.empty()) continue;
    ChannelRanges r{stats.channel_min, stats.channel_max, {}};
    if (stats.channel_sum.size() == stats.channel_min.size() && stats.channel_count() > 0)
      for (double s : stats.channel_sum) r.mean.push_back(static_cast<float>(s / static_cast<double>(stats.channel_count())));
    out[t] = std::move(r);
  }
  return out;
}

Model quantize_int8(const Model& float_model, const TensorRanges& ranges, const QuantizeOptions& options,
                    QuantizeSummary& summary) {
  check_float_model(float_model, "model");
  if (float_model.subgraphs.empty()) throw Error("model has no subgraph");
  return Int8Rewriter(float_model, ranges, options, summary).run();
}

}  // namespace qcal
