// Checks a float twin (dequantize_model) op by op against the quantized model it came from.
//
// The quantized model runs on the samples with qcal's integer kernels (XNNPACK numerics, what
// LiteRT computes); every tensor it produces is kept, dequantized. Then each op of the twin
// runs alone on exactly the real values the quantized op read, and its result is compared
// with the real value the quantized op wrote, in steps of that output's scale.
//
// The bound, derived rather than measured: the quantized op reads exact grid values and
// weights/biases that are exactly the twin's constants, so in exact arithmetic it writes
// clamp(round(r / s) + z) for the twin's real result r: 0.5 step off r once r is clamped to
// the output's range. Where an activation's range is part of the function (a bounded
// activation whose grid ends inside its bound), the twin clamps too (dequantize_model's
// MINIMUM/MAXIMUM, run here with the op). Elsewhere the quantized model saturates where
// calibration saw no values; the twin does not, so its value is clamped to the grid before the
// comparison, and the share of values farther outside the grid than the bound must stay under
// kMaxSaturated = 0.1%: a range taken from observed min/max is rarely exceeded, and a twin that
// misses a designed clip (as before MINIMUM was added: 40-77% of TOCO's SSD RELU6 outputs) fails. The integer kernels round once more inside
// some ops (the fixed-point or fp32 requantization multiplier, rescaling ADD/CONCATENATION
// inputs to a common scale, the uint8 average pool's half-up division, bilinear weights in
// fixed point), each worth at most another 0.5 step, and the twin's float sums add far less than
// that: kLinearBound = 1 step. Ops whose integer kernel approximates a transcendental function
// in fixed point (exp in SOFTMAX, LOGISTIC, TANH, ...) may be off by one more step of their own:
// kFunctionBound = 2 steps. Outputs that are float in the quantized model too (the detection
// post-process) must agree to float precision.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "qcal/executor.h"
#include "qcal/model.h"
#include "qcal/passes.h"

namespace qcal::test {

constexpr double kLinearBound = 1.0;
constexpr double kFunctionBound = 2.0;
constexpr double kMaxSaturated = 1e-3;

inline double twin_bound(tflite::BuiltinOperator op) {
  using B = tflite::BuiltinOperator;
  switch (op) {
    case B::SOFTMAX: case B::LOG_SOFTMAX: case B::LOGISTIC: case B::TANH: case B::EXP: case B::ELU:
    case B::HARD_SWISH: case B::RSQRT: case B::SQRT: case B::LOG: case B::L2_NORMALIZATION: case B::GELU:
      return kFunctionBound;
    default:
      return kLinearBound;
  }
}

struct TwinOpCheck {
  int op = -1;             // in the quantized model
  int twin_op = -1;        // in the twin
  std::string name;        // op name
  std::string output;      // first output's tensor name
  double max_steps = 0;    // worst |twin - quantized| in output steps (float outputs: absolute)
  double bound = 0;        // what it may be
  double clipped = 0;      // fraction of twin values outside the output's range (clamped)
  bool float_output = false;
  bool ok() const { return max_steps <= bound && clipped <= kMaxSaturated; }
};

namespace twin_detail {

inline bool quantized(const Tensor& t) {
  return (t.dtype == DType::kInt8 || t.dtype == DType::kUInt8 || t.dtype == DType::kInt16) && t.quantization &&
         t.quantization->has_scale();
}

// The real values of a produced tensor (per-tensor quantization: activations).
inline std::vector<float> real_values(const Tensor& info, const TensorData& d) {
  const int64_t n = d.size();
  std::vector<float> v(static_cast<size_t>(n));
  if (d.dtype == DType::kFloat32) {
    std::copy(d.as<float>(), d.as<float>() + n, v.begin());
    return v;
  }
  const float s = info.quantization && info.quantization->has_scale() ? info.quantization->scale[0] : 1.0f;
  const int64_t z = info.quantization && !info.quantization->zero_point.empty() ? info.quantization->zero_point[0] : 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t q = 0;
    switch (d.dtype) {
      case DType::kInt8: q = d.as<int8_t>()[i]; break;
      case DType::kUInt8: q = d.as<uint8_t>()[i]; break;
      case DType::kInt16: q = d.as<int16_t>()[i]; break;
      case DType::kInt32: q = d.as<int32_t>()[i]; break;
      case DType::kInt64: q = d.as<int64_t>()[i]; break;
      default: break;
    }
    v[i] = static_cast<float>(s * static_cast<double>(q - z));
  }
  return v;
}

class Capture : public Observer {
 public:
  Capture(size_t limit, std::map<int, std::vector<float>>& store) : limit_(limit), store_(store) {}
  void on_tensor(const TensorEvent& e) override {
    if (static_cast<size_t>(e.tensor) >= limit_ || e.subgraph != 0) return;  // the lowering's own tensors
    store_[e.tensor] = real_values(e.info, e.data);
  }

