// Float-vs-quantized comparison: per-layer error (accumulated and isolated), per-output
// error, and task accuracy, written as report.json / report.md / report.html.
//
// Accumulated: the quantized model runs end to end; each of its tensors is compared with
// the float model's tensor that carries the same values (the rewrite's tensor map, stored
// in the quantized model). Isolated: each quantized op runs alone on the float model's own
// inputs (quantized as the op expects), so one layer's fault is not blamed on the next.
#pragma once

#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qcal/calibration.h"
#include "qcal/executor.h"
#include "qcal/model.h"

namespace qcal {

// Float reference vs quantized values, accumulated over samples.
struct ErrorStats {
  double sum_ref2 = 0, sum_err2 = 0, sum_dot = 0, sum_test2 = 0, max_abs = 0;
  uint64_t count = 0, clipped = 0;
  float ref_min = std::numeric_limits<float>::infinity(), ref_max = -std::numeric_limits<float>::infinity();

  // [lo, hi]: what the quantized tensor can represent; reference values outside are clipped.
  void add(const float* ref, const float* test, size_t n, float lo = -std::numeric_limits<float>::infinity(),
           float hi = std::numeric_limits<float>::infinity());
  double sqnr_db() const;  // 10 log10(signal power / error power); +inf when identical
  double cosine() const;
  double mse() const { return count ? sum_err2 / count : 0; }
  double clip_fraction() const { return count ? static_cast<double>(clipped) / count : 0; }
};

struct LayerReport {
  int tensor = -1;        // in the quantized model
  int float_tensor = -1;  // in the float model
  int op = -1;            // producing op in the quantized model
  // The op in the float model that writes float_tensor (-1: none, e.g. a graph input's
  // QUANTIZE): the number qcal inspect shows and --keep-float takes, which every command prints.
  int float_op = -1;
  std::string name, op_name;
  bool quantized = false;
  float scale = 0;
  int zero_point = 0;
  ErrorStats accumulated, isolated;
  bool has_isolated = false;
  // The accumulated error split as each output's is (OutputReport): grid = float vs the
  // fake-quant simulation, kernel = simulation vs integer, at this tensor.
  ErrorStats grid, kernel;
  bool has_split = false;
  // Isolated view, per output channel (last axis): sum of (float - quantized), and values
  // per channel: the systematic shift bias correction removes.
  std::vector<double> channel_error_sum;
  uint64_t channel_count = 0;
};

struct OutputReport {
  int index = 0;
  std::string name;
  ErrorStats stats;
  // The same error split in two through the fake-quant simulation (simulate_quantization):
  // grid = float vs simulated (scales, ranges, clipping), kernel = simulated vs integer (what
  // the integer kernels add). has_split: the quantized model has integer tensors to simulate.
  ErrorStats grid, kernel;
  bool has_split = false;
};

// Runs a float model and its quantized rewrite side by side on the same samples.
class QuantizationComparison {
 public:
  QuantizationComparison(std::shared_ptr<const Model> float_model, std::shared_ptr<const Model> quant_model,
                         IntegerNumerics numerics = IntegerNumerics::kXnnpack, int threads = 1);
  ~QuantizationComparison();

  // One sample, as the float model's inputs (the quantized model's integer inputs, if any,
  // are quantized from them with their own parameters).
  void add(const std::vector<HostTensor>& float_inputs);

  // Outputs of the last sample: the float model's, and the quantized model's as float.
  const std::vector<HostTensor>& float_outputs() const;
  const std::vector<HostTensor>& quant_outputs() const;

  std::vector<LayerReport> layers() const;  // in the quantized model's op order
  std::vector<OutputReport> outputs() const;
  // Histograms of the float model's activations over the samples seen (for the pictures).
  const StatsCollector& float_statistics() const;
  size_t samples() const;
  // How tensors were matched: "tensor map" (qcal's rewrite record) or "names" (fallback
  // for models qcal did not write).
  const std::string& matching() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Bias correction from a comparison's isolated view: for every quantized op with a bias
// (conv, depthwise, FC, transpose conv), the mean float-minus-quantized error per output
// channel, keyed by the op's output tensor in the float model (QuantizeOptions::bias_corrections).
std::map<int, std::vector<float>> bias_corrections(const std::vector<LayerReport>& layers, const Model& quant_model);

// Float values of a tensor's data (dequantized when it is quantized).
std::vector<float> as_float(const HostTensor& t, const Quantization* q);
// Float -> the quantized type, saturating, rounding as the runtime's QUANTIZE does: half to
// even (XNNPACK: x * (1/scale)) or half away from zero (TFLite's builtin: x / scale).
HostTensor quantize_host(const HostTensor& t, DType dtype, float scale, int32_t zero_point,
                         IntegerNumerics numerics = IntegerNumerics::kXnnpack);

}  // namespace qcal
