// qcal compare: one calibration pass, every scheme built from the same statistics, each
// evaluated on held-out images, one table.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "qcal/error.h"
#include "qcal/json_read.h"
#include "qcal/model_io.h"
#include "qcal/run_tools.h"
#include "qcal/scheme_comparison.h"

namespace qcal {
namespace {

using nlohmann::json;

std::string trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t"));
  s.erase(s.find_last_not_of(" \t") + 1);
  return s;
}

// Numbers for people: 4 significant digits; null as "-".
std::string num(const json& v) {
  if (!v.is_number()) return v.is_null() ? "-" : json_text(v);
  std::ostringstream s;
  s.precision(4);
  s << v.get<double>();
  return s.str();
}

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}

}  // namespace

std::vector<SchemeSpec> parse_schemes(const std::string& list) {
  std::vector<SchemeSpec> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    item = trim(item);
    if (item.empty()) continue;
    SchemeSpec s;
    s.label = item;
    const size_t colon = item.find(':');
    s.scheme = item.substr(0, colon);
    if (colon != std::string::npos) s.calibrator = item.substr(colon + 1);
    if (s.scheme == "int8") {
      if (s.calibrator.empty()) s.calibrator = "minmax";
      const auto& names = calibrator_names();
      if (std::find(names.begin(), names.end(), s.calibrator) == names.end())
        throw Error("--schemes '" + item + "': unknown calibrator '" + s.calibrator + "' (minmax, percentile, kl, mse)");
    } else if (s.scheme != "fp16" && s.scheme != "dynamic" && s.scheme != "float32") {
      throw Error("--schemes '" + item + "': unknown scheme (int8:CALIBRATOR, fp16, dynamic, float32)");
    } else if (colon != std::string::npos) {
      throw Error("--schemes '" + item + "': only int8 takes a calibrator");
    }
    out.push_back(std::move(s));
  }
  if (out.empty()) throw Error("--schemes is empty");
  return out;
}

Model build_scheme(const Model& float_model, const SchemeSpec& spec, const CalibrationData* calibration,
                   const QuantizeOptions& options, const CalibratorOptions& calibrator_options, QuantizeSummary& summary) {
  if (spec.scheme == "int8") {
    if (!calibration) throw Error("int8 needs calibration data");
    QuantizeOptions o = options;  // equalization and the weight-rounding correction read per-channel statistics
    if (o.channel_ranges.empty()) o.channel_ranges = channel_ranges_from_calibration(*calibration);
    return quantize_int8(float_model, ranges_from_calibration(*calibration, spec.calibrator, calibrator_options, float_model), o,
                         summary);
  }
  if (spec.scheme == "fp16") return quantize_fp16(float_model, summary);
  if (spec.scheme == "dynamic") return quantize_dynamic(float_model, options, summary);
  return quantize_float32(float_model, summary);
}

double median_latency_ms(const Model& model, int runs) {
  const Executor ex(std::make_shared<Model>(model), ExecutorOptions{1}, "model");
  return benchmark(ex, runs, std::max(1, runs / 5), 0).median_ms;
}

json comparison_json(const std::vector<SchemeResult>& results, const LitertBaseline& litert) {
  json rows = json::array();
  int winner = -1;
  for (size_t i = 0; i < results.size(); ++i) {
    const SchemeResult& r = results[i];
    rows.push_back({{"scheme", r.label},
                    {"file", r.file},
                    {"bytes", r.bytes},
                    {"metric", r.accuracy.value("metric", "")},
                    {"float", r.accuracy.value("float", json(nullptr))},
                    {"quantized", r.accuracy.value("quantized", json(nullptr))},
                    {"drop", r.accuracy.value("drop", json(nullptr))},
                    {"min_output_sqnr_db", r.min_output_sqnr_db},
                    {"worst_layer", r.worst_layer},
                    {"worst_layer_sqnr_db", r.worst_layer_sqnr_db},
                    {"latency_ms", r.latency_ms},
                    {"litert_ms", r.litert_ms ? json(*r.litert_ms) : json(nullptr)},
                    {"litert_vs_float", r.litert_ms && litert.float_ms ? json(*r.litert_ms / *litert.float_ms) : json(nullptr)},
                    {"kept_float", r.kept_float}});
  }
  // The winner: smallest accuracy drop (or, without a drop, best worst-output SQNR); ties go
  // to the faster model in LiteRT where that was measured for both, else to the smaller.
  auto score = [&](size_t i) {
    const json& d = rows[i]["drop"];
    return d.is_number() ? -d.get<double>() : rows[i]["min_output_sqnr_db"].get<double>();
  };
  auto better_tie = [&](size_t i, size_t w) {
    const json &a = rows[i]["litert_ms"], &b = rows[w]["litert_ms"];
    if (a.is_number() && b.is_number() && a.get<double>() != b.get<double>()) return a.get<double>() < b.get<double>();
    return rows[i]["bytes"] < rows[w]["bytes"];
  };
  for (size_t i = 0; i < rows.size(); ++i)
    if (winner < 0 || score(i) > score(winner) + 1e-12 ||
        (std::abs(score(i) - score(winner)) <= 1e-12 && better_tie(i, static_cast<size_t>(winner))))
      winner = static_cast<int>(i);
  for (size_t i = 0; i < rows.size(); ++i) rows[i]["winner"] = static_cast<int>(i) == winner;
  return {{"format", "qcal-compare-1"},
          {"schemes", rows},
          {"winner", winner >= 0 ? rows[winner]["scheme"] : json(nullptr)},
          {"litert", {{"float_ms", litert.float_ms ? json(*litert.float_ms) : json(nullptr)},
                      {"runtime", "LiteRT.js (@litertjs/core, XNNPACK in wasm, 1 thread), median"},
                      {"note", litert.note}}}};
}

