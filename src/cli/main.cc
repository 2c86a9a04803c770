// The qcal command line: argument parsing and printing only; the work is in libqcal.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <unistd.h>
#include <map>
#include <sstream>

#include "qcal/calibration.h"
#include "qcal/calibrators.h"
#include "qcal/dataset.h"
#include "qcal/error.h"
#include "qcal/json_read.h"
#include "qcal/inspect.h"
#include "qcal/litert_bench.h"
#include "qcal/litert_placement.h"
#include "qcal/labels.h"
#include "qcal/model_io.h"
#include "qcal/executor.h"
#include "qcal/npy.h"
#include "qcal/passes.h"
#include "qcal/quantize.h"
#include "qcal/report_writer.h"
#include "qcal/scheme_comparison.h"
#include "qcal/run_tools.h"

namespace fs = std::filesystem;

namespace {

// Pre-processing and dataset flags, shared by every command that reads a dataset.
struct DataArgs {
  std::string images, inputs, resize, color, layout;  // empty: not given (recorded, else stretch/rgb/nhwc)
  std::vector<float> mean, std;
  int num = 0, threads = 1;
  uint32_t seed = 0;
  bool quiet = false;
  uint64_t max_pixels = 40'000'000;
};

void add_data_options(CLI::App* cmd, DataArgs& a) {
  cmd->add_option("--images", a.images, "folder of images (jpg/png/bmp/webp, recursive), or a text file listing image paths, one per line, relative to it");
  cmd->add_option("--inputs", a.inputs, "folder of .npy samples instead of images (multi-input models: one "
                                        "sub-folder per sample holding <input name>.npy)");
  cmd->add_option("--num", a.num, "use N samples (reproducible sample with --seed); default all");
  cmd->add_option("--max-pixels", a.max_pixels, "skip images larger than this many pixels, from their header (default 40000000)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 32));
  cmd->add_option("--seed", a.seed, "seed for --num");
  cmd->add_option("--resize", a.resize, "stretch | crop | letterbox (default: as calibrated, else stretch)")
      ->check(CLI::IsMember({"stretch", "crop", "letterbox"}));
  cmd->add_option("--color", a.color, "rgb | bgr | gray (default: as calibrated, else rgb)")->check(CLI::IsMember({"rgb", "bgr", "gray"}));
  cmd->add_option("--mean", a.mean, "per-channel mean on 0..255 pixels (x'=(x-mean)/std)")->delimiter(',');
  cmd->add_option("--std", a.std, "per-channel std on 0..255 pixels")->delimiter(',');
  cmd->add_option("--layout", a.layout, "nhwc | nchw (default: as calibrated, else nhwc)")->check(CLI::IsMember({"nhwc", "nchw"}));
  cmd->add_option("--threads", a.threads, "worker threads")->check(CLI::Range(1, 256));
  cmd->add_flag("--quiet", a.quiet, "no progress output");
}

// --task detect on raw SSD outputs (boxes + scores per anchor): one set of flags for report,
// compare and quantize (--report, --max-drop); one command runs per process.
qcal::SsdFlags g_ssd_flags;

void add_ssd_options(CLI::App* cmd) {
  qcal::SsdFlags& f = g_ssd_flags;
  cmd->add_option("--anchors", f.anchors_file,
                  "--task detect on raw SSD outputs: anchors [N,4] y_center,x_center,h,w (.npy, or .csv one a line)");
  cmd->add_option("--ssd-anchors", f.ssd_anchors,
                  "--task detect on raw SSD outputs: a preset (mediapipe-face-short, mediapipe-face-full) and/or "
                  "SsdAnchorsCalculator options, e.g. num_layers=4,min_scale=0.1484375,max_scale=0.75,input_size=128,"
                  "strides=8:16:16:16,aspect_ratios=1.0,fixed_anchor_size=true");
  cmd->add_option("--box-scale", f.box_scale, "raw SSD boxes: x/y/w/h scale (e.g. the input size; preset's, else 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--box-order", f.box_order, "raw SSD boxes: xywh (MediaPipe) or yxhw (TF, default without a preset)")
      ->check(CLI::IsMember({"xywh", "yxhw"}));
  cmd->add_option("--box-size", f.box_size, "raw SSD boxes: linear (MediaPipe, default) or exp (TF) sizes")
      ->check(CLI::IsMember({"linear", "exp"}));
  cmd->add_option("--score-threshold", f.score_threshold, "raw SSD: minimum sigmoid score (preset's, else 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--nms-iou", f.iou_threshold, "raw SSD: NMS IoU threshold (default 0.3, weighted NMS)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--max-detections", f.max_detections, "raw SSD: detections kept per image (default: all)")
      ->check(CLI::Range(0, 100000));
}

std::shared_ptr<const qcal::SsdConfig> ssd_config(qcal::Task task) {
  const qcal::SsdFlags& f = g_ssd_flags;
  if (!f.any()) {
    if (f.box_scale > 0 || !f.box_order.empty() || !f.box_size.empty() || f.score_threshold >= 0 || f.iou_threshold >= 0 ||
        f.max_detections >= 0)
      throw qcal::Error("--box-scale/--box-order/--box-size/--score-threshold/--nms-iou/--max-detections describe raw SSD "
                        "outputs: give --anchors FILE or --ssd-anchors SPEC too");
    return nullptr;
  }
  if (task != qcal::Task::kDetect) throw qcal::Error("--anchors/--ssd-anchors are for --task detect");
  static std::shared_ptr<const qcal::SsdConfig> config;  // built (and announced) once
  if (!config) {
    config = std::make_shared<qcal::SsdConfig>(qcal::make_ssd_config(f));
    std::printf("detections: raw SSD outputs decoded with %s (%zu anchors)\n", config->source.c_str(), config->anchors.size());
  }
  return config;
}

// The effective pre-processing, by precedence: flags; what a calibration recorded (the
// inputs its ranges were measured on, from a cache or a quantized model's record); the
// model's normalization metadata; x/255 (stated). A flag that differs from the record wins
// with a warning: evaluating on other inputs than calibration saw is a silent classic.
qcal::Preprocessing resolve_preprocessing(const DataArgs& a, const qcal::Model& m,
                                          const std::optional<qcal::Preprocessing>& recorded = std::nullopt) {
  qcal::Preprocessing p = recorded.value_or(qcal::Preprocessing{});
  if (recorded) p.normalization_source = "as calibrated (" + recorded->normalization_source + ")";
  std::vector<std::string> overrides;
  auto flag = [&](const std::string& value, const std::string& name, const std::string& was, auto set) {
    if (value.empty()) return;
    set(value);
    if (recorded && value != was) overrides.push_back(name + " " + value + " (calibrated with " + was + ")");
  };
  flag(a.resize, "--resize", qcal::to_string(p.resize), [&](const std::string& v) { p.resize = qcal::parse_resize(v); });
  flag(a.color, "--color", qcal::to_string(p.color), [&](const std::string& v) { p.color = qcal::parse_color(v); });
  flag(a.layout, "--layout", qcal::to_string(p.layout), [&](const std::string& v) { p.layout = qcal::parse_layout(v); });
  if (a.mean.empty() != a.std.empty()) throw qcal::Error("give --mean and --std together");
  if (!a.mean.empty()) {
    for (float s : a.std)
      if (!(s > 0)) throw qcal::Error("--std values must be positive");
    if (recorded && (a.mean != recorded->mean || a.std != recorded->std))
      overrides.push_back("--mean/--std (calibrated with mean " + qcal::json_text(nlohmann::json(recorded->mean)) + " std " +
                          qcal::json_text(nlohmann::json(recorded->std)) + ")");
    p.mean = a.mean;
    p.std = a.std;
    p.normalization_source = "user";
  } else if (recorded) {
    // the record's normalization stands
  } else if (auto md = qcal::metadata_normalization(m)) {
    p.mean = md->first;
    p.std = md->second;
    p.normalization_source = "metadata";
  } else {
    p.normalization_source = "default: x/255, the model has no normalization metadata; set --mean/--std";
  }
  // Refused now, before any output folder exists (stream_dataset checks again).
  const qcal::Subgraph& g = m.subgraphs.at(0);
  if (!a.images.empty() && g.inputs.size() == 1) qcal::check_normalization(p, g.tensors[g.inputs[0]]);
  for (const std::string& o : overrides)
    std::cerr << "warning: " << o << ": the flag wins, but the quantized ranges were measured on other inputs\n";
  return p;
}

// The pre-processing a quantized model's calibration used, from its qcal record.
std::optional<qcal::Preprocessing> recorded_preprocessing(const qcal::Model& quantized) {
  const auto record = qcal::quantization_record(quantized);
  if (!record || !record->contains("preprocessing")) return std::nullopt;
  try {
    return qcal::Preprocessing::from_json(record->at("preprocessing"));
  } catch (const std::exception& e) {
    throw qcal::Error(std::string("the model's qcal record has an unreadable pre-processing: ") + e.what());
  }
}

// Refuses, before any work, an output that would land on one of the command's inputs (also
// through links) or onto something that is not a regular file (a folder output: a folder).
void check_output(const std::string& output, const std::vector<std::string>& inputs, bool folder = false) {
  const std::vector<fs::path> paths(inputs.begin(), inputs.end());
  qcal::check_output_path(output, paths, folder);
}

// Dataset progress on stderr: a bar on a terminal, else a line per tenth.
class ProgressBar {
 public:
  void operator()(size_t done, size_t total, double seconds) {
    if (total == 0) return;
    if (done < last_done_) last_decile_ = 0;  // a new pass over the data
    last_done_ = done;
    if (tty_) {
      const int width = 30, filled = static_cast<int>(width * done / total);
      std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, ' ') << "] " << done << "/" << total
                << " images, " << static_cast<int>(done / std::max(seconds, 1e-9)) << "/s " << std::flush;
      if (done == total) std::cerr << "\n";
    } else if (done == total || done * 10 / total > last_decile_) {
      last_decile_ = done * 10 / total;
      std::cerr << "progress: " << done << "/" << total << " images (" << static_cast<int>(seconds) << " s)\n";
    }
  }

 private:
  bool tty_ = isatty(2);
  size_t last_decile_ = 0, last_done_ = 0;
};

qcal::DatasetOptions dataset_options(const DataArgs& a) {
  qcal::DatasetOptions o;
  o.images = a.images;
  o.inputs = a.inputs;
  o.num = a.num;
  o.seed = a.seed;
  o.threads = a.threads;
  if (!a.quiet) o.on_progress = ProgressBar{};
  o.on_skip = [](const std::string& file, const std::string& why) { std::cerr << "warning: skipping " << file << ": " << why << "\n"; };
  o.max_pixels = a.max_pixels;
  return o;
}

void print_dataset_report(const qcal::DatasetReport& r) {
  std::cout << "dataset: " << r.used << " samples used of " << r.found << " found";
  if (!r.skipped.empty()) std::cout << ", " << r.skipped.size() << " skipped (unreadable)";
  if (!r.duplicates.empty()) std::cout << ", " << r.duplicates.size() << " exact duplicates";
  std::cout << "\n";
  for (size_t c = 0; c < r.channel_mean.size(); ++c)
    std::printf("  input channel %zu: mean %.4f std %.4f min %.4f max %.4f\n", c, r.channel_mean[c], r.channel_std[c],
                r.channel_min[c], r.channel_max[c]);
  for (const auto& w : r.warnings) std::cout << "warning: " << w << "\n";
}

struct CalibrateArgs {
  std::string model, output;
  DataArgs data;
};

int run_calibrate(const CalibrateArgs& a) {
  check_output(a.output, {a.model});
  auto model = std::make_shared<qcal::Model>(qcal::read_model(a.model));
  if (a.data.images.empty() == a.data.inputs.empty()) throw qcal::Error("give --images DIR or --inputs DIR");
  const qcal::Preprocessing pre = resolve_preprocessing(a.data, *model);
  if (!a.data.images.empty()) std::cout << "pre-processing: " << pre.describe() << "\n";
  qcal::CalibrationOptions opt;
  opt.dataset = dataset_options(a.data);
  opt.per_channel_tensors = qcal::channel_statistics_tensors(*model);
  const qcal::CalibrationData c = qcal::collect_statistics(model, a.model, pre, opt);
  print_dataset_report(c.dataset);
  c.save(a.output);
  std::printf("statistics for %zu tensors over %zu samples in %.2f s (%.1f samples/s, %d thread%s) -> %s\n",
              c.tensors.size(), c.samples, c.seconds, c.samples / c.seconds, a.data.threads, a.data.threads == 1 ? "" : "s",
              a.output.c_str());
  return 0;
}

struct InspectArgs {
  std::string model;
  bool json = false;
};

int run_inspect(const InspectArgs& a) {
  const qcal::Model m = qcal::read_model(a.model);
  if (a.json)
    std::cout << qcal::json_text(qcal::inspect_json(m), 1) << "\n";
  else
    std::cout << qcal::inspect_text(m, a.model);
  return 0;
}

struct ReportArgs {
  std::string float_model, quant_model, output, task = "generic", labels;
  qcal::IntegerNumerics numerics = qcal::IntegerNumerics::kXnnpack;
  DataArgs data;
};

void print_report_summary(const qcal::ReportData& d, const std::string& dir) {
  const nlohmann::json r = qcal::report_json(d);
  const nlohmann::json& a = r["accuracy"];
  std::printf("report over %zu samples (tensors matched by %s)\n", d.samples, d.matching.c_str());
  std::printf("accuracy (%s): %s float %s quantized %s drop %s\n", a["task"].get<std::string>().c_str(),
              a["metric"].get<std::string>().c_str(), qcal::json_text(a["float"]).c_str(), qcal::json_text(a["quantized"]).c_str(),
              qcal::json_text(a["drop"]).c_str());
  if (a.contains("labels")) {
    const nlohmann::json& l = a["labels"];
    if (l.contains("float_map50"))
      std::printf("labels (%s): %zu labelled, %zu without a label, %zu boxes; mAP@0.5%s float %s quantized %s drop %s\n",
                  l["source"].get<std::string>().c_str(), l["labelled_samples"].get<size_t>(),
                  l["unlabelled_samples"].get<size_t>(), l["labelled_boxes"].get<size_t>(),
                  l["class_agnostic"].get<bool>() ? " (class-agnostic)" : "", qcal::json_text(l["float_map50"]).c_str(),
                  qcal::json_text(l["quantized_map50"]).c_str(), qcal::json_text(l["map50_drop"]).c_str());
    else
      std::printf("labels (%s): %zu labelled, %zu without a label; top-5 accuracy float %s quantized %s\n",
                  l["source"].get<std::string>().c_str(), l["labelled_samples"].get<size_t>(),
                  l["unlabelled_samples"].get<size_t>(), qcal::json_text(l["float_top5_accuracy"]).c_str(),
                  qcal::json_text(l["quantized_top5_accuracy"]).c_str());
    if (const size_t n = l["entries_without_sample"].get<size_t>())
      std::printf("warning: %zu label entr%s no evaluated sample (e.g. %s)\n", n, n == 1 ? "y names" : "ies name",
                  l["entries_without_sample_examples"][0].get<std::string>().c_str());
  }
  for (const auto& o : r["outputs"]) {
    std::printf("  output '%s': SQNR %.2f dB, cosine %.5f", o["name"].get<std::string>().c_str(), o["sqnr_db"].get<double>(),
                o["cosine"].get<double>());
    if (o.contains("grid_sqnr_db"))
      std::printf(" (grid %.2f dB, kernels %.2f dB)", o["grid_sqnr_db"].get<double>(), o["kernel_sqnr_db"].get<double>());
    std::printf("\n");
  }
  std::printf("worst layers (isolated SQNR, accumulated SQNR):\n");
  int n = 0;
  for (const auto& l : r["layers"]) {
    if (n++ >= 5) break;
    std::printf("  op %s %s '%s': %s dB, %.2f dB\n", qcal::op_number(l).c_str(), l["op"].get<std::string>().c_str(),
                l["name"].get<std::string>().c_str(),
                l["isolated_sqnr_db"].is_null() ? "-" : std::to_string(l["isolated_sqnr_db"].get<double>()).c_str(),
                l["sqnr_db"].get<double>());
  }
  std::printf("wrote %s/report.json, report.md, report.html\n", dir.c_str());
}

// --labels FILE.csv | subfolders (none: nullptr); --task detect reads box labels.
std::shared_ptr<const qcal::Labels> load_labels_arg(const std::string& spec, const DataArgs& data, const std::string& task) {
  if (spec.empty()) return nullptr;
  if (task == "detect") {
    if (spec == "subfolders") throw qcal::Error("--labels subfolders is for --task classify; --task detect takes a box CSV");
    return std::make_shared<qcal::Labels>(qcal::read_box_label_csv(spec));
  }
  return std::make_shared<qcal::Labels>(qcal::load_labels(spec, qcal::images_root(data.images)));
}

// --task, --labels and the raw-SSD flags, resolved once per command.
struct TaskSetup {
  qcal::Task task = qcal::Task::kGeneric;
  std::shared_ptr<const qcal::SsdConfig> ssd;
  std::shared_ptr<const qcal::Labels> labels;
};

// Resolves the evaluation's task and ground truth (labels joined against `eval`) before any
// work is done or any file is written. The evaluator also meets all-zero outputs of the
// model's shapes, so it refuses now what it would otherwise refuse after calibration and a
// first quantized model.
TaskSetup prepare_task(const qcal::Model& m, const std::string& task, const std::string& labels, const DataArgs& eval) {
  TaskSetup s;
  s.task = qcal::parse_task(task);
  s.ssd = ssd_config(s.task);
  if (!labels.empty()) {
    if (s.task != qcal::Task::kClassify && s.task != qcal::Task::kDetect)
      throw qcal::Error("--labels needs --task classify or --task detect");
    s.labels = load_labels_arg(labels, eval, task);
  }
  const qcal::Subgraph& g = m.subgraphs.at(0);
  std::vector<qcal::HostTensor> outputs;
  for (int32_t o : g.outputs)
    outputs.push_back(qcal::HostTensor::zeros(g.tensors[o].name, qcal::DType::kFloat32, g.tensors[o].shape));
  qcal::AccuracyEvaluator probe(s.task, 1);
  probe.set_ssd(s.ssd);
  probe.add(outputs, outputs);
  return s;
}

qcal::ReportData run_comparison(std::shared_ptr<const qcal::Model> fm, const std::string& float_label,
                                std::shared_ptr<const qcal::Model> qm, const std::string& quant_label, const DataArgs& data,
                                const TaskSetup& setup, qcal::IntegerNumerics numerics,
                                const std::optional<qcal::Preprocessing>& calibrated) {
  if (data.images.empty() == data.inputs.empty()) throw qcal::Error("the report needs --images DIR or --inputs DIR");
  const qcal::Preprocessing pre = resolve_preprocessing(data, *fm, calibrated);
  if (!data.images.empty()) std::cout << "pre-processing: " << pre.describe() << "\n";
  qcal::ReportOptions ro;
  ro.task = setup.task;
  ro.ssd = setup.ssd;
  ro.numerics = numerics;
  ro.threads = data.threads;
  ro.labels = setup.labels;
  return qcal::compare_models(fm, float_label, qm, quant_label, pre, dataset_options(data), ro);
}

// Where the written model leaves more ops outside LiteRT's XNNPACK delegate than the float
// model did, it will likely run slower than float on LiteRT's CPU path: say so, in one line.
void print_litert_placement_change(const qcal::Model& float_model, const qcal::Model& written) {
  const qcal::LitertPlacement before = qcal::litert_placement(float_model), after = qcal::litert_placement(written);
  const int outside_before = static_cast<int>(before.ops.size()) - before.delegated;
  const int outside_after = static_cast<int>(after.ops.size()) - after.delegated;
  if (outside_after <= outside_before) return;
  std::map<std::string, int> ops;
  for (const qcal::OpPlacement& o : after.ops)
    if (!o.xnnpack) ++ops[written.subgraphs[0].operators[o.op].code.name()];
  std::string list;
  for (const auto& [name, n] : ops) list += (list.empty() ? "" : ", ") + name + " x" + std::to_string(n);
  std::printf("note: LiteRT's XNNPACK delegate leaves %d ops of this model to TFLite's reference kernels (%d in the "
              "float model): %s; it may run slower than float there (qcal inspect lists them)\n",
              outside_after, outside_before, list.c_str());
}

int run_report(const ReportArgs& a) {
  check_output(a.output, {a.float_model, a.quant_model, a.labels, a.data.images, a.data.inputs}, true);
  qcal::OutputFolder folder(a.output, "report.json");
  auto fm = std::make_shared<qcal::Model>(qcal::read_model(a.float_model));
  auto qm = std::make_shared<qcal::Model>(qcal::read_model(a.quant_model));
  const TaskSetup setup = prepare_task(*fm, a.task, a.labels, a.data);
  const qcal::ReportData d =
      run_comparison(fm, a.float_model, qm, a.quant_model, a.data, setup, a.numerics, recorded_preprocessing(*qm));
  qcal::write_report(folder.path(), d);
  folder.commit();
  print_report_summary(d, a.output);
  return 0;
}

struct QuantizeArgs {
  std::string model, output, scheme = "int8", calib, calibrator = "minmax", io = "float";
  double percentile = 99.99;
  std::vector<std::string> keep_float;
  bool per_tensor = false;
  bool no_equalize = false;
  bool no_weight_correction = false;
  bool no_fuse_activations = false;
  bool all_int8 = false;
  DataArgs data;
  std::string report_dir, eval_images, task = "generic", labels;
  bool bias_correction = false;
  double max_drop = -1;
  int max_fallback_steps = 10;
};

// --keep-float @FILE reads one rule per line (# starts a comment), e.g. the list
// `qcal quantize --max-drop` writes.
std::vector<std::string> expand_keep_float(const std::vector<std::string>& args) {
  std::vector<std::string> rules;
  for (const std::string& a : args) {
    if (a.empty() || a[0] != '@') {
      rules.push_back(a);
      continue;
    }
    const std::vector<uint8_t> bytes = qcal::read_file_bytes(a.substr(1));
    std::istringstream in(std::string(bytes.begin(), bytes.end()));
    for (std::string line; std::getline(in, line);) {
      line = line.substr(0, line.find('#'));
      line.erase(0, line.find_first_not_of(" \t\r"));
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (!line.empty()) rules.push_back(line);
    }
  }
  return rules;
}

// What a model's qcal_quantization record says about its calibration.
nlohmann::json calibration_record(const qcal::CalibrationData& c, const std::string& method) {
  return {{"method", method}, {"samples", c.samples}, {"preprocessing", c.from_images ? c.preprocessing.describe() : "npy inputs"}};
}

// The calibration an int8 rewrite needs: a cache (checked against the model), or one pass
// over --images/--inputs now.
qcal::CalibrationData obtain_calibration(const QuantizeArgs& a, std::shared_ptr<const qcal::Model> model) {
  const bool have_data = !a.data.images.empty() || !a.data.inputs.empty();
  if (a.calib.empty() == !have_data)
    throw qcal::Error("--scheme int8 needs calibration: give --calib CALIB.json or --images DIR (or --inputs DIR), one of them");
  if (!a.calib.empty()) {
    qcal::CalibrationData c = qcal::CalibrationData::load(a.calib, *model);
    std::printf("calibration: %s (%zu samples; pre-processing: %s)\n", a.calib.c_str(), c.samples,
                c.from_images ? c.preprocessing.describe().c_str() : "npy inputs");
    return c;
  }
  const qcal::Preprocessing pre = resolve_preprocessing(a.data, *model);
  if (!a.data.images.empty()) std::cout << "pre-processing: " << pre.describe() << "\n";
  qcal::CalibrationOptions opt;
  opt.dataset = dataset_options(a.data);
  opt.per_channel_tensors = qcal::channel_statistics_tensors(*model);
  qcal::CalibrationData c = qcal::collect_statistics(model, a.model, pre, opt);
  print_dataset_report(c.dataset);
  std::printf("calibration: %zu samples in %.2f s\n", c.samples, c.seconds);
  return c;
}

int run_quantize(const QuantizeArgs& a) {
  std::string gate_failure;  // --max-drop's target not met: exit 4 after writing what was found
  if (!a.labels.empty() && a.report_dir.empty() && a.max_drop < 0)
    throw qcal::Error("--labels is for the evaluation of --report DIR or --max-drop X");
  check_output(a.output, {a.model, a.calib, a.labels});
  std::optional<qcal::OutputFolder> report_folder;
  if (!a.report_dir.empty()) {
    check_output(a.report_dir, {a.model, a.calib, a.labels, a.output, a.data.images, a.data.inputs, a.eval_images}, true);
    report_folder.emplace(a.report_dir, "report.json");
  }
  auto model = std::make_shared<qcal::Model>(qcal::read_model(a.model));
  qcal::check_float_model(*model, a.model);
  const auto size_before = fs::file_size(a.model);
  // --report and --max-drop evaluate on --eval-images, else on the calibration data.
  DataArgs eval = a.data;
  if (!a.eval_images.empty()) eval.images = a.eval_images, eval.inputs.clear();
  TaskSetup setup;
  if (!a.report_dir.empty() || a.max_drop >= 0) setup = prepare_task(*model, a.task, a.labels, eval);
  qcal::QuantizeOptions opt;
  opt.io = a.io == "int8" ? qcal::IoType::kInt8 : a.io == "uint8" ? qcal::IoType::kUInt8 : qcal::IoType::kFloat;
  opt.per_tensor = a.per_tensor;
  opt.equalize = !a.no_equalize;
  opt.correct_weight_rounding = !a.no_weight_correction;
  opt.fuse_activations = !a.no_fuse_activations;
  opt.all_int8 = a.all_int8;
  opt.keep_float = expand_keep_float(a.keep_float);
  qcal::QuantizeSummary summary;
  nlohmann::json record = {{"tool", "qcal 0.1.0"}, {"source_model", fs::path(a.model).filename().string()},
                           {"source_fingerprint", qcal::model_fingerprint(*model)}};
  qcal::Model out;
  std::optional<qcal::Preprocessing> calibrated;  // what the ranges were measured on: evaluation uses it too
  if (a.scheme == "int8") {
    const qcal::CalibrationData calib = obtain_calibration(a, model);
    if (calib.from_images) {
      calibrated = calib.preprocessing;
      record["preprocessing"] = calib.preprocessing.to_json();
    }
    qcal::CalibratorOptions copt;
    copt.percentile = a.percentile;
    const qcal::TensorRanges ranges = qcal::ranges_from_calibration(calib, a.calibrator, copt, *model);
    opt.channel_ranges = qcal::channel_ranges_from_calibration(calib);  // equalization, weight-rounding correction
    out = qcal::quantize_int8(*model, ranges, opt, summary);
    if (summary.quantized_ops == 0)
      throw qcal::Error(a.model + ": int8: no op could be quantized" +
                        (summary.kept_float.empty() ? std::string()
                                                    : " (op " + std::to_string(summary.kept_float[0].op) + " " +
                                                          summary.kept_float[0].op_name + ": " + summary.kept_float[0].reason + ")") +
                        "; nothing written");
    if (a.max_drop >= 0) {
      if (eval.images.empty() && eval.inputs.empty())
        throw qcal::Error("--max-drop evaluates candidates: give --eval-images (or --images)");
      qcal::ReportOptions ro;
      ro.task = setup.task;
      ro.ssd = setup.ssd;
      ro.threads = a.data.threads;
      ro.labels = setup.labels;
      const qcal::Preprocessing pre = resolve_preprocessing(eval, *model, calibrated);
      qcal::FallbackResult fr = qcal::quantize_with_fallback(model, a.model, ranges, opt, pre, dataset_options(eval), ro,
                                                             a.max_drop, a.max_fallback_steps,
                                                             [](const std::string& line) { std::printf("%s\n", line.c_str()); });
      out = std::move(fr.model);
      summary = std::move(fr.summary);
      std::string rules = "# --keep-float rules found by qcal quantize --max-drop " + std::to_string(a.max_drop) + " (" +
                          a.task + "); use with --keep-float @FILE\n";
      for (const auto& r : opt.keep_float) rules += r + "\n";
      for (size_t k = 0; k < fr.added_rules.size(); ++k) rules += fr.added_rules[k] + "  # " + fr.rule_notes[k] + "\n";
      const std::string rules_file = a.output + ".keep-float.txt";
      qcal::write_file_atomic(rules_file, rules);
      std::printf("fallback: drop %.6g %s the target %.6g with %zu ops returned to float; rules in %s\n", fr.drop,
                  fr.met ? "meets" : "does NOT meet", a.max_drop, fr.added_rules.size(), rules_file.c_str());
      record["fallback"] = {{"max_drop", a.max_drop}, {"drop", fr.drop}, {"met", fr.met}, {"steps", fr.steps},
                            {"task", a.task}};
      if (!fr.met) {
        char line[160];
        std::snprintf(line, sizeof line, "--max-drop %.6g not met: the drop is %.6g with the best model found", a.max_drop,
                      fr.drop);
        gate_failure = std::string(line) + " (written, with its rules in " + rules_file + ")";
      }
    }
    if (a.bias_correction) {
      // Measure each quantized conv/FC's systematic shift on the calibration images (each op
      // fed the float model's inputs), fold it into the biases, quantize again.
      if (a.data.images.empty() && a.data.inputs.empty())
        throw qcal::Error("--bias-correction runs both models on the calibration data: give --images or --inputs "
                          "(a --calib cache holds statistics only)");
      const qcal::ReportData before = run_comparison(model, a.model, std::make_shared<qcal::Model>(out), a.output, a.data,
                                                     TaskSetup{}, qcal::IntegerNumerics::kXnnpack, calibrated);
      opt.bias_corrections = qcal::bias_corrections(before.layers, out);
      qcal::QuantizeSummary corrected_summary;
      qcal::Model corrected = qcal::quantize_int8(*model, ranges, opt, corrected_summary);
      const qcal::ReportData after = run_comparison(model, a.model, std::make_shared<qcal::Model>(corrected), a.output,
                                                    a.data, TaskSetup{}, qcal::IntegerNumerics::kXnnpack, calibrated);
      nlohmann::json effect = nlohmann::json::array();
      bool worse = false;
      double largest_drop = 0;
      std::string hurt;  // the output that loses most
      std::printf("bias correction: %d biases shifted; output SQNR on the calibration data:\n",
                  corrected_summary.bias_corrected);
      for (size_t k = 0; k < before.outputs.size(); ++k) {
        const double b = before.outputs[k].stats.sqnr_db(), c = after.outputs[k].stats.sqnr_db();
        worse = worse || c < b;
        if (b - c > largest_drop) {
          largest_drop = b - c;
          char figures[64];
          std::snprintf(figures, sizeof figures, "%.2f dB -> %.2f dB", b, c);
          hurt = "'" + before.outputs[k].name + "' " + figures;  // the name whole, however long
        }
        std::printf("  '%s': %.2f dB -> %.2f dB\n", before.outputs[k].name.c_str(), b, c);
        effect.push_back({{"output", before.outputs[k].name}, {"sqnr_db_before", b}, {"sqnr_db_after", c}});
      }
      // The correction is a mean over isolated layers, each measured apart; where it makes any
      // output worse on the very data it was measured on, it is not written.
      const bool applied = !worse;
      const int shifted = corrected_summary.bias_corrected;
      if (applied) {
        out = std::move(corrected);
        summary = std::move(corrected_summary);
      } else {
        std::printf("bias correction: not applied: it makes an output worse on the calibration data (%s)\n", hurt.c_str());
      }
      record["bias_correction"] = {{"biases", shifted}, {"applied", applied},
                                   {"effect_on_calibration_data", effect}};
    }
    record["calibration"] = calibration_record(calib, a.calibrator);
    if (a.calibrator == "percentile") record["calibration"]["percentile"] = a.percentile;
    record["io"] = a.io;
  } else {
    if (!a.calib.empty() || !a.data.images.empty() || !a.data.inputs.empty())
      std::cout << "note: --scheme " << a.scheme << " quantizes weights only; the calibration data is not used\n";
    if (a.scheme == "fp16") out = qcal::quantize_fp16(*model, summary);
    else if (a.scheme == "dynamic") out = qcal::quantize_dynamic(*model, opt, summary);
    else out = qcal::quantize_float32(*model, summary);
  }
  record["summary"] = summary.to_json();
  qcal::set_quantization_record(out, record);
  qcal::verify_quantized_model(out);
  // The report is measured on exactly the bytes about to be written, and written first, so a
  // failing evaluation leaves neither file.
  std::optional<qcal::ReportData> report;
  if (report_folder) {
    auto qm = std::make_shared<qcal::Model>(qcal::read_model_from_bytes(qcal::serialize_model(out), a.output));
    report = run_comparison(model, a.model, qm, a.output, eval, setup, qcal::IntegerNumerics::kXnnpack, calibrated);
    qcal::write_report(report_folder->path(), *report);
  }
  qcal::write_model(out, a.output, a.model);
  if (report_folder) report_folder->commit();

  std::printf("%s: %d ops quantized", a.scheme.c_str(), summary.quantized_ops);
  if (summary.quantize_ops_added || summary.dequantize_ops_added)
    std::printf(", %d QUANTIZE and %d DEQUANTIZE added", summary.quantize_ops_added, summary.dequantize_ops_added);
  std::printf("\n");
  if (!summary.kept_float.empty()) {
    std::printf("kept float (%zu ops):\n", summary.kept_float.size());
    for (const auto& k : summary.kept_float)
      std::printf("  op %d %s -> '%s': %s\n", k.op, k.op_name.c_str(), k.tensor.c_str(), k.reason.c_str());
  }
  for (const auto& n : summary.notes) std::printf("note: %s\n", n.c_str());
  print_litert_placement_change(*model, out);
  const auto size_after = fs::file_size(a.output);
  const double ratio = static_cast<double>(size_before) / static_cast<double>(std::max<uintmax_t>(size_after, 1));
  std::printf("weights: %lld -> %lld bytes\nwrote %s (%llu -> %llu bytes, %.2fx %s)\n",
              static_cast<long long>(summary.weight_bytes_before), static_cast<long long>(summary.weight_bytes_after),
              a.output.c_str(), static_cast<unsigned long long>(size_before), static_cast<unsigned long long>(size_after),
              ratio >= 1 ? ratio : 1 / ratio, ratio >= 1 ? "smaller" : "larger");
  if (!a.report_dir.empty()) {
    if (a.eval_images.empty())
      std::cout << "note: --report without --eval-images measures on the calibration images; held-out images "
                   "tell more\n";
    print_report_summary(*report, a.report_dir);
  }
  if (!gate_failure.empty()) {
    std::fflush(stdout);
    std::fprintf(stderr, "qcal: %s: %s\n", a.output.c_str(), gate_failure.c_str());
    return 4;  // a quality gate failed
  }
  return 0;
}

struct CompareArgs {
  std::string model, eval_images, output, task = "generic", labels;
  std::string schemes = "int8:minmax,int8:percentile,int8:kl,int8:mse,fp16,dynamic";
  int runs = 20;
  bool no_litert = false;
  DataArgs data;
};

// One calibration pass, every scheme from the same statistics, each evaluated on held-out
// images by the executors, one table.
int run_compare(const CompareArgs& a) {
  auto model = std::make_shared<qcal::Model>(qcal::read_model(a.model));
  qcal::check_float_model(*model, a.model);
  DataArgs eval = a.data;
  eval.images = a.eval_images;
  eval.inputs.clear();
  const TaskSetup setup = prepare_task(*model, a.task, a.labels, eval);
  const std::vector<qcal::SchemeSpec> specs = qcal::parse_schemes(a.schemes);
  check_output(a.output, {a.model, a.labels, a.data.images, a.data.inputs, a.eval_images}, true);
  qcal::OutputFolder folder(a.output, "compare.json");
  std::optional<qcal::CalibrationData> calib;
  if (std::any_of(specs.begin(), specs.end(), [](const auto& s) { return s.scheme == "int8"; })) {
    QuantizeArgs qa;
    qa.model = a.model;
    qa.data = a.data;
    calib = obtain_calibration(qa, model);
  }
  // LiteRT's own latency, next to qcal's executor's, where this machine has the harness.
  qcal::LitertBaseline litert;
  std::optional<qcal::LitertHarness> harness;
  if (!a.no_litert) harness = qcal::find_litert_harness(litert.note);
  else litert.note = "--no-litert";
  std::vector<qcal::SchemeResult> results;
  std::vector<std::string> paths;  // of each result's model, for the LiteRT timings
  for (const qcal::SchemeSpec& spec : specs) {
    std::cout << "== " << spec.label << "\n";
    qcal::QuantizeSummary summary;
    qcal::Model q = qcal::build_scheme(*model, spec, calib ? &*calib : nullptr, {}, {}, summary);
    nlohmann::json record = {{"tool", "qcal 0.1.0"}, {"source_model", fs::path(a.model).filename().string()},
                             {"summary", summary.to_json()}};
    if (spec.scheme == "int8")
      record["calibration"] = calibration_record(*calib, spec.calibrator);
    qcal::set_quantization_record(q, record);
    qcal::verify_quantized_model(q);
    std::string file = spec.label;
    std::replace(file.begin(), file.end(), ':', '_');
    const fs::path path = folder.path() / (file + ".tflite");
    qcal::write_model(q, path.string(), a.model);
    auto qm = std::make_shared<qcal::Model>(qcal::read_model(path.string()));
    const qcal::ReportData d =
        run_comparison(model, a.model, qm, path.string(), eval, setup, qcal::IntegerNumerics::kXnnpack, std::nullopt);
    const nlohmann::json r = qcal::report_json(d);
    qcal::SchemeResult res;
    res.label = spec.label;
    res.file = path.filename().string();
    res.bytes = static_cast<int64_t>(fs::file_size(path));
    res.accuracy = r["accuracy"];
    res.min_output_sqnr_db = 200;
    for (const auto& o : r["outputs"]) res.min_output_sqnr_db = std::min(res.min_output_sqnr_db, o["sqnr_db"].get<double>());
    if (!r["layers"].empty()) {
      const auto& w = r["layers"][0];
      res.worst_layer = "op " + qcal::op_number(w) + " " + w["op"].get<std::string>();
      res.worst_layer_sqnr_db = w["isolated_sqnr_db"].is_null() ? w["sqnr_db"].get<double>() : w["isolated_sqnr_db"].get<double>();
    }
    res.latency_ms = qcal::median_latency_ms(*qm, a.runs);
    paths.push_back(path.string());
    res.kept_float = static_cast<int>(summary.kept_float.size());
    results.push_back(std::move(res));
  }
  if (harness) {
    // The float model and every scheme's, in turn, for three rounds: a shared machine's slow
    // spells (seen: one process at 1.35x the next one's median) then hit them alike.
    std::cout << "LiteRT latency: timing the float model and " << paths.size() << " schemes in LiteRT, 3 rounds"
              << std::endl;  // a progress line: seen now, not when the buffer fills
    std::vector<std::string> all = {a.model};
    all.insert(all.end(), paths.begin(), paths.end());
    std::vector<std::vector<double>> times(all.size());
    try {
      for (int round = 0; round < 3; ++round)
        for (size_t k = 0; k < all.size(); ++k) {
          if (qcal::interrupt_requested()) throw qcal::Error("interrupted");
          times[k].push_back(qcal::litert_median_ms(*harness, all[k], a.runs));
        }
      auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
      };
      litert.float_ms = median(times[0]);
      for (size_t k = 0; k < results.size(); ++k) results[k].litert_ms = median(times[k + 1]);
    } catch (const qcal::Error& e) {
      if (qcal::interrupt_requested()) throw;  // nothing is committed after an interruption
      litert.note = std::string("LiteRT failed: ") + e.what();
      std::cout << "note: LiteRT latency not measured: " << e.what() << "\n";
    }
  }
  const nlohmann::json c = qcal::comparison_json(results, litert);
  qcal::write_file_atomic(folder.path() / "compare.json", qcal::json_text(c, 1) + "\n");
  const std::string md = qcal::comparison_markdown(c);
  qcal::write_file_atomic(folder.path() / "compare.md", md);
  qcal::write_file_atomic(folder.path() / "compare.html", qcal::comparison_html(c));
  folder.commit();
  std::cout << md << "winner: " << c["winner"].get<std::string>() << "\nwrote " << a.output
            << "/compare.json, compare.md, compare.html and one .tflite per scheme\n";
  return 0;
}

