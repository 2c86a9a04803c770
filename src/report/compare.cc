#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "qcal/error.h"
#include "qcal/json_read.h"
#include "qcal/op_table.h"
#include "qcal/quantize.h"
#include "qcal/report.h"

namespace qcal {

void ErrorStats::add(const float* ref, const float* test, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; ++i) {
    const double r = ref[i], t = test[i], e = r - t;
    sum_ref2 += r * r;
    sum_test2 += t * t;
    sum_dot += r * t;
    sum_err2 += e * e;
    max_abs = std::max(max_abs, std::abs(e));
    clipped += ref[i] < lo || ref[i] > hi;
    ref_min = std::min(ref_min, ref[i]);
    ref_max = std::max(ref_max, ref[i]);
  }
  count += n;
}

double ErrorStats::sqnr_db() const {
  if (sum_err2 == 0) return std::numeric_limits<double>::infinity();
  if (sum_ref2 == 0) return -std::numeric_limits<double>::infinity();
  return 10 * std::log10(sum_ref2 / sum_err2);
}

double ErrorStats::cosine() const {
  if (sum_ref2 == 0 || sum_test2 == 0) return sum_ref2 == sum_test2 ? 1.0 : 0.0;
  return sum_dot / std::sqrt(sum_ref2 * sum_test2);
}

namespace {

bool is_quantized(DType t, const Quantization* q) {
  return (t == DType::kInt8 || t == DType::kUInt8 || t == DType::kInt16) && q && q->has_scale();
}

std::vector<float> dequantize(DType dtype, const uint8_t* data, size_t n, const Quantization* q) {
  std::vector<float> out(n);
  if (dtype == DType::kFloat32) {
    std::memcpy(out.data(), data, n * 4);
    return out;
  }
  if (!is_quantized(dtype, q)) throw Error(std::string("cannot compare a ") + dtype_name(dtype) + " tensor as float");
  const float s = q->scale[0];
  const int32_t zp = q->zero_point.empty() ? 0 : static_cast<int32_t>(q->zero_point[0]);
  for (size_t i = 0; i < n; ++i) {
    int32_t v = 0;
    if (dtype == DType::kInt8) v = reinterpret_cast<const int8_t*>(data)[i];
    else if (dtype == DType::kUInt8) v = data[i];
    else v = reinterpret_cast<const int16_t*>(data)[i];
    out[i] = s * static_cast<float>(v - zp);
  }
  return out;
}

// What a quantized tensor can represent (values outside were clipped).
std::pair<float, float> representable(DType dtype, const Quantization* q) {
  if (!is_quantized(dtype, q)) return {-INFINITY, INFINITY};
  const int32_t lo = dtype == DType::kInt8 ? -128 : dtype == DType::kUInt8 ? 0 : -32768;
  const int32_t hi = dtype == DType::kInt8 ? 127 : dtype == DType::kUInt8 ? 255 : 32767;
  const float s = q->scale[0];
  const int32_t zp = q->zero_point.empty() ? 0 : static_cast<int32_t>(q->zero_point[0]);
  return {s * static_cast<float>(lo - zp), s * static_cast<float>(hi - zp)};
}

const Quantization* quant_of(const Tensor& t) { return t.quantization ? &*t.quantization : nullptr; }

// Keeps every float tensor of one inference, by index.
class CaptureObserver : public Observer {
 public:
  explicit CaptureObserver(std::map<int, std::vector<float>>& store) : store_(store) {}
  void on_tensor(const TensorEvent& e) override {
    if (e.data.dtype != DType::kFloat32) return;
    const float* p = e.data.as<float>();
    store_[e.tensor].assign(p, p + e.data.size());
  }

