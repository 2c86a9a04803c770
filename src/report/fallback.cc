#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>

#include "qcal/error.h"
#include "qcal/quantize.h"
#include "qcal/report_writer.h"

namespace qcal {
namespace {

// "#12": the --keep-float rule naming op 12. (Built by appending: GCC 12 warns falsely,
// -Wrestrict, on "#" + std::to_string(op).)
std::string op_rule(int op) {
  std::string rule = "#";
  rule += std::to_string(op);
  return rule;
}

}  // namespace

FallbackResult quantize_with_fallback(std::shared_ptr<const Model> fm, const std::string& label, const TensorRanges& ranges,
                                      const QuantizeOptions& options, const Preprocessing& pre, const DatasetOptions& eval,
                                      const ReportOptions& ro, double max_drop, int max_steps,
                                      const std::function<void(const std::string&)>& on_step) {
  auto tell = [&](const char* format, auto... args) {
    if (!on_step) return;
    // Sized to fit: a step names a tensor, and tensor names have no length limit.
    std::string line(static_cast<size_t>(std::max(0, std::snprintf(nullptr, 0, format, args...))), '\0');
    std::snprintf(line.data(), line.size() + 1, format, args...);
    on_step(line);
  };
  if (ro.task == Task::kGeneric)
    throw Error("--max-drop needs a task metric: give --task classify, detect, segment or landmarks");
  // The op of the given float model that writes each tensor: keep-float rules name it.
  const Subgraph& fs = fm->subgraphs.at(0);
  std::vector<int> producer(fs.tensors.size(), -1);
  for (size_t oi = 0; oi < fs.operators.size(); ++oi)
    for (int32_t t : fs.operators[oi].outputs)
      if (t >= 0) producer[t] = static_cast<int>(oi);

  auto evaluate = [&](const QuantizeOptions& o, QuantizeSummary& s, Model& m, nlohmann::json& report) {
    m = quantize_int8(*fm, ranges, o, s);
    const ReportData d = compare_models(fm, label, std::make_shared<Model>(m), "candidate", pre, eval, ro);
    report = report_json(d);
    const nlohmann::json& drop = report["accuracy"]["drop"];
    if (!drop.is_number()) throw Error("the task metric gave no drop to compare");
    return drop.get<double>();
  };

  FallbackResult r;
  QuantizeOptions current = options;
  nlohmann::json report;
  r.drop = evaluate(current, r.summary, r.model, report);
  r.steps.push_back({{"kept_float", nlohmann::json::array()}, {"drop", r.drop}});
  tell("fallback: drop %.6g with every quantizable op in int8 (target %.6g)", r.drop, max_drop);
  std::set<int> tried;
  for (int step = 0; step < max_steps && r.drop > max_drop; ++step) {
    int op = -1, activation = -1;
    std::string what;
    for (const auto& l : report["layers"]) {  // worst first
      if (!l["quantized"].get<bool>() || l["isolated_sqnr_db"].is_null()) continue;
      const int ft = l["float_tensor"];
      const int p = ft >= 0 && ft < static_cast<int>(producer.size()) ? producer[ft] : -1;
      if (p < 0 || tried.count(p)) continue;
      op = p;
      // The layer of an int8 op an activation op was folded into carries the activation's
      // output, which the float model's RELU writes: return both to float.
      const Operator& fp = fs.operators[p];
      const auto code = fp.builtin();
      if ((code == tflite::BuiltinOperator::RELU || code == tflite::BuiltinOperator::RELU6 ||
           code == tflite::BuiltinOperator::RELU_N1_TO_1) &&
          fp.code.name() != l["op"].get<std::string>() && fp.inputs.size() == 1 && fp.inputs[0] >= 0 &&
          producer[fp.inputs[0]] >= 0) {
        activation = p;
        op = producer[fp.inputs[0]];
      }
      what = l["op"].get<std::string>() + " '" + l["name"].get<std::string>() + "' (isolated SQNR " +
             std::to_string(l["isolated_sqnr_db"].get<double>()) + " dB)";
      break;
    }
    if (op < 0) break;  // nothing left to try
    tried.insert(op);
    tried.insert(activation);
    QuantizeOptions candidate = current;
    candidate.keep_float.push_back(op_rule(op));
    if (activation >= 0) candidate.keep_float.push_back(op_rule(activation));
    QuantizeSummary s;
    Model m;
    nlohmann::json rep;
    const double drop = evaluate(candidate, s, m, rep);
    const bool better = drop < r.drop - 1e-12;
    tell("fallback: op %d %s float -> drop %.6g (%s)", op, what.c_str(), drop, better ? "kept" : "undone");
    r.steps.push_back({{"op", op}, {"layer", what}, {"drop", drop}, {"kept", better}});
    if (!better) continue;
    current = candidate;
    r.drop = drop;
    r.model = std::move(m);
    r.summary = std::move(s);
    r.added_rules.push_back(op_rule(op));
    r.rule_notes.push_back(what);
    if (activation >= 0) {
      r.added_rules.push_back(op_rule(activation));
      r.rule_notes.push_back("its activation, folded into " + what);
    }
    report = std::move(rep);
  }
  r.met = r.drop <= max_drop;
  return r;
}

}  // namespace qcal