struct RewriteArgs {
  std::string model, output;
};

int run_rewrite(const RewriteArgs& a) {
  check_output(a.output, {a.model});
  const qcal::Model m = qcal::read_model(a.model);
  qcal::write_model(m, a.output, a.model);
  std::cout << "wrote " << a.output << " (" << fs::file_size(a.output) << " bytes)\n";
  return 0;
}

// qcal dequantize: the float32 twin of a quantized model (dequantize_model in passes.h).
struct DequantizeArgs {
  std::string model, output;
};

int run_dequantize(const DequantizeArgs& a) {
  qcal::DequantizeReport r;
  const qcal::Model q = qcal::read_model(a.model);
  qcal::Model f;
  try {
    f = qcal::dequantize_model(q, &r);
  } catch (const qcal::Error& e) {
    throw qcal::Error(a.model + ": " + e.what());  // the op or tensor is named; add the file
  }
  qcal::write_model(f, a.output, a.model);
  std::cout << "float32 twin: " << r.constants << " constants dequantized, " << r.activations
            << " activations made float32, " << r.conversions_dropped << " QUANTIZE/DEQUANTIZE ops dropped, "
            << r.activations_restored << " fused activations restored from output ranges, " << r.clamps
            << " MINIMUM/MAXIMUM ops keep activation ranges' clipping"
            << (r.shapes_set ? ", " + std::to_string(r.shapes_set) + " detection output shapes set" : "") << "\n"
            << "wrote " << a.output << " (" << fs::file_size(a.output) << " bytes)\n";
  return 0;
}