 private:
  std::map<int, std::vector<float>>& store_;
};

// One quantized op alone: its non-constant inputs are graph inputs.
struct IsolatedOp {
  int op = -1;
  std::vector<int> inputs;         // quantized-model tensors fed in, in graph-input order
  std::vector<int> float_sources;  // the float-model tensors they are made from
  std::vector<int> outputs;        // quantized-model tensors produced
  std::unique_ptr<Executor> executor;
};

std::unique_ptr<Executor> single_op_executor(const Model& m, int op_index, std::vector<int>& inputs,
                                             std::vector<int>& outputs, const ExecutorOptions& options) {
  const Subgraph& sg = m.subgraphs[0];
  const Operator& op = sg.operators[op_index];
  auto one = std::make_shared<Model>();
  one->buffers.emplace_back();
  one->subgraphs.emplace_back();
  Subgraph& s = one->subgraphs[0];
  std::map<int, int> remap;
  auto map_tensor = [&](int t) {
    if (t < 0) return t;
    if (auto it = remap.find(t); it != remap.end()) return it->second;
    Tensor copy = sg.tensors[t];
    if (const Buffer* b = m.data_of(copy)) copy.buffer = one->add_buffer(b->data);
    else copy.buffer = 0;
    s.tensors.push_back(std::move(copy));
    return remap[t] = static_cast<int>(s.tensors.size() - 1);
  };
  Operator o = op;
  for (int32_t& t : o.inputs) {
    const int orig = t;
    t = map_tensor(t);
    if (orig >= 0 && !m.data_of(sg.tensors[orig]) &&
        std::find(s.inputs.begin(), s.inputs.end(), t) == s.inputs.end()) {
      s.inputs.push_back(t);
      inputs.push_back(orig);
    }
  }
  for (int32_t& t : o.outputs) {
    const int orig = t;
    t = map_tensor(t);
    s.outputs.push_back(t);
    outputs.push_back(orig);
  }
  s.operators.push_back(std::move(o));
  return std::make_unique<Executor>(one, options, "op " + std::to_string(op_index));
}

}  // namespace

std::vector<float> as_float(const HostTensor& t, const Quantization* q) {
  return dequantize(t.dtype, t.data.data(), static_cast<size_t>(t.size()), q);
}

HostTensor quantize_host(const HostTensor& t, DType dtype, float scale, int32_t zero_point, IntegerNumerics numerics) {
  HostTensor out = HostTensor::zeros(t.name, dtype, t.shape);
  const int32_t lo = dtype == DType::kInt8 ? -128 : dtype == DType::kUInt8 ? 0 : -32768;
  const int32_t hi = dtype == DType::kInt8 ? 127 : dtype == DType::kUInt8 ? 255 : 32767;
  const float* x = t.as<float>();
  for (int64_t i = 0; i < t.size(); ++i) {
    const float r = numerics == IntegerNumerics::kXnnpack ? std::nearbyint(x[i] * (1.0f / scale)) : std::round(x[i] / scale);
    const int32_t q = static_cast<int32_t>(std::clamp(r + static_cast<float>(zero_point), static_cast<float>(lo), static_cast<float>(hi)));
    if (dtype == DType::kInt8) out.as<int8_t>()[i] = static_cast<int8_t>(q);
    else if (dtype == DType::kUInt8) out.as<uint8_t>()[i] = static_cast<uint8_t>(q);
    else out.as<int16_t>()[i] = static_cast<int16_t>(q);
  }
  return out;
}

struct QuantizationComparison::Impl {
  std::shared_ptr<const Model> fm, qm;
  std::unique_ptr<Executor> fex, qex;
  std::unique_ptr<Executor> sex;  // the quantized model's fake-quant simulation (none: nothing to split)
  IntegerNumerics numerics = IntegerNumerics::kXnnpack;
  std::map<int, int> to_float;  // quantized tensor -> float tensor
  // Quantized tensors rescaled per channel by equalization: quantized = float x factor[c].
  std::map<int, std::vector<float>> channel_factor;
  std::string matching;
  std::vector<LayerReport> layers;
  std::map<int, size_t> layer_of;  // quantized tensor -> index in layers
  std::vector<OutputReport> outputs;
  std::vector<IsolatedOp> isolated;
  std::vector<HostTensor> last_float, last_quant;
  StatsCollector stats;  // the calibration defaults: the same histograms calibration sees
  size_t samples = 0;