namespace {

std::string litert_cell(const json& r) {
  if (!r.value("litert_ms", json(nullptr)).is_number()) return "-";
  std::string cell = num(r["litert_ms"]);
  if (r["litert_vs_float"].is_number()) cell += " (" + num(r["litert_vs_float"]) + "x)";
  return cell;
}

// What the LiteRT column is, or why it is empty.
std::string litert_line(const json& c) {
  const json& l = c.value("litert", json::object());
  if (l.value("float_ms", json(nullptr)).is_number())
    return "LiteRT latency: the deployed runtime, " + l.value("runtime", std::string()) + "; the float model: " +
           num(l["float_ms"]) + " ms.";
  return "LiteRT latency: not measured (" + l.value("note", std::string("no harness")) + ").";
}

}  // namespace

std::string comparison_markdown(const json& c) {
  std::ostringstream s;
  s << "| scheme | size (bytes) | metric | quantized | drop | min output SQNR (dB) | worst layer (SQNR dB) | qcal latency (ms, 1 thread) | LiteRT latency (ms, x float) |\n"
    << "|---|---|---|---|---|---|---|---|---|\n";
  for (const json& r : c["schemes"]) {
    s << "| " << r["scheme"].get<std::string>() << (r["winner"].get<bool>() ? " **(winner)**" : "") << " | " << r["bytes"]
      << " | " << r["metric"].get<std::string>() << " | " << num(r["quantized"]) << " | " << num(r["drop"]) << " | "
      << num(r["min_output_sqnr_db"]) << " | "
      << (r["worst_layer"].get<std::string>().empty() ? "-" : r["worst_layer"].get<std::string>() + " (" + num(r["worst_layer_sqnr_db"]) + ")")
      << " | " << num(r["latency_ms"]) << " | " << litert_cell(r) << " |\n";
  }
  s << "\n" << litert_line(c) << "\n";
  return s.str();
}

std::string comparison_html(const json& c) {
  std::ostringstream s;
  s << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>qcal compare</title><style>body{font-family:sans-serif;"
       "margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}tr.win{background:#eef5e6;"
       "font-weight:bold}</style></head><body><h1>Scheme comparison</h1><table><tr><th>scheme</th><th>size (bytes)</th>"
       "<th>metric</th><th>quantized</th><th>drop</th><th>min output SQNR (dB)</th><th>worst layer</th>"
       "<th>its SQNR (dB)</th><th>qcal latency (ms)</th><th>LiteRT latency (ms, x float)</th></tr>";
  for (const json& r : c["schemes"])
    s << "<tr" << (r["winner"].get<bool>() ? " class=win" : "") << "><td>" << esc(r["scheme"]) << "</td><td>" << r["bytes"]
      << "</td><td>" << esc(r["metric"]) << "</td><td>" << num(r["quantized"]) << "</td><td>" << num(r["drop"])
      << "</td><td>" << num(r["min_output_sqnr_db"]) << "</td><td>" << esc(r["worst_layer"]) << "</td><td>"
      << num(r["worst_layer_sqnr_db"]) << "</td><td>" << num(r["latency_ms"]) << "</td><td>" << esc(litert_cell(r))
      << "</td></tr>";
  s << "</table><p>Winner (highlighted): smallest accuracy drop, ties to the faster model in LiteRT (else the smaller). "
       "qcal latency: qcal's executor, 1 thread, median. "
    << esc(litert_line(c)) << "</p></body></html>\n";
  return s.str();
}

}  // namespace qcal