struct PreprocessArgs {
  std::string model, output_dir;
  DataArgs data;
};

// Writes the exact model inputs qcal derives from a dataset, so deployment code can be
// checked against them (pre-processing that silently differs is a classic INT8 failure).
int run_preprocess(const PreprocessArgs& a) {
  const qcal::Model m = qcal::read_model(a.model);
  if (a.data.images.empty()) throw qcal::Error("give --images DIR");
  const qcal::Preprocessing pre = resolve_preprocessing(a.data, m);
  std::cout << "pre-processing: " << pre.describe() << "\n";
  check_output(a.output_dir, {a.model, a.data.images}, true);
  qcal::OutputFolder folder(a.output_dir, "index.json");
  nlohmann::json index = {{"model", a.model}, {"preprocessing", pre.to_json()}, {"samples", nlohmann::json::array()}};
  size_t n = 0;
  index["sources"] = nlohmann::json::array();  // sources[i]: the image samples[i] was made from
  const qcal::DatasetReport r = qcal::stream_dataset(
      m, 0, pre, dataset_options(a.data),
      [&](std::vector<std::vector<qcal::HostTensor>>& batch, const std::vector<fs::path>& files) {
        for (size_t i = 0; i < batch.size(); ++i) {
          char name[32];
          std::snprintf(name, sizeof name, "sample%05zu.npy", n++);
          qcal::write_npy(folder.path() / name, batch[i][0]);
          index["samples"].push_back(name);
          index["sources"].push_back(files[i].string());
        }
      });
  print_dataset_report(r);
  qcal::write_file_atomic(folder.path() / "index.json", qcal::json_text(index, 1) + "\n");
  folder.commit();
  std::cout << "wrote " << n << " inputs to " << a.output_dir << "\n";
  return 0;
}

