#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <cstdio>

#include "qcal/calibration.h"
#include "qcal/error.h"
#include "qcal/json_read.h"
#include "qcal/model_io.h"

namespace qcal {

void StatsCollector::on_tensor(const TensorEvent& e) {
  if (e.data.dtype != DType::kFloat32 || e.data.constant) return;
  auto it = stats_.find(e.tensor);
  if (it == stats_.end()) {
    TensorStats s;
    s.hist = Histogram(bins_);
    it = stats_.emplace(e.tensor, std::move(s)).first;
  }
  const size_t innermost = e.data.shape.empty() ? 1 : static_cast<size_t>(std::max(e.data.shape.back(), 1));
  const bool channels_wanted = per_channel_ || per_channel_tensors_.count(e.tensor);
  const int channels = channels_wanted ? static_cast<int>(innermost) : 1;
  it->second.add(e.data.as<float>(), static_cast<size_t>(e.data.size()), channels, samples_, innermost);
}

void StatsCollector::merge(const StatsCollector& other) {
  for (const auto& [t, s] : other.stats_) {
    auto it = stats_.find(t);
    if (it == stats_.end())
      stats_.emplace(t, s);
    else
      it->second.merge(s);
  }
}

std::string model_fingerprint(const Model& model) {
  const std::vector<uint8_t> bytes = serialize_model(model);
  uint64_t h = 1469598103934665603ull;
  for (uint8_t c : bytes) h = (h ^ c) * 1099511628211ull;
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return buf;
}

nlohmann::json CalibrationData::to_json() const {
  nlohmann::json tensors_j = nlohmann::json::array();
  for (const auto& [t, s] : tensors) {
    nlohmann::json j = s.to_json();
    j["tensor"] = t;
    auto n = tensor_names.find(t);
    j["name"] = n == tensor_names.end() ? "" : n->second;
    tensors_j.push_back(std::move(j));
  }
  return {{"format", "qcal-calibration-1"},
          {"model_fingerprint", model_fingerprint},
          {"model", model_label},
          {"subgraph", subgraph},
          {"source", from_images ? "images" : "npy"},
          {"preprocessing", from_images ? preprocessing.to_json() : nlohmann::json(nullptr)},
          {"dataset", dataset.to_json()},
          {"samples", samples},
          {"seconds", seconds},
          {"tensors", std::move(tensors_j)}};
}

CalibrationData CalibrationData::from_json(const nlohmann::json& j) {
  if (j.value("format", "") != "qcal-calibration-1") throw Error("not a qcal calibration file (format key missing)");
  CalibrationData c;
  c.model_fingerprint = j.at("model_fingerprint");
  c.model_label = j.value("model", "");
  c.subgraph = j.contains("subgraph") ? json_integer<int>(j.at("subgraph"), "subgraph") : 0;
  c.from_images = j.value("source", "images") == "images";
  if (c.from_images) c.preprocessing = Preprocessing::from_json(j.at("preprocessing"));
  c.samples = json_integer<size_t>(j.at("samples"), "samples");
  c.seconds = j.contains("seconds") ? json_double(j.at("seconds"), "seconds") : 0.0;
  for (const auto& t : j.at("tensors")) {
    const int idx = json_integer<int>(t.at("tensor"), "tensor");
    c.tensors.emplace(idx, TensorStats::from_json(t));
    c.tensor_names[idx] = t.value("name", "");
  }
  return c;
}

void CalibrationData::save(const std::filesystem::path& path) const { write_file_atomic(path, json_text(to_json()) + "\n"); }

CalibrationData CalibrationData::load(const std::filesystem::path& path, const Model& model) {
  // Far above any real cache (thousands of tensors x 2048 bins); the JSON tree is ~10x the file.
  constexpr uint64_t kMaxCacheBytes = uint64_t{64} << 20;
  const std::vector<uint8_t> bytes = read_file_bytes(path, kMaxCacheBytes);
  CalibrationData c;
  try {
    c = from_json(nlohmann::json::parse(bytes.begin(), bytes.end()));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": not a valid calibration file (" + e.what() + ")");
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  const std::string fp = qcal::model_fingerprint(model);
  if (c.model_fingerprint != fp)
    throw Error(path.string() + ": calibration was collected on another model ('" + c.model_label + "', " +
                c.model_fingerprint + "; this model is " + fp + "); re-run qcal calibrate");
  check_calibration(c, model, path.string());
  return c;
}

namespace {

// The float tensors a calibration pass always observes: graph inputs and the outputs of every
// op that reads one of them, directly or not (ops on constants only are folded, not observed).
std::vector<int> observed_float_tensors(const Subgraph& sg) {
  std::vector<bool> dynamic(sg.tensors.size(), false);
  for (int32_t i : sg.inputs) dynamic[static_cast<size_t>(i)] = true;
  for (const Operator& op : sg.operators) {
    const bool reads_dynamic = std::any_of(op.inputs.begin(), op.inputs.end(), [&](int32_t i) {
      return i >= 0 && dynamic[static_cast<size_t>(i)];
    });
    if (reads_dynamic)
      for (int32_t o : op.outputs)
        if (o >= 0) dynamic[static_cast<size_t>(o)] = true;
  }
  std::vector<int> out;
  for (size_t t = 0; t < sg.tensors.size(); ++t)
    if (dynamic[t] && sg.tensors[t].dtype == DType::kFloat32) out.push_back(static_cast<int>(t));
  return out;
}

}  // namespace

void check_tensor_stats(const TensorStats& s, const std::string& name) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const bool no_finite_value = s.min == kInf && s.max == -kInf && s.sampled == 0;
  if (!no_finite_value && !(std::isfinite(s.min) && std::isfinite(s.max) && s.min <= s.max))
    throw Error(name + " has range [" + std::to_string(s.min) + ", " + std::to_string(s.max) +
                "], not a finite range with min <= max");
  if (s.sampled > s.count)
    throw Error(name + " has inconsistent counts (count " + std::to_string(s.count) + ", sampled " + std::to_string(s.sampled) + ")");
  for (size_t k = 0; k < s.channel_min.size(); ++k)
    if (!(s.channel_min[k] == kInf && s.channel_max[k] == -kInf) &&
        (!(s.channel_min[k] <= s.channel_max[k]) || s.channel_min[k] < s.min || s.channel_max[k] > s.max))
      throw Error(name + ": channel " + std::to_string(k) + "'s range is not inside the tensor's");
}

