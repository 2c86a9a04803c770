#include "qcal/run_tools.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "qcal/error.h"
#include "qcal/json_read.h"
#include "qcal/model_io.h"
#include "qcal/npy.h"

namespace qcal {

DumpAllObserver::DumpAllObserver(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw Error(dir_.string() + ": cannot create folder (" + ec.message() + ")");
}

void DumpAllObserver::on_tensor(const TensorEvent& e) {
  nlohmann::json entry = {{"tensor", e.tensor}, {"name", e.info.name}, {"op", e.op},
                          {"dtype", dtype_name(e.data.dtype)}, {"shape", e.data.shape}};
  HostTensor h{e.info.name, e.data.dtype, e.data.shape, {e.data.data, e.data.data + e.data.bytes}};
  try {
    std::string file = "t";  // (appended: GCC 12 warns falsely, -Wrestrict, on "t" + std::to_string)
    file += std::to_string(e.tensor);
    file += ".npy";
    write_npy(dir_ / file, h);
    entry["file"] = file;
  } catch (const Error& err) {
    entry["file"] = nullptr;
    entry["note"] = err.what();
  }
  index_.push_back(std::move(entry));
}

void DumpAllObserver::finish(const Subgraph& sg) {
  for (auto& e : index_) {
    const int op = e["op"];
    e["op_name"] = op >= 0 ? sg.operators[op].code.name() : "(input)";
  }
  write_file_atomic(dir_ / "index.json", json_text(index_, 1) + "\n");
}

std::vector<HostTensor> random_inputs(const Executor& ex, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::vector<HostTensor> out;
  for (int32_t i : ex.inputs()) {
    const Tensor& t = ex.subgraph().tensors[i];
    HostTensor h = HostTensor::zeros(t.name, t.dtype, t.shape);
    const int64_t n = h.size();
    switch (t.dtype) {
      case DType::kFloat32: {
        std::uniform_real_distribution<float> d(lo, hi);
        for (int64_t k = 0; k < n; ++k) h.as<float>()[k] = d(rng);
        break;
      }
      case DType::kInt8: {
        std::uniform_int_distribution<int> d(-128, 127);
        for (int64_t k = 0; k < n; ++k) h.as<int8_t>()[k] = static_cast<int8_t>(d(rng));
        break;
      }
      case DType::kUInt8: {
        std::uniform_int_distribution<int> d(0, 255);
        for (int64_t k = 0; k < n; ++k) h.as<uint8_t>()[k] = static_cast<uint8_t>(d(rng));
        break;
      }
      case DType::kInt32: {
        std::uniform_int_distribution<int> d(0, 9);
        for (int64_t k = 0; k < n; ++k) h.as<int32_t>()[k] = d(rng);
        break;
      }
      default:
        throw Error(std::string("cannot generate random ") + dtype_name(t.dtype) + " input for '" + t.name + "'");
    }
    out.push_back(std::move(h));
  }
  return out;
}

int64_t samples_in(const Shape& given, const Shape& want) {
  if (given == want) return 1;
  if (num_elements(want) == 0) return 0;
  if (given.size() == want.size() + 1 && std::equal(want.begin(), want.end(), given.begin() + 1)) return given[0];
  if (!given.empty() && given.size() == want.size() && want[0] > 0 && given[0] % want[0] == 0 &&
      std::equal(want.begin() + 1, want.end(), given.begin() + 1))
    return given[0] / want[0];
  return 0;
}

std::vector<std::vector<HostTensor>> split_batch(const Executor& ex, const std::vector<HostTensor>& inputs) {
  const auto& sg = ex.subgraph();
  if (inputs.size() != ex.inputs().size())
    throw Error("the model has " + std::to_string(ex.inputs().size()) + " inputs, got " + std::to_string(inputs.size()));
  int64_t batches = -1;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& t = sg.tensors[ex.inputs()[k]];
    const HostTensor& h = inputs[k];
    const std::string name = "input " + std::to_string(k) + " ('" + t.name + "')";
    if (h.dtype != t.dtype)
      throw Error(name + " must be " + dtype_name(t.dtype) + ", got " + dtype_name(h.dtype));
    if (h.data.size() != static_cast<size_t>(h.size()) * dtype_size(h.dtype))
      throw Error(name + " holds " + std::to_string(h.data.size()) + " bytes, but its shape " + shape_str(h.shape) + " needs " +
                  std::to_string(h.size() * dtype_size(h.dtype)));
    const int64_t n = samples_in(h.shape, t.shape);
    if (n < 1)
      throw Error(name + " has shape " + shape_str(h.shape) + "; the model needs " + shape_str(t.shape) +
                  " (or N of them stacked along the first dimension)");
    if (batches >= 0 && n != batches)
      throw Error("inputs hold different numbers of samples (" + std::to_string(batches) + " vs " + std::to_string(n) + ")");
    batches = n;
  }
  std::vector<std::vector<HostTensor>> out(static_cast<size_t>(std::max<int64_t>(batches, 0)));
  for (int64_t b = 0; b < batches; ++b) {
    for (size_t k = 0; k < inputs.size(); ++k) {
      const Tensor& t = sg.tensors[ex.inputs()[k]];
      const size_t bytes = static_cast<size_t>(num_elements(t.shape)) * dtype_size(t.dtype);
      HostTensor h{t.name, t.dtype, t.shape, {}};
      h.data.assign(inputs[k].data.begin() + b * bytes, inputs[k].data.begin() + (b + 1) * bytes);
      out[b].push_back(std::move(h));
    }
  }
  return out;
}