struct RangesArgs {
  std::string model, calib, calibrator = "all";
  double percentile = 99.99;
  bool json = false;
};

// The range every calibrator picks for every tensor, from a calibration cache: comparing
// calibrators never re-runs the model.
int run_ranges(const RangesArgs& a) {
  const qcal::Model m = qcal::read_model(a.model);
  const qcal::CalibrationData c = qcal::CalibrationData::load(a.calib, m);
  std::vector<std::string> methods = qcal::calibrator_names();
  if (a.calibrator != "all") methods = {a.calibrator};
  qcal::CalibratorOptions opt;
  opt.percentile = a.percentile;
  nlohmann::json out = {{"model", a.model}, {"calibration", a.calib}, {"samples", c.samples}, {"tensors", nlohmann::json::array()}};
  if (!a.json) {
    std::printf("%s: %zu samples, pre-processing: %s\n", a.calib.c_str(), c.samples,
                c.from_images ? c.preprocessing.describe().c_str() : "(npy inputs)");
    std::printf("%6s  %-40s", "tensor", "name");
    for (const auto& name : methods) std::printf("  %-21s", name.c_str());
    std::printf("\n");
  }
  for (const auto& [t, stats] : c.tensors) {
    nlohmann::json row = {{"tensor", t}, {"name", c.tensor_names.at(t)}};
    std::string name = c.tensor_names.at(t);
    if (name.size() > 40) name = "..." + name.substr(name.size() - 37);
    if (!a.json) std::printf("%6d  %-40s", t, name.c_str());
    for (const auto& method : methods) {
      const qcal::Range r = qcal::calibrate(stats, method, opt);
      row[method] = {r.min, r.max};
      if (!a.json) std::printf("  [%9.4g, %9.4g]", r.min, r.max);
    }
    if (!a.json) std::printf("\n");
    out["tensors"].push_back(std::move(row));
  }
  if (a.json) std::cout << qcal::json_text(out, 1) << "\n";
  return 0;
}

