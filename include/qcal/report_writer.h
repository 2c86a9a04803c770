// Task accuracy and the report files (report.json, report.md, report.html).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qcal/dataset.h"
#include "qcal/labels.h"
#include "qcal/quantize.h"
#include "qcal/report.h"
#include "qcal/ssd.h"

namespace qcal {

enum class Task { kClassify, kDetect, kSegment, kLandmarks, kGeneric };
Task parse_task(const std::string& name);  // throws qcal::Error naming the choices
const char* task_name(Task task);

// One detection (or ground-truth box) of one sample: [ymin, xmin, ymax, xmax], normalized.
struct BoxDetection {
  float box[4];
  int cls;
  float score;
  int sample;
};
// mAP@0.5 of `found` against `truth` over the classes in `truth` (all-point interpolation,
// PASCAL VOC 2010+); a detection matches an unused truth box of its sample and class with
// IoU >= 0.5. No truth boxes: 1 when nothing was found, else 0.
double map50(const std::vector<BoxDetection>& truth, const std::vector<BoxDetection>& found);

// Accumulates a task's accuracy of the quantized model against the float model (and
// against labels, for classification) over samples.
class AccuracyEvaluator {
 public:
  // input_width normalizes landmark errors (landmarks are in input pixels).
  AccuracyEvaluator(Task task, int input_width);
  // Both models' outputs for one sample, as float; label < 0 when unknown.
  void add(const std::vector<HostTensor>& float_outputs, const std::vector<HostTensor>& quant_outputs, int label = -1);
  // {"task", "metric", "float", "quantized", "drop", ...task details, "outputs": [...]}
  nlohmann::json result(const std::vector<OutputReport>& outputs) const;
  // --task detect on raw SSD outputs (boxes [1,N,B], scores [1,N,C]): anchors and decoding.
  void set_ssd(std::shared_ptr<const SsdConfig> ssd) { ssd_ = std::move(ssd); }
  // --task detect against box labels: add()'s label is then an index into labels->boxes.
  void set_box_labels(std::shared_ptr<const Labels> labels) { box_labels_ = std::move(labels); }

 private:
  using Detection = BoxDetection;
  // Both models' detections and the labelled boxes of the labelled samples (class-agnostic
  // when the model scores one class).
  nlohmann::json box_label_result() const;
  void add_raw_ssd(const std::vector<HostTensor>& f, const std::vector<HostTensor>& q, size_t boxes, size_t scores);

  Task task_;
  int input_width_;
  size_t samples_ = 0;
  size_t top1_agree_ = 0, top5_agree_ = 0, labelled_ = 0, float_correct_ = 0, quant_correct_ = 0;
  size_t float_top5_correct_ = 0, quant_top5_correct_ = 0;
  uint64_t pixels_ = 0, agree_ = 0;
  std::vector<uint64_t> inter_, uni_;
  double landmark_err_ = 0;
  uint64_t landmark_count_ = 0;
  std::vector<Detection> truth_, found_;
  std::shared_ptr<const SsdConfig> ssd_;
  std::shared_ptr<const Labels> box_labels_;
  std::vector<Detection> label_truth_;
  std::vector<bool> sample_labelled_;  // by sample index (1-based, as Detection::sample)
  int model_classes_ = 0;               // raw SSD score columns; 0 when unknown
};

// Everything a report shows.
struct ReportData {
  std::string float_model, quant_model;
  nlohmann::json preprocessing, calibration, accuracy;
  std::string matching;
  size_t samples = 0;
  std::vector<LayerReport> layers;
  std::vector<OutputReport> outputs;
  const StatsCollector* float_stats = nullptr;  // activation histograms (for the pictures)
  std::shared_ptr<const QuantizationComparison> comparison;  // keeps float_stats alive
  nlohmann::json preprocessing_dataset;                   // what the dataset loader saw
  std::string scheme;
  int histograms = 6;                           // worst layers shown with their histogram
};

nlohmann::json report_json(const ReportData& data);
// A layer's op number in the float model (what qcal inspect shows and --keep-float takes),
// or "-" for a tensor no float op writes (a graph input's QUANTIZE).
std::string op_number(const nlohmann::json& layer);
std::string report_markdown(const nlohmann::json& report);
std::string report_html(const nlohmann::json& report);
// Writes DIR/report.json, report.md and report.html (each atomically).
void write_report(const std::filesystem::path& dir, const ReportData& data);

}  // namespace qcal

namespace qcal {

struct ReportOptions {
  Task task = Task::kGeneric;
  IntegerNumerics numerics = IntegerNumerics::kXnnpack;
  int threads = 1;
  // --task detect on raw SSD outputs (--anchors / --ssd-anchors); nullptr: post-processed outputs.
  std::shared_ptr<const SsdConfig> ssd;
  // Ground truth (--labels; class labels for --task classify, box labels for --task detect):
  // accuracy of both models against it becomes the headline metric; report.json's
  // accuracy.labels has the details.
  std::shared_ptr<const Labels> labels;
};

// Runs both models over the dataset (pre-processed for the float model) and gathers
// everything a report shows. Labels the models by file name.
ReportData compare_models(std::shared_ptr<const Model> float_model, const std::string& float_label,
                          std::shared_ptr<const Model> quant_model, const std::string& quant_label, const Preprocessing& pre,
                          const DatasetOptions& dataset, const ReportOptions& options);

}  // namespace qcal

namespace qcal {

// Automatic float fallback (quantize --max-drop): while the task metric's drop exceeds
// max_drop, return the worst-ranked quantized layer (isolated SQNR on the evaluation data)
// to float; keep the change only if the drop improves; stop when the target holds, after
// max_steps tries, or when no candidate is left.
struct FallbackResult {
  Model model;
  QuantizeSummary summary;
  std::vector<std::string> added_rules;  // "#N" keep-float rules, with what they were
  std::vector<std::string> rule_notes;   // "CONV_2D 'name' (isolated SQNR 12.3 dB)"
  nlohmann::json steps = nlohmann::json::array();
  double drop = 0;
  bool met = false;
};
FallbackResult quantize_with_fallback(std::shared_ptr<const Model> float_model, const std::string& label,
                                      const TensorRanges& ranges, const QuantizeOptions& options, const Preprocessing& pre,
                                      const DatasetOptions& eval, const ReportOptions& report_options, double max_drop,
                                      int max_steps, const std::function<void(const std::string&)>& on_step = {});

}  // namespace qcal
