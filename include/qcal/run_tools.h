// Building blocks of `qcal run` and `qcal bench`, usable from C++ too.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qcal/executor.h"

namespace qcal {

// Writes every tensor the executor produces (and the subgraph inputs) as DIR/tN.npy plus
// DIR/index.json (tensor index, name, producing op, dtype, shape, file): the role of
// TFLite's preserve-all-tensors. Tensors of dtypes .npy cannot hold are listed, not written.
class DumpAllObserver : public Observer {
 public:
  explicit DumpAllObserver(std::filesystem::path dir);
  void on_tensor(const TensorEvent& e) override;
  void finish(const Subgraph& sg);  // writes index.json

 private:
  std::filesystem::path dir_;
  nlohmann::json index_ = nlohmann::json::array();
};

// Random inputs in [lo, hi] (integers: their natural small range) matching the executor's
// inputs, deterministic for a seed.
std::vector<HostTensor> random_inputs(const Executor& ex, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

// How many samples an array of shape `given` holds for a model input of shape `want`: 1 when
// the shapes are equal; N when it stacks N of them along the leading dimension ([N*b, ...] for
// [b, ...]) or along a new one ([N, ...want]); 0 for anything else, e.g. an NCHW array for an
// NHWC input, which has as many elements but is another array.
int64_t samples_in(const Shape& given, const Shape& want);

// Splits inputs holding N samples (samples_in) into N independent inferences (a batch of N
// images for a batch-1 model). Checks dtypes and shapes, naming the offending input.
std::vector<std::vector<HostTensor>> split_batch(const Executor& ex, const std::vector<HostTensor>& inputs);
// Stacks per-inference outputs back along the leading dimension.
std::vector<HostTensor> stack_batch(const std::vector<std::vector<HostTensor>>& outputs);

struct BenchResult {
  std::vector<double> latency_ms;  // one per timed run
  double median_ms = 0, min_ms = 0;
  double batch_images_per_s = 0;   // run_batch throughput over `batch` images
};
// Times `runs` single inferences (after `warmup`), then `batch` independent ones with
// run_batch. With observers (one per worker; [0] for the single runs) every tensor is
// observed, which measures what statistics collection costs.
BenchResult benchmark(const Executor& ex, int runs, int warmup, int batch, const std::vector<Observer*>& observers = {});

}  // namespace qcal