struct RunArgs {
  std::string model, output_dir, dump_all;
  std::vector<std::string> inputs;
  int threads = 1;
  int seed = -1;
  qcal::IntegerNumerics numerics = qcal::IntegerNumerics::kXnnpack;
};

int run_run(const RunArgs& a) {
  std::vector<std::string> run_inputs = a.inputs;
  run_inputs.push_back(a.model);
  std::optional<qcal::OutputFolder> out_folder, dump_folder;
  if (!a.output_dir.empty()) {
    check_output(a.output_dir, run_inputs, true);
    out_folder.emplace(a.output_dir, "manifest.json");
  }
  if (!a.dump_all.empty()) {
    check_output(a.dump_all, run_inputs, true);
    dump_folder.emplace(a.dump_all, "index.json");
  }
  auto model = std::make_shared<qcal::Model>(qcal::read_model(a.model));
  qcal::ExecutorOptions opts{a.threads};
  opts.integer_numerics = a.numerics;
  const qcal::Executor ex(model, opts, a.model);
  std::vector<qcal::HostTensor> inputs;
  if (a.seed >= 0) {
    if (!a.inputs.empty()) throw qcal::Error("give either --input files or --seed, not both");
    inputs = qcal::random_inputs(ex, static_cast<uint32_t>(a.seed));
  } else {
    if (a.inputs.size() != ex.inputs().size())
      throw qcal::Error(a.model + ": the model has " + std::to_string(ex.inputs().size()) + " inputs, " +
                        std::to_string(a.inputs.size()) + " --input given");
    for (const auto& f : a.inputs) inputs.push_back(qcal::read_npy(f));
  }
  std::vector<std::vector<qcal::HostTensor>> batches;
  try {
    batches = qcal::split_batch(ex, inputs);
  } catch (const qcal::Error& e) {
    throw qcal::Error(a.model + ": " + e.what());
  }
  std::vector<qcal::HostTensor> outputs;
  if (!a.dump_all.empty()) {
    if (batches.size() != 1) throw qcal::Error("--dump-all runs one sample; the inputs hold " + std::to_string(batches.size()));
    qcal::DumpAllObserver dump(dump_folder->path());
    outputs = ex.run(batches[0], &dump);
    dump.finish(ex.subgraph());
    dump_folder->commit();
    std::cout << "dumped every tensor to " << a.dump_all << " (index.json)\n";
  } else if (batches.size() == 1) {
    outputs = ex.run(batches[0]);
  } else {
    outputs = qcal::stack_batch(ex.run_batch(batches));
  }
  nlohmann::json manifest = {{"model", a.model}, {"samples", batches.size()}, {"outputs", nlohmann::json::array()}};
  for (size_t k = 0; k < outputs.size(); ++k) {
    const auto& o = outputs[k];
    std::cout << "output " << k << " '" << o.name << "' " << qcal::dtype_name(o.dtype) << qcal::shape_str(o.shape);
    if (!a.output_dir.empty()) {
      const std::string file = "out" + std::to_string(k) + ".npy";
      qcal::write_npy(out_folder->path() / file, o);
      manifest["outputs"].push_back({{"name", o.name}, {"dtype", qcal::dtype_name(o.dtype)}, {"shape", o.shape},
                                     {"tensor_index", ex.outputs()[k]}, {"file", file}});
      std::cout << " -> " << (fs::path(a.output_dir) / file).string();
    }
    std::cout << "\n";
  }
  if (out_folder) {
    qcal::write_file_atomic(out_folder->path() / "manifest.json", qcal::json_text(manifest, 1) + "\n");
    out_folder->commit();
  }
  return 0;
}