  // Dequantized values of quantized tensor `q` back in the float model's terms: an equalized
  // tensor's channels divided by their factors.
  void to_float_domain(int q, std::vector<float>& v) const {
    auto f = channel_factor.find(q);
    if (f == channel_factor.end()) return;
    const size_t c = f->second.size();
    for (size_t i = 0; i < v.size(); ++i) v[i] /= f->second[i % c];
  }

  // Adds one comparison of quantized tensor `q` (test, already in float terms) with the float
  // model's `ref`; [lo, hi] is what q's grid represents, in q's own terms.
  void add_error(ErrorStats& s, int q, const std::vector<float>& ref, const std::vector<float>& test, float lo, float hi) const {
    auto f = channel_factor.find(q);
    if (f == channel_factor.end()) return s.add(ref.data(), test.data(), test.size(), lo, hi);
    s.add(ref.data(), test.data(), test.size());
    const size_t c = f->second.size();
    for (size_t i = 0; i < ref.size(); ++i) {
      const float x = ref[i] * f->second[i % c];
      s.clipped += x < lo || x > hi;
    }
  }

  // The float model's values of the tensor feeding quantized tensor `q`, in q's terms.
  std::vector<float> to_quant_domain(int q, std::vector<float> v) const {
    auto f = channel_factor.find(q);
    if (f == channel_factor.end()) return v;
    const size_t c = f->second.size();
    for (size_t i = 0; i < v.size(); ++i) v[i] *= f->second[i % c];
    return v;
  }

  void build_map() {
    const Subgraph& qs = qm->subgraphs.at(0);
    const Subgraph& fs = fm->subgraphs.at(0);
    if (auto rec = quantization_record(*qm); rec && rec->contains("summary") && (*rec)["summary"].contains("tensor_map")) {
      for (const auto& pair : (*rec)["summary"]["tensor_map"]) {
        const int q = pair[0], f = pair[1];
        if (q >= 0 && q < static_cast<int>(qs.tensors.size()) && f >= 0 && f < static_cast<int>(fs.tensors.size()))
          to_float[q] = f;
      }
      if (const auto& sum = (*rec)["summary"]; sum.contains("channel_scales") && sum["channel_scales"].is_array())
        for (const auto& entry : sum["channel_scales"]) {
          if (!entry.is_array() || entry.size() != 2) throw Error("the quantized model's record has a malformed channel_scales entry");
          const int q = json_integer<int>(entry[0], "channel_scales tensor");
          std::vector<float> f = json_array(entry[1], "channel_scales factors", [](const nlohmann::json& x) {
            return json_float(x, "channel scale");
          });
          bool valid = !f.empty() && to_float.count(q);
          for (float x : f) valid = valid && std::isfinite(x) && x > 0;
          if (!valid) throw Error("the quantized model's record has an invalid channel scale for tensor " + std::to_string(q));
          channel_factor[q] = std::move(f);
        }
      matching = "tensor map";
      return;
    }
    // Not written by qcal: match unique names (what else is there).
    std::map<std::string, int> by_name;
    std::set<std::string> duplicate;
    for (size_t i = 0; i < fs.tensors.size(); ++i)
      if (!by_name.emplace(fs.tensors[i].name, static_cast<int>(i)).second) duplicate.insert(fs.tensors[i].name);
    for (size_t i = 0; i < qs.tensors.size(); ++i) {
      auto it = by_name.find(qs.tensors[i].name);
      if (it != by_name.end() && !duplicate.count(it->first) && !qm->data_of(qs.tensors[i])) to_float[static_cast<int>(i)] = it->second;
    }
    matching = "names";
  }