 private:
  size_t limit_;
  std::map<int, std::vector<float>>& store_;
};

// Ops [first, last) of `m` alone (an op and the clamps the twin put after it): inputs not
// computed inside are graph inputs (in `inputs`, twin indices), `outputs` are graph outputs.
inline std::unique_ptr<Executor> op_group(const Model& m, int first, int last, std::vector<int>& inputs,
                                          const std::vector<int>& outputs) {
  const Subgraph& sg = m.subgraphs[0];
  auto one = std::make_shared<Model>();
  one->buffers.emplace_back();
  one->subgraphs.emplace_back();
  Subgraph& s = one->subgraphs[0];
  std::map<int, int> remap;
  std::vector<int> made;
  auto map_tensor = [&](int t) {
    if (t < 0) return t;
    if (auto it = remap.find(t); it != remap.end()) return it->second;
    Tensor copy = sg.tensors[t];
    copy.buffer = m.data_of(copy) ? one->add_buffer(m.data_of(copy)->data) : 0;
    s.tensors.push_back(std::move(copy));
    return remap[t] = static_cast<int>(s.tensors.size() - 1);
  };
  for (int k = first; k < last; ++k) {
    Operator o = sg.operators[k];
    for (int32_t& t : o.inputs) {
      const int orig = t;
      t = map_tensor(t);
      if (orig >= 0 && !m.data_of(sg.tensors[orig]) && std::find(made.begin(), made.end(), orig) == made.end() &&
          std::find(inputs.begin(), inputs.end(), orig) == inputs.end()) {
        s.inputs.push_back(t);
        inputs.push_back(orig);
      }
    }
    for (int32_t& t : o.outputs) {
      made.push_back(t);
      t = map_tensor(t);
    }
    s.operators.push_back(std::move(o));
  }
  for (int t : outputs) s.outputs.push_back(map_tensor(t));
  return std::make_unique<Executor>(one, ExecutorOptions{}, "twin ops " + std::to_string(first) + "-" + std::to_string(last - 1));
}

}  // namespace twin_detail