struct BenchArgs {
  std::string model;
  int threads = 1, runs = 50, warmup = 10, batch = 0;
  double peak_gflops = 256.0;
  bool json = false;
  bool stats = false;
};

int run_bench(const BenchArgs& a) {
  auto model = std::make_shared<qcal::Model>(qcal::read_model(a.model));
  const qcal::Executor ex(model, qcal::ExecutorOptions{a.threads}, a.model);
  const int batch = a.batch > 0 ? a.batch : 8 * a.threads;
  std::vector<std::unique_ptr<qcal::StatsCollector>> collectors;
  std::vector<qcal::Observer*> observers;
  if (a.stats)
    for (int i = 0; i < a.threads; ++i) {
      collectors.push_back(std::make_unique<qcal::StatsCollector>());
      observers.push_back(collectors.back().get());
    }
  const qcal::BenchResult r = qcal::benchmark(ex, a.runs, a.warmup, batch, observers);
  const double macs = static_cast<double>(qcal::count_macs(*model));
  const double gflops = 2.0 * macs / (r.median_ms * 1e6);
  const double peak = a.peak_gflops * a.threads;
  const nlohmann::json j = {{"model", a.model},           {"threads", a.threads},
                            {"runs", a.runs},             {"median_ms", r.median_ms},
                            {"min_ms", r.min_ms},         {"images_per_s", 1000.0 / r.median_ms},
                            {"batch", batch},             {"batch_images_per_s", r.batch_images_per_s},
                            {"mmacs", macs / 1e6},        {"gflops", gflops},
                            {"peak_fraction", gflops / peak}, {"arena_bytes", ex.arena_bytes()},
                            {"unshared_activation_bytes", ex.unshared_activation_bytes()},
                            {"collecting_statistics", a.stats}};
  if (a.json) {
    std::cout << qcal::json_text(j, 1) << "\n";
    return 0;
  }
  std::printf("%s: %d thread%s, %d runs after %d warm-up%s\n", a.model.c_str(), a.threads, a.threads == 1 ? "" : "s",
              a.runs, a.warmup, a.stats ? ", collecting calibration statistics on every tensor" : "");
  std::printf("  latency   median %.3f ms, min %.3f ms (%.1f images/s)\n", r.median_ms, r.min_ms, 1000.0 / r.median_ms);
  std::printf("  batch     %.1f images/s over %d independent images\n", r.batch_images_per_s, batch);
  std::printf("  work      %.1f MMACs -> %.1f GFLOP/s = %.1f%% of %.0f GFLOP/s FP32 peak\n", macs / 1e6, gflops,
              100.0 * gflops / peak, peak);
  std::printf("  memory    activation arena %.2f MiB (%.2f MiB without sharing)\n", ex.arena_bytes() / 1048576.0,
              ex.unshared_activation_bytes() / 1048576.0);
  return 0;
}

}  // namespace