  void build_layers(const ExecutorOptions& qopt) {
    const Subgraph& qs = qm->subgraphs[0];
    std::map<int, int> float_producer;  // float tensor -> the float model's op writing it
    const Subgraph& fsg = fm->subgraphs[0];
    for (size_t oi = 0; oi < fsg.operators.size(); ++oi)
      for (int32_t t : fsg.operators[oi].outputs)
        if (t >= 0) float_producer[t] = static_cast<int>(oi);
    for (size_t oi = 0; oi < qs.operators.size(); ++oi) {
      const Operator& op = qs.operators[oi];
      // A DEQUANTIZE carries its input's values unchanged: nothing to blame it for.
      if (op.builtin() == tflite::BuiltinOperator::DEQUANTIZE) continue;
      bool any = false;
      for (int32_t t : op.outputs) {
        if (t < 0 || !to_float.count(t)) continue;
        const Tensor& qt = qs.tensors[t];
        if (qt.dtype != DType::kFloat32 && !is_quantized(qt.dtype, quant_of(qt))) continue;
        LayerReport l;
        l.tensor = t;
        l.float_tensor = to_float[t];
        l.op = static_cast<int>(oi);
        if (auto p = float_producer.find(l.float_tensor); p != float_producer.end()) l.float_op = p->second;
        l.name = qt.name;
        l.op_name = op.code.name();
        l.quantized = is_quantized(qt.dtype, quant_of(qt));
        if (l.quantized) {
          l.scale = qt.quantization->scale[0];
          l.zero_point = qt.quantization->zero_point.empty() ? 0 : static_cast<int>(qt.quantization->zero_point[0]);
        }
        layer_of[t] = layers.size();
        layers.push_back(std::move(l));
        any = true;
      }
      // Isolated runs for ops that produce quantized values from inputs the float model has.
      const auto code = op.builtin();
      if (!any || code == tflite::BuiltinOperator::DEQUANTIZE) continue;
      bool quantized_out = false;
      for (int32_t t : op.outputs) quantized_out = quantized_out || (t >= 0 && is_quantized(qs.tensors[t].dtype, quant_of(qs.tensors[t])));
      if (!quantized_out) continue;
      IsolatedOp iso;
      iso.op = static_cast<int>(oi);
      try {
        iso.executor = single_op_executor(*qm, iso.op, iso.inputs, iso.outputs, qopt);
      } catch (const Error&) {
        continue;  // e.g. an op qcal cannot run alone; the accumulated view still covers it
      }
      bool fed = true;
      for (int t : iso.inputs) {
        auto it = to_float.find(t);
        fed = fed && it != to_float.end();
        iso.float_sources.push_back(fed ? it->second : -1);
      }
      if (fed) isolated.push_back(std::move(iso));
    }
    const Subgraph& qsg = qm->subgraphs[0];
    for (size_t k = 0; k < qsg.outputs.size(); ++k) outputs.push_back({static_cast<int>(k), qsg.tensors[qsg.outputs[k]].name, {}, {}, {}, false});
  }
};

QuantizationComparison::QuantizationComparison(std::shared_ptr<const Model> float_model,
                                               std::shared_ptr<const Model> quant_model, IntegerNumerics numerics,
                                               int threads)
    : impl_(std::make_unique<Impl>()) {
  impl_->fm = std::move(float_model);
  impl_->qm = std::move(quant_model);
  impl_->numerics = numerics;
  ExecutorOptions fopt{threads};
  ExecutorOptions qopt{threads};
  qopt.integer_numerics = numerics;
  impl_->fex = std::make_unique<Executor>(impl_->fm, fopt, "float model");
  impl_->qex = std::make_unique<Executor>(impl_->qm, qopt, "quantized model");
  if (impl_->fex->outputs().size() != impl_->qex->outputs().size())
    throw Error("the models do not match: " + std::to_string(impl_->fex->outputs().size()) + " vs " +
                std::to_string(impl_->qex->outputs().size()) + " outputs");
  impl_->build_map();
  impl_->build_layers(qopt);
  // Split each output's error into the grid's and the kernels' where there are integer
  // tensors and the integer kernels are what is measured.
  bool integer = false;
  for (const Tensor& t : impl_->qm->subgraphs[0].tensors)
    integer = integer || (is_quantized(t.dtype, quant_of(t)) && !impl_->qm->data_of(t));
  if (integer && numerics != IntegerNumerics::kSimulate) {
    ExecutorOptions sopt{threads};
    sopt.integer_numerics = IntegerNumerics::kSimulate;
    impl_->sex = std::make_unique<Executor>(impl_->qm, sopt, "simulated model");
    for (OutputReport& o : impl_->outputs) o.has_split = true;
  }
}

QuantizationComparison::~QuantizationComparison() = default;