// One entry per op of the quantized model that the twin kept (subgraph 0), worst over samples.
inline std::vector<TwinOpCheck> check_twin(const Model& quant, const Model& twin, const DequantizeReport& report,
                                           const std::vector<std::vector<HostTensor>>& samples) {
  using namespace twin_detail;
  const Subgraph& qs = quant.subgraphs[0];
  const Subgraph& ts = twin.subgraphs[0];
  std::vector<TwinOpCheck> checks;
  for (size_t j = 0; j < qs.operators.size(); ++j) {
    const int k = report.op_map[0][j];
    if (k < 0) continue;
    TwinOpCheck c;
    c.op = static_cast<int>(j);
    c.twin_op = k;
    c.name = qs.operators[j].code.name();
    c.output = qs.tensors[qs.operators[j].outputs[0]].name;
    c.bound = twin_bound(qs.operators[j].builtin());
    checks.push_back(c);
  }
  Executor qex(std::make_shared<Model>(quant), ExecutorOptions{}, "quantized model");
  // Twin ops no quantized op maps to are the clamps after the op before them.
  std::vector<bool> mapped(ts.operators.size(), false);
  for (int k : report.op_map[0]) if (k >= 0) mapped[k] = true;
  std::vector<std::unique_ptr<Executor>> ops(checks.size());
  std::vector<std::vector<int>> op_inputs(checks.size()), op_outputs(checks.size());
  for (size_t c = 0; c < checks.size(); ++c) {
    int last = checks[c].twin_op + 1;
    while (last < static_cast<int>(ts.operators.size()) && !mapped[last]) ++last;
    for (int t : qs.operators[checks[c].op].outputs) op_outputs[c].push_back(report.tensor_map[0].at(t));
    ops[c] = op_group(twin, checks[c].twin_op, last, op_inputs[c], op_outputs[c]);
  }
  std::vector<int64_t> counted(checks.size(), 0), clipped(checks.size(), 0);
  for (const auto& sample : samples) {
    std::map<int, std::vector<float>> real;
    Capture capture(qs.tensors.size(), real);
    qex.run(sample, &capture);
    for (size_t c = 0; c < checks.size(); ++c) {
      const Operator& qop = qs.operators[checks[c].op];
      const Operator& top = ts.operators[checks[c].twin_op];  // reads what the quantized op reads
      // The twin op's graph inputs, from the quantized op's input at the same position.
      // (Ops the executor folded at load, on constants alone, produce nothing to compare.)
      std::vector<HostTensor> in;
      bool seen = std::all_of(qop.outputs.begin(), qop.outputs.end(), [&](int t) { return real.count(t) > 0; });
      for (int t : op_inputs[c]) {
        const size_t pos = std::find(top.inputs.begin(), top.inputs.end(), t) - top.inputs.begin();
        auto it = real.find(qop.inputs.at(pos));
        if (it == real.end()) { seen = false; break; }
        const std::vector<float>& v = it->second;
        HostTensor h = HostTensor::zeros(ts.tensors[t].name, DType::kFloat32, ts.tensors[t].shape);
        std::copy(v.begin(), v.end(), h.as<float>());
        in.push_back(std::move(h));
      }
      if (!seen) continue;
      const std::vector<HostTensor> out = ops[c]->run(in);
      for (size_t o = 0; o < out.size(); ++o) {
        const Tensor& qt = qs.tensors[qop.outputs[o]];
        const std::vector<float>& want = real.at(qop.outputs[o]);
        if (out[o].dtype != DType::kFloat32) {  // int32 results (ARG_MAX, shapes): equal or not
          const std::vector<float> got = real_values(ts.tensors[op_outputs[c][o]], TensorData{out[o].dtype, out[o].shape,
              const_cast<uint8_t*>(out[o].data.data()), out[o].data.size()});
          for (size_t i = 0; i < got.size(); ++i) checks[c].max_steps = std::max(checks[c].max_steps, double(got[i] != want[i]) * 1e9);
          continue;
        }
        const float* got = out[o].as<float>();
        if (!quantized(qt)) {
          checks[c].float_output = true;
          for (size_t i = 0; i < want.size(); ++i)
            checks[c].max_steps = std::max(checks[c].max_steps, std::abs(double(got[i]) - want[i]) / (1e-4 * std::max(1.0, std::abs(double(want[i])))));
          continue;
        }
        const double s = qt.quantization->scale[0];
        const int64_t z = qt.quantization->zero_point.empty() ? 0 : qt.quantization->zero_point[0];
        const double lo_q = qt.dtype == DType::kInt8 ? -128 : qt.dtype == DType::kUInt8 ? 0 : -32768;
        const double hi_q = qt.dtype == DType::kInt8 ? 127 : qt.dtype == DType::kUInt8 ? 255 : 32767;
        const double lo = s * (lo_q - z), hi = s * (hi_q - z);
        for (size_t i = 0; i < want.size(); ++i) {
          const double g = got[i];
          if (g < lo - checks[c].bound * s || g > hi + checks[c].bound * s) ++clipped[c];
          checks[c].max_steps = std::max(checks[c].max_steps, std::abs(std::clamp(g, lo, hi) - want[i]) / s);
        }
        counted[c] += static_cast<int64_t>(want.size());
      }
    }
  }
  for (size_t c = 0; c < checks.size(); ++c)
    if (counted[c]) checks[c].clipped = static_cast<double>(clipped[c]) / static_cast<double>(counted[c]);
  return checks;
}

}  // namespace qcal::test
