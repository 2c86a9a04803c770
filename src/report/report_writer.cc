// report.json (the data), report.md (tables) and report.html (self-contained: inline SVG,
// no scripts, no network).
#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

#include "qcal/calibrators.h"
#include "qcal/json_read.h"
#include "qcal/model_io.h"
#include "qcal/report_writer.h"

namespace qcal {
namespace {

using nlohmann::json;

// JSON has no infinity: identical tensors report 200 dB (far above any real SQNR).
double db(double x) { return std::clamp(x, -200.0, 200.0); }

std::string fmt(double x, int precision = 2) {
  if (!std::isfinite(x)) return x > 0 ? "inf" : "-inf";
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(precision);
  s << x;
  return s.str();
}

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

// A figure a layer or output may lack (no split without integer tensors): "-" then.
std::string optional_db(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? fmt(j[key].get<double>()) : "-";
}

std::string short_name(const std::string& s, size_t n = 48) {
  if (s.size() <= n) return s;
  std::string out = "...";  // appended, not "..." + s: GCC 12 warns falsely on that inlined
  out.append(s, s.size() - (n - 3), n - 3);
  return out;
}

double rank_key(const json& l) {
  return l.contains("isolated_sqnr_db") && !l["isolated_sqnr_db"].is_null() ? l["isolated_sqnr_db"].get<double>()
                                                                             : l["sqnr_db"].get<double>();
}

}  // namespace

std::string op_number(const json& layer) {
  const auto it = layer.find("op_index");
  return it != layer.end() && it->is_number_integer() ? std::to_string(it->get<int>()) : "-";
}

json report_json(const ReportData& d) {
  json layers = json::array();
  for (const LayerReport& l : d.layers) {
    if (!l.accumulated.count) continue;
    json j = {{"tensor", l.tensor},
              {"float_tensor", l.float_tensor},
              {"name", l.name},
              {"op", l.op_name},
              {"op_index", l.float_op >= 0 ? json(l.float_op) : json(nullptr)},  // float model's numbering
              {"quant_op_index", l.op},
              {"sqnr_db", db(l.accumulated.sqnr_db())},
              {"cosine", l.accumulated.cosine()},
              {"mse", l.accumulated.mse()},
              {"max_abs", l.accumulated.max_abs},
              {"clip_fraction", l.accumulated.clip_fraction()},
              {"float_min", l.accumulated.ref_min},
              {"float_max", l.accumulated.ref_max},
              {"quantized", l.quantized},
              {"isolated_sqnr_db", l.has_isolated ? json(db(l.isolated.sqnr_db())) : json(nullptr)}};
    if (l.quantized) {
      j["scale"] = l.scale;
      j["zero_point"] = l.zero_point;
      j["rmse_over_scale"] = std::sqrt(l.accumulated.mse()) / l.scale;
      if (l.has_isolated) j["isolated_rmse_over_scale"] = std::sqrt(l.isolated.mse()) / l.scale;
    }
    if (l.has_split) {
      j["grid_sqnr_db"] = db(l.grid.sqnr_db());      // float vs the fake-quant simulation
      j["kernel_sqnr_db"] = db(l.kernel.sqnr_db());  // the simulation vs the integer kernels
    }
    layers.push_back(std::move(j));
  }
  json ranked = layers;
  std::stable_sort(ranked.begin(), ranked.end(), [](const json& a, const json& b) { return rank_key(a) < rank_key(b); });
  json outputs = json::array();
  for (const OutputReport& o : d.outputs) {
    json j = {{"name", o.name}, {"sqnr_db", db(o.stats.sqnr_db())}, {"cosine", o.stats.cosine()}};
    if (o.has_split) {
      j["grid_sqnr_db"] = db(o.grid.sqnr_db());      // float vs the fake-quant simulation
      j["kernel_sqnr_db"] = db(o.kernel.sqnr_db());  // the simulation vs the integer kernels
    }
    outputs.push_back(std::move(j));
  }

  // Histograms of the worst quantized layers with every calibrator's range and the chosen one.
  json pictures = json::array();
  if (d.float_stats) {
    int shown = 0;
    for (const json& l : ranked) {
      if (shown >= d.histograms) break;
      if (!l["quantized"].get<bool>()) continue;
      auto it = d.float_stats->stats().find(l["float_tensor"].get<int>());
      if (it == d.float_stats->stats().end() || it->second.hist.empty()) continue;
      const TensorStats& s = it->second;
      const Histogram& h = s.hist;
      // At most 128 bars: merge neighbouring bins.
      const int group = std::max(1, (h.num_bins() + 127) / 128);
      std::vector<uint64_t> counts;
      for (int i = 0; i < h.num_bins(); i += group) {
        uint64_t c = 0;
        for (int k = i; k < std::min(i + group, h.num_bins()); ++k) c += h.counts()[k];
        counts.push_back(c);
      }
      json ranges = json::object();
      for (const std::string& m : calibrator_names()) {
        const Range r = calibrate(s, m);
        ranges[m] = {r.min, r.max};
      }
      const double scale = l["scale"].get<double>();
      const int zp = l["zero_point"].get<int>();
      pictures.push_back({{"tensor", l["tensor"]},
                          {"name", l["name"]},
                          {"lower", h.lower()},
                          {"bin_width", h.bin_width() * group},
                          {"counts", counts},
                          {"min", s.min},
                          {"max", s.max},
                          {"calibrators", ranges},
                          {"chosen", {scale * (-128 - zp), scale * (127 - zp)}}});
      ++shown;
    }
  }
  return {{"format", "qcal-report-1"},
          {"float_model", d.float_model},
          {"quant_model", d.quant_model},
          {"samples", d.samples},
          {"tensor_matching", d.matching},
          {"preprocessing", d.preprocessing},
          {"dataset", d.preprocessing_dataset},
          {"scheme", d.scheme},
          {"calibration", d.calibration},
          {"accuracy", d.accuracy},
          {"outputs", outputs},
          {"layers", ranked},
          {"layers_in_order", layers},
          {"histograms", pictures}};
}

namespace {

// "6 labelled samples, 1 without a label; 1 label entry names no sample (e.g. ...)".
std::string labels_counts(const json& l) {
  std::ostringstream s;
  const size_t labelled = l["labelled_samples"].get<size_t>();
  s << labelled << " labelled sample" << (labelled == 1 ? "" : "s") << ", " << l["unlabelled_samples"] << " without a label";
  if (l.contains("labelled_boxes")) s << "; " << l["labelled_boxes"] << " labelled boxes";
  const size_t missing = l.value("entries_without_sample", size_t{0});
  if (missing) {
    s << "; " << missing << " label entr" << (missing == 1 ? "y names" : "ies name") << " no sample";
    if (l.contains("entries_without_sample_examples") && !l["entries_without_sample_examples"].empty())
      s << " (e.g. " << l["entries_without_sample_examples"][0].get<std::string>() << ")";
  }
  return s.str();
}

// The rows of the labels table: {metric, float, quantized, drop}, formatted.
std::vector<std::array<std::string, 4>> labels_rows(const json& l) {
  std::vector<std::array<std::string, 4>> rows;
  auto row = [&](const std::string& name, const std::string& f, const std::string& q, const std::string& d) {
    rows.push_back({name, fmt(l[f].get<double>(), 4), fmt(l[q].get<double>(), 4), fmt(l[d].get<double>(), 4)});
  };
  if (l.contains("float_map50")) {
    row(std::string("mAP@0.5") + (l.value("class_agnostic", false) ? " (class-agnostic)" : ""), "float_map50",
        "quantized_map50", "map50_drop");
    return rows;
  }
  for (const std::string k : {"top1", "top5"})
    row(k + " accuracy", "float_" + k + "_accuracy", "quantized_" + k + "_accuracy", k + "_drop");
  return rows;
}

std::string labels_markdown(const json& l) {
  std::ostringstream s;
  s << "### Against the labels (`" << l["source"].get<std::string>() << "`)\n\n"
    << "| metric | float | quantized | drop |\n|---|---|---|---|\n";
  for (const auto& r : labels_rows(l)) s << "| " << r[0] << " | " << r[1] << " | " << r[2] << " | " << r[3] << " |\n";
  s << "\n" << labels_counts(l) << "\n";
  return s.str();
}

}  // namespace

std::string report_markdown(const json& r) {
  std::ostringstream s;
  s << "# Quantization report\n\n"
    << "- float model: `" << r["float_model"].get<std::string>() << "`\n"
    << "- quantized model: `" << r["quant_model"].get<std::string>() << "`\n"
    << "- samples: " << r["samples"] << " (not used for calibration, if the calibration set was separate)\n"
    << "- calibration: " << json_text(r["calibration"]) << "\n"
    << "- pre-processing: " << json_text(r["preprocessing"]) << "\n"
    << "- tensors matched by: " << r["tensor_matching"].get<std::string>() << "\n\n";
  const json& a = r["accuracy"];
  s << "## Accuracy (" << a["task"].get<std::string>() << ")\n\n";
  s << "| metric | float | quantized | drop |\n|---|---|---|---|\n";
  auto cell = [](const json& v) { return v.is_number() ? fmt(v.get<double>(), 4) : v.is_null() ? std::string("-") : json_text(v); };
  s << "| " << a["metric"].get<std::string>() << " | " << cell(a["float"]) << " | " << cell(a["quantized"]) << " | "
    << cell(a["drop"]) << " |\n";
  for (const char* k : {"top1_agreement", "top5_agreement", "pixel_agreement", "float_detections", "quantized_detections"})
    if (a.contains(k)) s << "\n" << k << ": " << cell(a[k]) << "\n";
  if (a.contains("labels")) s << "\n" << labels_markdown(a["labels"]);
  s << "\n## Outputs\n\nGrid: float against the fake-quant simulation (the scales and ranges); kernels: the "
       "simulation against the integer model (what the integer kernels add).\n\n"
    << "| output | SQNR (dB) | cosine | grid SQNR (dB) | kernels SQNR (dB) |\n|---|---|---|---|---|\n";
  for (const json& o : r["outputs"])
    s << "| " << o["name"].get<std::string>() << " | " << fmt(o["sqnr_db"].get<double>()) << " | "
      << fmt(o["cosine"].get<double>(), 5) << " | " << optional_db(o, "grid_sqnr_db")
      << " | " << optional_db(o, "kernel_sqnr_db") << " |\n";
  s << "\n## Layers, worst first (isolated SQNR where available)\n\n"
    << "| op | type | tensor | isolated SQNR | accumulated SQNR | grid SQNR | kernels SQNR | cosine | max abs | RMSE/scale | clipped | float range | scale | zp |\n"
    << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  int n = 0;
  for (const json& l : r["layers"]) {
    if (n++ >= 40) break;
    s << "| " << op_number(l) << " | " << l["op"].get<std::string>() << " | `" << short_name(l["name"].get<std::string>())
      << "` | " << (l["isolated_sqnr_db"].is_null() ? "-" : fmt(l["isolated_sqnr_db"].get<double>())) << " | "
      << fmt(l["sqnr_db"].get<double>()) << " | " << optional_db(l, "grid_sqnr_db") << " | " << optional_db(l, "kernel_sqnr_db")
      << " | " << fmt(l["cosine"].get<double>(), 4) << " | "
      << fmt(l["max_abs"].get<double>(), 4) << " | "
      << (l.contains("rmse_over_scale") ? fmt(l["rmse_over_scale"].get<double>()) : "-") << " | "
      << fmt(100 * l["clip_fraction"].get<double>(), 3) << "% | [" << fmt(l["float_min"].get<double>(), 3) << ", "
      << fmt(l["float_max"].get<double>(), 3) << "] | " << (l.contains("scale") ? fmt(l["scale"].get<double>(), 5) : "-")
      << " | " << (l.contains("zero_point") ? json_text(l["zero_point"]) : "-") << " |\n";
  }
  return s.str();
}

namespace {

// Per-layer SQNR in op order: accumulated as bars, isolated as dots.
std::string sqnr_chart(const json& layers) {
  const int n = static_cast<int>(layers.size());
  const int w = std::max(600, 8 * n + 60), h = 260, left = 40, top = 10, plot_h = 200;
  double hi = 10;
  for (const json& l : layers) {
    hi = std::max(hi, std::min(80.0, l["sqnr_db"].get<double>()));
    if (!l["isolated_sqnr_db"].is_null()) hi = std::max(hi, std::min(80.0, l["isolated_sqnr_db"].get<double>()));
  }
  hi = std::ceil(hi / 10) * 10;
  auto y = [&](double v) { return top + plot_h * (1 - std::clamp(v, 0.0, hi) / hi); };
  std::ostringstream s;
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << w << "' height='" << h << "' font-size='10'>";
  for (double g = 0; g <= hi; g += 10)
    s << "<line x1='" << left << "' x2='" << w - 10 << "' y1='" << y(g) << "' y2='" << y(g) << "' stroke='#ddd'/><text x='4' y='"
      << y(g) + 3 << "'>" << g << "</text>";
  s << "<line x1='" << left << "' x2='" << w - 10 << "' y1='" << y(20) << "' y2='" << y(20) << "' stroke='#c00' stroke-dasharray='4'/>";
  const double step = (w - left - 10.0) / std::max(n, 1);
  for (int i = 0; i < n; ++i) {
    const json& l = layers[i];
    const double x = left + i * step;
    const double v = l["sqnr_db"].get<double>();
    s << "<rect x='" << x << "' y='" << y(v) << "' width='" << std::max(1.0, step - 1) << "' height='" << y(0) - y(v)
      << "' fill='#7aa6d6'><title>op " << op_number(l) << " " << esc(l["op"].get<std::string>()) << " "
      << esc(l["name"].get<std::string>()) << ": accumulated " << fmt(v) << " dB</title></rect>";
    if (!l["isolated_sqnr_db"].is_null()) {
      const double iv = l["isolated_sqnr_db"].get<double>();
      s << "<circle cx='" << x + step / 2 << "' cy='" << y(iv) << "' r='2.5' fill='#d9822b'><title>op " << op_number(l)
        << " isolated " << fmt(iv) << " dB</title></circle>";
    }
  }
  s << "<text x='" << left << "' y='" << h - 20 << "'>ops in execution order: bars = accumulated SQNR (dB), dots = "
       "isolated SQNR; dashed line = 20 dB</text></svg>";
  return s.str();
}

std::string histogram_chart(const json& p) {
  const int w = 560, h = 180, left = 10, plot_w = 540, plot_h = 130;
  const std::vector<uint64_t> counts = p["counts"];
  const double lower = p["lower"], width = p["bin_width"];
  double lo = std::min(lower, p["chosen"][0].get<double>()), hi = std::max(lower + width * counts.size(), p["chosen"][1].get<double>());
  for (const auto& [k, v] : p["calibrators"].items()) lo = std::min(lo, v[0].get<double>()), hi = std::max(hi, v[1].get<double>());
  const double span = hi > lo ? hi - lo : 1;
  auto x = [&](double v) { return left + plot_w * (v - lo) / span; };
  const double peak = std::max<double>(1, static_cast<double>(*std::max_element(counts.begin(), counts.end())));
  std::ostringstream s;
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << w << "' height='" << h << "' font-size='10'>";
  s << "<rect x='" << x(p["chosen"][0]) << "' y='5' width='" << x(p["chosen"][1]) - x(p["chosen"][0]) << "' height='" << plot_h
    << "' fill='#eef5e6'/>";
  for (size_t i = 0; i < counts.size(); ++i) {
    // log scale: the tails matter as much as the bulk
    const double bh = plot_h * std::log1p(static_cast<double>(counts[i])) / std::log1p(peak);
    s << "<rect x='" << x(lower + width * i) << "' y='" << 5 + plot_h - bh << "' width='" << std::max(0.5, x(lower + width * (i + 1)) - x(lower + width * i))
      << "' height='" << bh << "' fill='#7aa6d6'/>";
  }
  const char* colors[] = {"#c00", "#d9822b", "#6a3d9a", "#33a02c"};
  int c = 0, row = 0;
  for (const auto& [k, v] : p["calibrators"].items()) {
    for (int e = 0; e < 2; ++e)
      s << "<line x1='" << x(v[e]) << "' x2='" << x(v[e]) << "' y1='5' y2='" << 5 + plot_h << "' stroke='" << colors[c % 4]
        << "' stroke-dasharray='3'/>";
    s << "<text x='" << 10 + 130 * row << "' y='" << h - 25 << "' fill='" << colors[c % 4] << "'>" << esc(k) << " ["
      << fmt(v[0], 3) << ", " << fmt(v[1], 3) << "]</text>";
    ++c, ++row;
  }
  s << "<text x='10' y='" << h - 10 << "'>green band: range used by the model [" << fmt(p["chosen"][0], 3) << ", "
    << fmt(p["chosen"][1], 3) << "]; bars: float activation histogram (log counts)</text></svg>";
  return s.str();
}

}  // namespace

std::string report_html(const json& r) {
  std::ostringstream s;
  s << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>qcal report</title><style>"
       "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:12px}"
       "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td.l{text-align:left}</style></head><body>"
    << "<h1>Quantization report</h1><p>float: <code>" << esc(r["float_model"]) << "</code><br>quantized: <code>"
    << esc(r["quant_model"]) << "</code><br>samples: " << r["samples"] << "<br>calibration: <code>"
    << esc(json_text(r["calibration"])) << "</code><br>pre-processing: <code>" << esc(json_text(r["preprocessing"])) << "</code></p>";
  const json& a = r["accuracy"];
  s << "<h2>Accuracy (" << esc(a["task"]) << ")</h2><table><tr><th>metric</th><th>float</th><th>quantized</th><th>drop</th></tr><tr><td class=l>"
    << esc(a["metric"]) << "</td><td>" << esc(json_text(a["float"])) << "</td><td>" << esc(json_text(a["quantized"])) << "</td><td>"
    << esc(json_text(a["drop"])) << "</td></tr></table>";
  if (a.contains("labels")) {
    const json& l = a["labels"];
    s << "<h3>Against the labels (<code>" << esc(l["source"]) << "</code>)</h3><table><tr><th>metric</th><th>float</th>"
         "<th>quantized</th><th>drop</th></tr>";
    for (const auto& row : labels_rows(l))
      s << "<tr><td class=l>" << esc(row[0]) << "</td><td>" << row[1] << "</td><td>" << row[2] << "</td><td>" << row[3]
        << "</td></tr>";
    s << "</table><p>" << esc(labels_counts(l)) << "</p>";
  }
  s << "<h2>Outputs</h2><table><tr><th>output</th><th>SQNR (dB)</th><th>cosine</th><th title='float against the fake-quant "
       "simulation'>grid SQNR (dB)</th><th title='the simulation against the integer model'>kernels SQNR (dB)</th></tr>";
  for (const json& o : r["outputs"])
    s << "<tr><td class=l>" << esc(o["name"]) << "</td><td>" << fmt(o["sqnr_db"]) << "</td><td>" << fmt(o["cosine"], 5) << "</td><td>"
      << optional_db(o, "grid_sqnr_db") << "</td><td>" << optional_db(o, "kernel_sqnr_db") << "</td></tr>";
  s << "</table><h2>Per-layer SQNR</h2>" << sqnr_chart(r["layers_in_order"]);
  s << "<h2>Worst layers: activation histograms and calibrator ranges</h2>";
  for (const json& p : r["histograms"])
    s << "<h3>tensor " << p["tensor"] << " <code>" << esc(short_name(p["name"], 80)) << "</code></h3>" << histogram_chart(p);
  s << "<h2>Layers, worst first</h2><table><tr><th>op</th><th>type</th><th>tensor</th><th>isolated SQNR</th><th>accumulated SQNR</th>"
       "<th title='float against the fake-quant simulation'>grid SQNR</th><th title='the simulation against the integer model'>kernels SQNR</th>"
       "<th>cosine</th><th>RMSE/scale</th><th>clipped</th><th>float range</th><th>scale</th><th>zp</th></tr>";
  int n = 0;
  for (const json& l : r["layers"]) {
    if (n++ >= 60) break;
    s << "<tr><td>" << op_number(l) << "</td><td class=l>" << esc(l["op"]) << "</td><td class=l>" << esc(short_name(l["name"]))
      << "</td><td>" << (l["isolated_sqnr_db"].is_null() ? "-" : fmt(l["isolated_sqnr_db"])) << "</td><td>" << fmt(l["sqnr_db"])
      << "</td><td>" << optional_db(l, "grid_sqnr_db") << "</td><td>" << optional_db(l, "kernel_sqnr_db")
      << "</td><td>" << fmt(l["cosine"], 4) << "</td><td>" << (l.contains("rmse_over_scale") ? fmt(l["rmse_over_scale"]) : "-")
      << "</td><td>" << fmt(100 * l["clip_fraction"].get<double>(), 3) << "%</td><td>[" << fmt(l["float_min"], 3) << ", "
      << fmt(l["float_max"], 3) << "]</td><td>" << (l.contains("scale") ? fmt(l["scale"], 5) : "-") << "</td><td>"
      << (l.contains("zero_point") ? json_text(l["zero_point"]) : "-") << "</td></tr>";
  }
  s << "</table></body></html>\n";
  return s.str();
}

void write_report(const std::filesystem::path& dir, const ReportData& data) {
  std::filesystem::create_directories(dir);
  const json r = report_json(data);
  write_file_atomic(dir / "report.json", json_text(r, 1) + "\n");
  write_file_atomic(dir / "report.md", report_markdown(r));
  write_file_atomic(dir / "report.html", report_html(r));
}

}  // namespace qcal