void QuantizationComparison::add(const std::vector<HostTensor>& float_inputs) {
  Impl& m = *impl_;
  std::map<int, std::vector<float>> ref;
  CaptureObserver capture(ref);
  struct Both : Observer {
    Observer* a;
    Observer* b;
    void on_tensor(const TensorEvent& e) override { a->on_tensor(e), b->on_tensor(e); }
  } both;
  both.a = &capture;
  both.b = &m.stats;
  m.last_float = m.fex->run(float_inputs, &both);

  // The quantized model's inputs: as given, or quantized where the model takes integers.
  const Subgraph& qs = m.qm->subgraphs[0];
  std::vector<HostTensor> qin;
  for (size_t k = 0; k < float_inputs.size(); ++k) {
    const Tensor& t = qs.tensors[m.qex->inputs().at(k)];
    if (is_quantized(t.dtype, quant_of(t)))
      qin.push_back(quantize_host(float_inputs[k], t.dtype, t.quantization->scale[0],
                                  t.quantization->zero_point.empty() ? 0 : static_cast<int32_t>(t.quantization->zero_point[0]),
                                  m.numerics));
    else
      qin.push_back(float_inputs[k]);
  }

  // The fake-quant simulation first: its value of every layer tensor (the simulated model keeps
  // the quantized model's tensor indices, each holding its dequantized simulated value).
  std::map<int, std::vector<float>> sim;
  std::vector<HostTensor> sout;
  if (m.sex) {
    CaptureObserver sim_capture(sim);
    sout = m.sex->run(qin, &sim_capture);
  }

  struct Compare : Observer {
    Impl* m;
    std::map<int, std::vector<float>>* ref;
    std::map<int, std::vector<float>>* sim;
    void on_tensor(const TensorEvent& e) override {
      auto l = m->layer_of.find(e.tensor);
      if (l == m->layer_of.end()) return;
      auto r = ref->find(m->to_float[e.tensor]);
      if (r == ref->end() || r->second.size() != static_cast<size_t>(e.data.size())) return;
      const Quantization* q = quant_of(e.info);
      std::vector<float> test = dequantize(e.data.dtype, e.data.data, r->second.size(), q);
      m->to_float_domain(e.tensor, test);
      const auto [lo, hi] = representable(e.data.dtype, q);
      LayerReport& layer = m->layers[l->second];
      m->add_error(layer.accumulated, e.tensor, r->second, test, lo, hi);
      if (auto s = sim->find(e.tensor); s != sim->end() && s->second.size() == test.size()) {
        m->to_float_domain(e.tensor, s->second);
        layer.grid.add(r->second.data(), s->second.data(), test.size());
        layer.kernel.add(s->second.data(), test.data(), test.size());
        layer.has_split = true;
      }
    }
  } compare;
  compare.m = &m;
  compare.ref = &ref;
  compare.sim = &sim;
  const std::vector<HostTensor> qout = m.qex->run(qin, &compare);

  m.last_quant.clear();
  for (size_t k = 0; k < qout.size(); ++k) {
    const Tensor& t = qs.tensors[qs.outputs[k]];
    HostTensor f{qout[k].name, DType::kFloat32, qout[k].shape, {}};
    const std::vector<float> v = as_float(qout[k], quant_of(t));
    f.data.resize(v.size() * 4);
    std::memcpy(f.data.data(), v.data(), f.data.size());
    m.last_quant.push_back(std::move(f));
    const std::vector<float> r = as_float(m.last_float[k], nullptr);
    if (r.size() == v.size()) m.outputs[k].stats.add(r.data(), v.data(), v.size());
  }
  if (m.sex) {
    for (size_t k = 0; k < sout.size() && k < qout.size(); ++k) {
      const Tensor& t = qs.tensors[qs.outputs[k]];
      const std::vector<float> sv = as_float(sout[k], quant_of(t)), v = as_float(qout[k], quant_of(t));
      const std::vector<float> r = as_float(m.last_float[k], nullptr);
      if (r.size() != sv.size() || sv.size() != v.size()) continue;
      m.outputs[k].grid.add(r.data(), sv.data(), sv.size());
      m.outputs[k].kernel.add(sv.data(), v.data(), v.size());
    }
  }

  // Isolated: each op on the float model's own inputs.
  for (IsolatedOp& iso : m.isolated) {
    const Subgraph& isg = iso.executor->model().subgraphs[0];
    std::vector<HostTensor> in;
    bool ok = true;
    for (size_t k = 0; k < iso.inputs.size() && ok; ++k) {
      auto r = ref.find(iso.float_sources[k]);
      const Tensor& t = isg.tensors[isg.inputs[k]];
      if (r == ref.end() || static_cast<int64_t>(r->second.size()) != num_elements(t.shape)) {
        ok = false;
        break;
      }
      const std::vector<float> x = m.to_quant_domain(iso.inputs[k], r->second);
      HostTensor h{t.name, DType::kFloat32, t.shape, std::vector<uint8_t>(x.size() * 4)};
      std::memcpy(h.data.data(), x.data(), h.data.size());
      in.push_back(is_quantized(t.dtype, quant_of(t))
                       ? quantize_host(h, t.dtype, t.quantization->scale[0],
                                       t.quantization->zero_point.empty() ? 0 : static_cast<int32_t>(t.quantization->zero_point[0]),
                                       m.numerics)
                       : std::move(h));
    }
    if (!ok) continue;
    const std::vector<HostTensor> out = iso.executor->run(in);
    for (size_t k = 0; k < out.size(); ++k) {
      auto l = m.layer_of.find(iso.outputs[k]);
      if (l == m.layer_of.end()) continue;
      auto r = ref.find(m.to_float[iso.outputs[k]]);
      if (r == ref.end()) continue;
      const Tensor& t = isg.tensors[isg.outputs[k]];
      std::vector<float> v = as_float(out[k], quant_of(t));
      if (v.size() != r->second.size()) continue;
      m.to_float_domain(iso.outputs[k], v);
      const auto [lo, hi] = representable(t.dtype, quant_of(t));
      LayerReport& layer = m.layers[l->second];
      m.add_error(layer.isolated, iso.outputs[k], r->second, v, lo, hi);
      layer.has_isolated = true;
      const size_t channels = t.shape.empty() ? 1 : static_cast<size_t>(std::max(1, t.shape.back()));
      if (layer.channel_error_sum.size() != channels) layer.channel_error_sum.assign(channels, 0.0), layer.channel_count = 0;
      for (size_t i = 0; i < v.size(); ++i) layer.channel_error_sum[i % channels] += r->second[i] - v[i];
      layer.channel_count += v.size() / channels;
    }
  }
  ++m.samples;
}