void check_calibration(const CalibrationData& c, const Model& model, const std::string& label) {
  if (c.subgraph != 0 || model.subgraphs.empty())
    throw Error(label + ": calibration of subgraph " + std::to_string(c.subgraph) + "; qcal calibrates subgraph 0");
  const Subgraph& sg = model.subgraphs[0];
  if (c.samples == 0) throw Error(label + ": calibration over 0 samples");
  bool informative = false;
  for (const auto& [t, s] : c.tensors) {
    if (t < 0 || static_cast<size_t>(t) >= sg.tensors.size())
      throw Error(label + ": statistics for tensor " + std::to_string(t) + ", which the model does not have");
    const Tensor& info = sg.tensors[static_cast<size_t>(t)];
    const std::string name = "tensor " + std::to_string(t) + " ('" + info.name + "')";
    if (info.dtype != DType::kFloat32 || model.data_of(info))
      throw Error(label + ": statistics for " + name + ", which is not a float activation");
    check_tensor_stats(s, label + ": " + name);
    if (!s.channel_min.empty() && !info.shape.empty() && static_cast<size_t>(info.shape.back()) != s.channel_min.size())
      throw Error(label + ": " + name + " has " + std::to_string(s.channel_min.size()) + " channel ranges for " +
                  std::to_string(info.shape.back()) + " channels");
    if (s.min < s.max) informative = true;
  }
  for (int t : observed_float_tensors(sg))
    if (!c.tensors.count(t))
      throw Error(label + ": no statistics for tensor " + std::to_string(t) + " ('" + sg.tensors[static_cast<size_t>(t)].name +
                  "'); the file is not a complete calibration of this model: re-run qcal calibrate");
  if (!c.tensors.empty() && !informative)
    throw Error(label + ": every tensor's range is a single value: a degenerate calibration; re-run qcal calibrate");
}

CalibrationData collect_statistics(std::shared_ptr<const Model> model, const std::string& label, const Preprocessing& pre,
                                   const CalibrationOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const int threads = std::max(1, options.dataset.threads);
  const Executor ex(model, ExecutorOptions{threads}, label);
  std::vector<std::unique_ptr<StatsCollector>> workers;
  for (int i = 0; i < threads; ++i)
    workers.push_back(std::make_unique<StatsCollector>(options.bins, options.samples_per_tensor, options.per_channel,
                                                      options.per_channel_tensors));
  CalibrationData out;
  out.dataset = stream_dataset(*model, 0, pre, options.dataset, [&](std::vector<std::vector<HostTensor>>& batch) {
    ex.run_batch(batch, [&](int worker) { return workers[static_cast<size_t>(worker) % workers.size()].get(); });
  });
  for (size_t i = 1; i < workers.size(); ++i) workers[0]->merge(*workers[i]);
  out.model_fingerprint = qcal::model_fingerprint(*model);
  out.model_label = label;
  out.preprocessing = pre;
  out.from_images = !options.dataset.images.empty();
  out.samples = out.dataset.used;
  out.tensors = std::move(workers[0]->stats());
  for (const auto& [t, s] : out.tensors) out.tensor_names[t] = model->subgraphs[0].tensors[t].name;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace qcal
