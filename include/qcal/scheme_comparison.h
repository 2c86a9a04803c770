// qcal compare: several schemes built from one calibration pass, evaluated side by side.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qcal/calibration.h"
#include "qcal/calibrators.h"
#include "qcal/quantize.h"

namespace qcal {

struct SchemeSpec {
  std::string label;       // as given: "int8:kl"
  std::string scheme;      // int8, fp16, dynamic, float32
  std::string calibrator;  // int8 only
};
// "int8:minmax,int8:kl,fp16,dynamic" -> specs; throws qcal::Error naming a bad entry.
std::vector<SchemeSpec> parse_schemes(const std::string& list);

Model build_scheme(const Model& float_model, const SchemeSpec& spec, const CalibrationData* calibration,
                   const QuantizeOptions& options, const CalibratorOptions& calibrator_options, QuantizeSummary& summary);

// Median single-thread latency of qcal's executor on the model.
double median_latency_ms(const Model& model, int runs);

struct SchemeResult {
  std::string label, file;
  int64_t bytes = 0;
  nlohmann::json accuracy;
  double min_output_sqnr_db = 0;
  std::string worst_layer;
  double worst_layer_sqnr_db = 0;
  double latency_ms = 0;
  std::optional<double> litert_ms;  // LiteRT's own median (litert_bench.h), when measured
  int kept_float = 0;
};

// LiteRT's latency of the float model the schemes start from, or why it was not measured.
struct LitertBaseline {
  std::optional<double> float_ms;
  std::string note;
};

nlohmann::json comparison_json(const std::vector<SchemeResult>& results, const LitertBaseline& litert = {});
std::string comparison_markdown(const nlohmann::json& comparison);
std::string comparison_html(const nlohmann::json& comparison);

}  // namespace qcal