std::map<int, std::vector<float>> bias_corrections(const std::vector<LayerReport>& layers, const Model& qm) {
  std::map<int, std::vector<float>> out;
  const Subgraph& sg = qm.subgraphs.at(0);
  for (const LayerReport& l : layers) {
    if (!l.has_isolated || l.channel_count == 0 || l.op < 0) continue;
    const Operator& op = sg.operators[l.op];
    const OpQuantInfo& info = op_quant_info(op.code);
    if (info.bias < 0 || static_cast<int>(op.inputs.size()) <= info.bias || op.inputs[info.bias] < 0) continue;
    if (op.outputs.empty() || op.outputs[0] != l.tensor) continue;
    std::vector<float> shift(l.channel_error_sum.size());
    for (size_t c = 0; c < shift.size(); ++c) shift[c] = static_cast<float>(l.channel_error_sum[c] / l.channel_count);
    out[l.float_tensor] = std::move(shift);
  }
  return out;
}

const std::vector<HostTensor>& QuantizationComparison::float_outputs() const { return impl_->last_float; }
const std::vector<HostTensor>& QuantizationComparison::quant_outputs() const { return impl_->last_quant; }
std::vector<LayerReport> QuantizationComparison::layers() const { return impl_->layers; }
std::vector<OutputReport> QuantizationComparison::outputs() const { return impl_->outputs; }
const StatsCollector& QuantizationComparison::float_statistics() const { return impl_->stats; }
size_t QuantizationComparison::samples() const { return impl_->samples; }
const std::string& QuantizationComparison::matching() const { return impl_->matching; }

}  // namespace qcal