constexpr const char* kLabelsHelp =
    "--task classify: ground truth for the evaluation images, a CSV of 'file,label' (file relative to the images "
    "folder or a bare name; label a class index) or 'subfolders' (one sub-folder per class). --task detect: a CSV of "
    "'file,class,ymin,xmin,ymax,xmax' (corners normalized to [0,1] of the original image; --resize stretch only)";

int main(int argc, char** argv) {
  CLI::App app{"qcal: post-training quantization and calibration for TensorFlow Lite models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "qcal 0.1.0");

  InspectArgs ia;
  auto* inspect = app.add_subcommand("inspect", "Show what is inside a .tflite model");
  inspect->add_option("model", ia.model, "the .tflite model")->required();
  inspect->add_flag("--json", ia.json, "machine-readable JSON (stable keys)");

  QuantizeArgs qa;
  auto* quantize = app.add_subcommand("quantize", "Rewrite a model with another numeric scheme");
  quantize->add_option("model", qa.model, "the float .tflite model")->required();
  quantize->add_option("--scheme", qa.scheme,
                       "int8 (full integer, needs --images or --calib), fp16 (float16 weights), dynamic (int8 weights, "
                       "float activations), float32 (fold fp16 weights)")
      ->check(CLI::IsMember({"int8", "fp16", "dynamic", "float32"}));
  quantize->add_option("-o,--output", qa.output, "output .tflite (written atomically)")->required();
  quantize->add_option("--calib", qa.calib, "calibration cache from qcal calibrate (instead of --images)");
  quantize->add_option("--calibrator", qa.calibrator, "minmax (default), percentile, kl or mse")
      ->check(CLI::IsMember({"minmax", "percentile", "kl", "mse"}));
  quantize->add_option("--percentile", qa.percentile, "for --calibrator percentile (default 99.99)")->check(CLI::Range(50.0, 100.0));
  quantize->add_option("--io", qa.io, "type of the model's inputs/outputs: float (default), int8 or uint8")
      ->check(CLI::IsMember({"float", "int8", "uint8"}));
  quantize->add_option("--keep-float", qa.keep_float,
                       "keep ops float: an op index, an op type (LOGISTIC), an output tensor name, re:REGEX over "
                       "output tensor names, or @FILE with one rule per line; repeatable");
  quantize->add_flag("--per-tensor", qa.per_tensor, "int8 weights with one scale per tensor instead of per channel");
  quantize->add_flag("--no-equalize", qa.no_equalize,
                     "int8: no channel equalization of conv -> conv pairs (on by default: it rescales their channels so one "
                     "per-tensor activation scale fits all of them; the float function is unchanged)");
  quantize->add_flag("--no-weight-correction", qa.no_weight_correction,
                     "int8: round conv/FC weights plainly (on by default: each channel's rounding keeps its weight sum and "
                     "the mean output shift rounding causes, from the calibration's channel means, is taken off the bias)");
  quantize->add_flag("--all-int8", qa.all_int8,
                     "int8: quantize also the ops LiteRT runs faster in float (HARD_SWISH, PRELU: its XNNPACK delegate takes "
                     "them in float only); for runtimes without XNNPACK such as TFLite Micro");
  quantize->add_flag("--no-fuse-activations", qa.no_fuse_activations,
                     "int8: keep RELU/RELU6/RELU_N1_TO_1 ops standalone (by default they are folded into the int8 op "
                     "before them where LiteRT's kernel takes a fused activation, as TFLite's converter does)");
  add_data_options(quantize, qa.data);
  add_ssd_options(quantize);
  quantize->add_option("--max-drop", qa.max_drop,
                       "int8: return the worst layers to float, one at a time, until the --task metric drops by at most "
                       "this much on --eval-images; writes OUT.keep-float.txt")
      ->check(CLI::Range(0.0, 1e9));
  quantize->add_option("--max-fallback-steps", qa.max_fallback_steps, "layers --max-drop may try (default 10)")
      ->check(CLI::Range(1, 10000));
  quantize->add_flag("--bias-correction", qa.bias_correction,
                     "int8: remove each conv/FC's mean error per channel, measured on the calibration images");
  quantize->add_option("--report", qa.report_dir, "also write a report (report.json/.md/.html) of the new model here");
  quantize->add_option("--eval-images", qa.eval_images, "images for --report (default: the calibration images)");
  quantize->add_option("--task", qa.task, "for --report: classify, detect, segment, landmarks or generic")
      ->check(CLI::IsMember({"classify", "detect", "segment", "landmarks", "generic"}));
  quantize->add_option("--labels", qa.labels, kLabelsHelp);

  CompareArgs cpa;
  auto* compare = app.add_subcommand("compare", "Build several schemes from one calibration pass and compare them");
  compare->add_option("model", cpa.model, "the float .tflite model")->required();
  compare->add_option("--eval-images", cpa.eval_images, "held-out images the schemes are evaluated on")->required();
  compare->add_option("--schemes", cpa.schemes, "comma-separated: int8:minmax, int8:percentile, int8:kl, int8:mse, fp16, dynamic");
  compare->add_option("--task", cpa.task, "classify, detect, segment, landmarks or generic (default)")
      ->check(CLI::IsMember({"classify", "detect", "segment", "landmarks", "generic"}));
  compare->add_option("--labels", cpa.labels, kLabelsHelp);
  compare->add_option("--runs", cpa.runs, "timed runs per scheme for the latency columns")->check(CLI::Range(1, 10000));
  compare->add_flag("--no-litert", cpa.no_litert,
                    "skip the LiteRT latency column (measured by default where node and the LiteRT harness are found: "
                    "$QCAL_LITERT_RUN or the source tree's tests/interop/litert_run.js)");
  compare->add_option("-o,--output-dir", cpa.output, "folder for the models and compare.json/.md/.html")->required();
  add_data_options(compare, cpa.data);
  add_ssd_options(compare);

  ReportArgs rpa;
  const std::map<std::string, qcal::IntegerNumerics> numerics_names = {{"xnnpack", qcal::IntegerNumerics::kXnnpack},
                                                                       {"reference", qcal::IntegerNumerics::kReference},
                                                                       {"simulate", qcal::IntegerNumerics::kSimulate}};
  auto* report = app.add_subcommand("report", "Compare a quantized model with its float model: per-layer error, accuracy");
  report->add_option("float_model", rpa.float_model, "the float .tflite model")->required();
  report->add_option("quant_model", rpa.quant_model, "the quantized .tflite model")->required();
  report->add_option("-o,--output-dir", rpa.output, "folder for report.json, report.md, report.html")->required();
  report->add_option("--task", rpa.task, "classify, detect, segment, landmarks or generic (default)")
      ->check(CLI::IsMember({"classify", "detect", "segment", "landmarks", "generic"}));
  report->add_option("--labels", rpa.labels, kLabelsHelp);
  report->add_option("--numerics", rpa.numerics,
                     "integer numerics: xnnpack (LiteRT on CPU, default), reference, or simulate (the grid's error alone)")
      ->transform(CLI::CheckedTransformer(numerics_names, CLI::ignore_case));
  add_data_options(report, rpa.data);
  add_ssd_options(report);

  RewriteArgs ra;
  auto* rewrite = app.add_subcommand("rewrite", "Read, verify and write a model back unchanged");
  rewrite->add_option("model", ra.model, "the .tflite model")->required();
  rewrite->add_option("-o,--output", ra.output, "output .tflite (written atomically)")->required();

  DequantizeArgs da;
  auto* dequantize = app.add_subcommand("dequantize", "Write the float32 twin of a quantized (uint8/int8) model");
  dequantize->add_option("model", da.model, "the quantized .tflite model")->required();
  dequantize->add_option("-o,--output", da.output, "output float32 .tflite (written atomically)")->required();

  CalibrateArgs ca;
  auto* calibrate = app.add_subcommand("calibrate", "Collect activation statistics over a dataset (cached as JSON)");
  calibrate->add_option("model", ca.model, "the float .tflite model")->required();
  calibrate->add_option("-o,--output", ca.output, "calibration cache (.json)")->required();
  add_data_options(calibrate, ca.data);

  PreprocessArgs pa;
  auto* preprocess = app.add_subcommand("preprocess", "Write the model inputs qcal makes from images, as .npy");
  preprocess->add_option("model", pa.model, "the .tflite model")->required();
  preprocess->add_option("-o,--output-dir", pa.output_dir, "folder for sampleNNNNN.npy + index.json")->required();
  add_data_options(preprocess, pa.data);

  RangesArgs rga;
  auto* ranges = app.add_subcommand("ranges", "Show the range each calibrator picks per tensor, from a calibration cache");
  ranges->add_option("model", rga.model, "the float .tflite model the cache was collected on")->required();
  ranges->add_option("--calib", rga.calib, "calibration cache from qcal calibrate")->required();
  ranges->add_option("--calibrator", rga.calibrator, "all, minmax, percentile, kl or mse")
      ->check(CLI::IsMember({"all", "minmax", "percentile", "kl", "mse"}));
  ranges->add_option("--percentile", rga.percentile, "for the percentile calibrator (default 99.99)")->check(CLI::Range(50.0, 100.0));
  ranges->add_flag("--json", rga.json, "print JSON");

  RunArgs runa;
  auto* run = app.add_subcommand("run", "Run a model on .npy inputs with qcal's executor");
  run->add_option("model", runa.model, "the .tflite model")->required();
  run->add_option("--input", runa.inputs, "an input .npy per model input, in order; a leading dimension of N x the "
                                          "model's batch runs N independent inferences");
  run->add_option("--seed", runa.seed, "random inputs in [-1,1] from this seed instead of --input");
  run->add_option("--output-dir", runa.output_dir, "write outputs as out0.npy... and manifest.json here");
  run->add_option("--dump-all", runa.dump_all, "write every intermediate tensor as .npy plus index.json here");
  run->add_option("--threads", runa.threads, "threads (inside ops for one sample, across samples for a batch)")
      ->check(CLI::Range(1, 256));
  run->add_option("--numerics", runa.numerics,
                  "integer models: 'xnnpack' (fp32 requantization, what LiteRT computes on CPU) or 'reference' "
                  "(TFLite's fixed-point builtin kernels) or 'simulate' (float kernels, every quantized tensor rounded onto its "
                  "grid: the quantization error without the integer kernels')")
      ->transform(CLI::CheckedTransformer(numerics_names, CLI::ignore_case));

  BenchArgs ba;
  auto* bench = app.add_subcommand("bench", "Measure qcal's executor latency and throughput on a model");
  bench->add_option("model", ba.model, "the .tflite model")->required();
  bench->add_option("--threads", ba.threads, "threads")->check(CLI::Range(1, 256));
  bench->add_option("--runs", ba.runs, "timed runs (median and min are reported)")->check(CLI::Range(1, 100000));
  bench->add_option("--warmup", ba.warmup, "untimed runs first")->check(CLI::Range(0, 100000));
  bench->add_option("--batch", ba.batch, "images for the throughput figure (default 8 x threads)");
  bench->add_option("--peak-gflops", ba.peak_gflops, "FP32 peak per thread for the efficiency figure "
                                                     "(default 256: AVX-512 FMA at 4 GHz)");
  bench->add_flag("--json", ba.json, "print JSON");
  bench->add_flag("--stats", ba.stats, "also collect calibration statistics (min/max, histogram) on every tensor");

  // Every command that runs a model takes --max-memory.
  uint64_t max_memory = qcal::kDefaultMaxMemory;
  for (CLI::App* cmd : {quantize, compare, report, calibrate, run, bench})
    cmd->add_option("--max-memory", max_memory,
                    "refuse a model whose activations and constants would need more memory than this (default 4GB; "
                    "units b, kb, mb, gb = 1024-based)")
        ->transform(CLI::AsSizeValue(false));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (or the help); every usage error is exit status 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  qcal::install_interrupt_handler();
  qcal::set_default_max_memory(max_memory);
  try {
    if (*inspect) return run_inspect(ia);
    if (*quantize) return run_quantize(qa);
    if (*report) return run_report(rpa);
    if (*compare) return run_compare(cpa);
    if (*rewrite) return run_rewrite(ra);
    if (*dequantize) return run_dequantize(da);
    if (*run) return run_run(runa);
    if (*calibrate) return run_calibrate(ca);
    if (*preprocess) return run_preprocess(pa);
    if (*ranges) return run_ranges(rga);
    if (*bench) return run_bench(ba);
  } catch (const qcal::Error& e) {
    std::cerr << "qcal: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "qcal: internal error: " << e.what() << "\n";
    return 3;
  }
  return 0;
}
