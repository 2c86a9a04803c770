// The calibration pass: stream a representative dataset through the float executor and
// keep streaming statistics for every float activation. The result is cached as JSON so
// that comparing calibrators never re-runs the model.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "qcal/dataset.h"
#include "qcal/executor.h"
#include "qcal/stats.h"

namespace qcal {

// Observer that accumulates TensorStats for every float32 tensor it sees (activations and
// subgraph inputs). One per worker; merge them at the end.
class StatsCollector : public Observer {
 public:
  // samples_per_tensor: histogram sample per tensor per inference (0: every value).
  // per_channel: also per-channel (last axis) min/max; TFLite's int8 activations are per
  // tensor, so calibration does not need it and it costs a second scan of every tensor.
  // per_channel_tensors: per-channel min/max for these tensors only (what channel
  // equalization needs, see qcal::equalization_tensors).
  explicit StatsCollector(int bins = Histogram::kDefaultMaxBins, size_t samples_per_tensor = 1024, bool per_channel = false,
                          std::set<int> per_channel_tensors = {})
      : bins_(bins), samples_(samples_per_tensor), per_channel_(per_channel), per_channel_tensors_(std::move(per_channel_tensors)) {}
  void on_tensor(const TensorEvent& e) override;
  void merge(const StatsCollector& other);
  const std::map<int, TensorStats>& stats() const { return stats_; }
  std::map<int, TensorStats>& stats() { return stats_; }

 private:
  int bins_;
  size_t samples_;
  bool per_channel_;
  std::set<int> per_channel_tensors_;
  std::map<int, TensorStats> stats_;
};

// A stable identity of a model's contents (64-bit FNV-1a of the serialized model, hex).
std::string model_fingerprint(const Model& model);

struct CalibrationData {
  std::string model_fingerprint;
  std::string model_label;
  int subgraph = 0;
  Preprocessing preprocessing;
  bool from_images = true;
  DatasetReport dataset;
  size_t samples = 0;
  double seconds = 0;
  std::map<int, TensorStats> tensors;       // by tensor index
  std::map<int, std::string> tensor_names;  // for people reading the file

  nlohmann::json to_json() const;
  static CalibrationData from_json(const nlohmann::json& j);
  void save(const std::filesystem::path& path) const;  // atomic
  // Loads a cache and checks it belongs to `model` (by fingerprint), naming the file otherwise.
  static CalibrationData load(const std::filesystem::path& path, const Model& model);
};

// What load() checks beyond the fingerprint, as one-line Errors naming `label` and the tensor:
// every range finite with min <= max (channel ranges inside it), counts consistent, statistics
// only for float activations of `model`, every activation a calibration pass observes present,
// and not every range a single value (an edited or degenerate file would quantize to garbage).
void check_calibration(const CalibrationData& c, const Model& model, const std::string& label);
// The part of it that needs no model: one tensor's statistics (errors start with `name`).
void check_tensor_stats(const TensorStats& s, const std::string& name);

struct CalibrationOptions {
  DatasetOptions dataset;
  int bins = Histogram::kDefaultMaxBins;
  size_t samples_per_tensor = 1024;  // histogram sample per tensor per image; 0: all values
  bool per_channel = false;         // also per-channel min/max of every activation
  std::set<int> per_channel_tensors;  // ... or of these tensors only
};

// One pass over the dataset: inputs are pre-processed, run through the float executor
// (workers across images) and observed. Memory is bounded by tensors x bins.
CalibrationData collect_statistics(std::shared_ptr<const Model> model, const std::string& label, const Preprocessing& pre,
                                   const CalibrationOptions& options);

}  // namespace qcal