std::vector<HostTensor> stack_batch(const std::vector<std::vector<HostTensor>>& outputs) {
  if (outputs.size() == 1) return outputs[0];
  std::vector<HostTensor> out;
  for (size_t k = 0; k < outputs[0].size(); ++k) {
    HostTensor h = outputs[0][k];
    // [1, ...] stacks to [N, ...]; anything else gains a leading N.
    if (!h.shape.empty() && h.shape[0] == 1)
      h.shape[0] = static_cast<int32_t>(outputs.size());
    else
      h.shape.insert(h.shape.begin(), static_cast<int32_t>(outputs.size()));
    for (size_t b = 1; b < outputs.size(); ++b) h.data.insert(h.data.end(), outputs[b][k].data.begin(), outputs[b][k].data.end());
    out.push_back(std::move(h));
  }
  return out;
}

BenchResult benchmark(const Executor& ex, int runs, int warmup, int batch, const std::vector<Observer*>& observers) {
  using clock = std::chrono::steady_clock;
  BenchResult r;
  const std::vector<HostTensor> in = random_inputs(ex, 1, 0.0f, 1.0f);
  Observer* first = observers.empty() ? nullptr : observers[0];
  for (int i = 0; i < warmup; ++i) ex.run(in, first);
  for (int i = 0; i < runs; ++i) {
    const auto t0 = clock::now();
    ex.run(in, first);
    r.latency_ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
  }
  std::vector<double> sorted = r.latency_ms;
  std::sort(sorted.begin(), sorted.end());
  if (!sorted.empty()) {
    r.min_ms = sorted.front();
    r.median_ms = sorted[sorted.size() / 2];
  }
  if (batch > 0) {
    std::vector<std::vector<HostTensor>> many(static_cast<size_t>(batch), in);
    auto observer_for = [&](int worker) -> Observer* {
      return observers.empty() ? nullptr : observers[static_cast<size_t>(worker) % observers.size()];
    };
    ex.run_batch(many, observer_for);  // warm every worker's arena
    const auto t0 = clock::now();
    ex.run_batch(many, observer_for);
    r.batch_images_per_s = batch / std::chrono::duration<double>(clock::now() - t0).count();
  }
  return r;
}

}  // namespace qcal
