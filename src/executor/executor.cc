#include "qcal/executor.h"
#include "qcal/passes.h"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <sstream>

#include "qcal/error.h"

namespace qcal {

namespace {
std::atomic<uint64_t> g_default_max_memory{kDefaultMaxMemory};
}  // namespace

void set_default_max_memory(uint64_t bytes) { g_default_max_memory.store(bytes); }
uint64_t default_max_memory() { return g_default_max_memory.load(); }
namespace {

constexpr size_t kAlign = 64;  // cache line; also what AVX-512 loads like

size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

struct AlignedBuffer {
  std::unique_ptr<uint8_t, decltype(&std::free)> ptr{nullptr, &std::free};
  size_t bytes = 0;
  explicit AlignedBuffer(size_t n = 0) : bytes(n) {
    if (n) {
      ptr.reset(static_cast<uint8_t*>(std::aligned_alloc(kAlign, align_up(n))));
      if (!ptr) throw Error("out of memory allocating " + std::to_string(n) + " bytes");
      std::memset(ptr.get(), 0, n);
    }
  }
  uint8_t* get() const { return ptr.get(); }
};

bool is_quantized_int(DType t) { return t == DType::kInt8 || t == DType::kUInt8 || t == DType::kInt16; }

// Integer kernels run where an op produces a quantized integer tensor; QUANTIZE, DEQUANTIZE
// and CAST convert between the worlds and are float-table kernels that handle every type.
Numerics numerics_of(const Subgraph& sg, const Operator& op) {
  switch (op.builtin()) {
    case tflite::BuiltinOperator::QUANTIZE:
    case tflite::BuiltinOperator::DEQUANTIZE:
    case tflite::BuiltinOperator::CAST:
      return Numerics::kFloat;
    default:
      break;
  }
  if (op.outputs.empty() || op.outputs[0] < 0) return Numerics::kFloat;
  const Tensor& t = sg.tensors[op.outputs[0]];
  return is_quantized_int(t.dtype) && t.quantization && t.quantization->has_scale() ? Numerics::kInt8 : Numerics::kFloat;
}

}  // namespace

// ---- OpContext helpers --------------------------------------------------------------------

std::string OpContext::describe() const {
  std::string s = "operator " + std::to_string(op_index) + " (" + op->code.name() + ")";
  if (!op->outputs.empty() && op->outputs[0] >= 0) s += " -> '" + subgraph->tensors[op->outputs[0]].name + "'";
  return s;
}

void OpContext::fail(const std::string& what) const { throw Error(describe() + ": " + what); }

void OpContext::expect_io(int min_inputs, int max_inputs, int num_outputs) const {
  const int n = num_inputs();
  if (n < min_inputs || n > max_inputs) {
    fail("expects " + (min_inputs == max_inputs ? std::to_string(min_inputs)
                                                 : std::to_string(min_inputs) + ".." + std::to_string(max_inputs)) +
         " inputs, has " + std::to_string(n));
  }
  for (int i = 0; i < min_inputs; ++i)
    if (!inputs[i]) fail("input " + std::to_string(i) + " is required but absent");
  if (num_outputs >= 0 && static_cast<int>(outputs.size()) != num_outputs)
    fail("expects " + std::to_string(num_outputs) + " outputs, has " + std::to_string(outputs.size()));
}

void OpContext::expect_dtype(const TensorData& t, DType want, const char* role) const {
  if (t.dtype != want) fail(std::string(role) + " must be " + dtype_name(want) + ", is " + dtype_name(t.dtype));
}

void OpContext::expect_shape(const TensorData& t, const Shape& want, const char* role) const {
  if (t.shape != want) fail(std::string(role) + " has shape " + shape_str(t.shape) + ", expected " + shape_str(want));
}

void OpContext::expect_rank(const TensorData& t, int rank, const char* role) const {
  if (t.rank() != rank)
    fail(std::string(role) + " must have rank " + std::to_string(rank) + ", has shape " + shape_str(t.shape));
}

void OpContext::expect_constant(int input, const char* role) const {
  if (!has_input(input) || !inputs[input]->constant) fail(std::string(role) + " must be a constant tensor");
}

// ---- registry -----------------------------------------------------------------------------

void register_builtin_kernels(KernelRegistry& r);  // kernels/registry.cc

KernelRegistry& KernelRegistry::global() {
  static KernelRegistry* r = [] {
    auto* reg = new KernelRegistry();
    register_builtin_kernels(*reg);
    return reg;
  }();
  return *r;
}

void KernelRegistry::add_builtin(tflite::BuiltinOperator op, KernelFactory f, Numerics n) {
  builtin_[{static_cast<int32_t>(op), static_cast<int>(n)}] = std::move(f);
}

void KernelRegistry::add_custom(const std::string& code, KernelFactory f, Numerics n) {
  custom_[{code, static_cast<int>(n)}] = std::move(f);
}

const KernelFactory* KernelRegistry::find(const OpCode& code, Numerics n) const {
  if (code.is_custom()) {
    auto it = custom_.find({code.custom, static_cast<int>(n)});
    return it == custom_.end() ? nullptr : &it->second;
  }
  auto it = builtin_.find({code.builtin, static_cast<int>(n)});
  return it == builtin_.end() ? nullptr : &it->second;
}

std::vector<UnsupportedOp> find_unsupported_ops(const Model& model, const KernelRegistry& registry, Numerics) {
  std::vector<UnsupportedOp> out;
  for (size_t si = 0; si < model.subgraphs.size(); ++si) {
    const Subgraph& sg = model.subgraphs[si];
    for (size_t oi = 0; oi < sg.operators.size(); ++oi) {
      const Operator& op = sg.operators[oi];
      if (!registry.find(op.code, numerics_of(sg, op)))
        out.push_back({static_cast<int>(si), static_cast<int>(oi), op.code.name(), op.code.is_custom()});
    }
  }
  return out;
}

std::string describe_unsupported(const std::vector<UnsupportedOp>& ops, const std::string& label) {
  // Grouped by op, in first-seen order, with the operator indices of each.
  std::vector<std::pair<std::string, std::vector<const UnsupportedOp*>>> groups;
  for (const UnsupportedOp& u : ops) {
    const std::string key = u.custom ? "custom op '" + u.name + "'" : u.name;
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == key; });
    if (it == groups.end()) {
      groups.push_back({key, {}});
      it = groups.end() - 1;
    }
    it->second.push_back(&u);
  }
  std::ostringstream s;
  s << label << ": " << ops.size() << " operator" << (ops.size() == 1 ? "" : "s") << " qcal cannot execute: ";
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& list = groups[g].second;
    s << (g ? "; " : "") << groups[g].first << " at #";
    for (size_t i = 0; i < list.size() && i < 6; ++i) {
      s << (i ? ", #" : "") << list[i]->index;
      if (list[i]->subgraph) s << " (subgraph " << list[i]->subgraph << ")";
    }
    if (list.size() > 6) s << " and " << list.size() - 6 << " more";
  }
  s << ". Register a kernel for it (qcal::KernelRegistry::global().add_custom/add_builtin, see docs/user-guide.md) "
       "or cut the model before it";
  return s.str();
}

HostTensor HostTensor::zeros(const std::string& name, DType dtype, const Shape& shape) {
  HostTensor t{name, dtype, shape, {}};
  t.data.resize(static_cast<size_t>(num_elements(shape)) * dtype_size(dtype));
  return t;
}

// ---- the executor -------------------------------------------------------------------------

struct Executor::Impl {
  std::shared_ptr<const Model> model;
  const Subgraph* sg = nullptr;
  ExecutorOptions options;
  std::string label;

  struct Step {
    std::unique_ptr<OpKernel> kernel;
    bool folded = false;  // all inputs constant: evaluated once at construction
  };
  std::vector<Step> steps;
  std::vector<TensorData> proto;          // per tensor: metadata, constant data pointers
  std::vector<int64_t> arena_offset;      // per tensor; -1 when not in the arena
  std::vector<AlignedBuffer> persistent;  // outputs of folded ops
  size_t arena_size = 0, unshared_size = 0;
  uint64_t memory_limit = 0, persistent_bytes = 0;
  mutable size_t states = 0;  // RunStates allocated (one arena each)

  // Reserves `bytes` of precomputed constants against the limit, before allocating them.
  uint8_t* add_persistent(size_t bytes, const std::string& what) {
    if (persistent_bytes + bytes > memory_limit)
      throw Error(what + " needs " + std::to_string(persistent_bytes + bytes) + " bytes of constants, over the memory limit of " +
                  std::to_string(memory_limit) + " (--max-memory)");
    persistent_bytes += bytes;
    persistent.emplace_back(bytes);
    return persistent.back().get();
  }

  // One inference's memory: reused across runs so page faults are paid once.
  struct RunState {
    AlignedBuffer arena;
    std::vector<TensorData> tensors;
    std::vector<OpContext> contexts;
  };
  mutable std::mutex pool_mutex;
  mutable std::vector<std::unique_ptr<RunState>> pool;

  OpContext make_context(int op_index, std::vector<TensorData>& tensors, int threads) const {
    const Operator& op = sg->operators[op_index];
    OpContext ctx;
    ctx.model = model.get();
    ctx.subgraph = sg;
    ctx.op = &op;
    ctx.subgraph_index = options.subgraph;
    ctx.op_index = op_index;
    ctx.threads = threads;
    ctx.integer_numerics = options.integer_numerics;
    for (int32_t i : op.inputs) ctx.inputs.push_back(i >= 0 ? &tensors[i] : nullptr);
    for (int32_t i : op.outputs) ctx.outputs.push_back(&tensors[i]);
    return ctx;
  }

  void plan_arena();
  std::unique_ptr<RunState> acquire() const;
  void release(std::unique_ptr<RunState> s) const;
  std::vector<HostTensor> run(const std::vector<HostTensor>& inputs, Observer* observer, int threads) const;
};

Executor::Executor(std::shared_ptr<const Model> model, ExecutorOptions options, std::string label)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.model = std::move(model);
  m.options = options;
  m.label = std::move(label);
  m.memory_limit = options.max_memory ? options.max_memory : default_max_memory();
  if (options.integer_numerics == IntegerNumerics::kSimulate) {
    m.model = std::make_shared<Model>(simulate_quantization(*m.model));
  } else if (uses_uint8_scheme(*m.model)) {  // legacy uint8 runs on int8 kernels, exactly
    auto lowered = std::make_shared<Model>(*m.model);
    try {
      lower_uint8_to_int8(*lowered);
    } catch (const Error& e) {
      throw Error(m.label + ": " + e.what());
    }
    m.model = std::move(lowered);
  }
  if (options.subgraph < 0 || static_cast<size_t>(options.subgraph) >= m.model->subgraphs.size())
    throw Error(m.label + ": there is no subgraph " + std::to_string(options.subgraph));
  m.sg = &m.model->subgraphs[options.subgraph];
  const KernelRegistry& registry = options.registry ? *options.registry : KernelRegistry::global();

  // Fail before anything runs, naming every op that has no kernel.
  std::vector<UnsupportedOp> missing;
  for (size_t oi = 0; oi < m.sg->operators.size(); ++oi) {
    const Operator& op = m.sg->operators[oi];
    if (!registry.find(op.code, numerics_of(*m.sg, op)))
      missing.push_back({options.subgraph, static_cast<int>(oi), op.code.name(), op.code.is_custom()});
  }
  if (!missing.empty()) throw Error(describe_unsupported(missing, m.label));

  m.proto.resize(m.sg->tensors.size());
  for (size_t i = 0; i < m.sg->tensors.size(); ++i) {
    const Tensor& t = m.sg->tensors[i];
    TensorData& d = m.proto[i];
    d.dtype = t.dtype;
    d.shape = t.shape;
    d.quant = t.quantization ? &*t.quantization : nullptr;
    d.bytes = static_cast<size_t>(num_elements(t.shape)) * dtype_size(t.dtype);
    if (const Buffer* b = m.model->data_of(t)) {
      d.constant = true;
      d.data = const_cast<uint8_t*>(b->data.data());  // kernels never write their inputs
      d.bytes = b->data.size();
    } else if (d.bytes > m.memory_limit) {
      throw Error(m.label + ": tensor " + std::to_string(i) + " ('" + t.name + "') " + shape_str(t.shape) + " needs " +
                  std::to_string(d.bytes) + " bytes, over the memory limit of " + std::to_string(m.memory_limit) +
                  " (--max-memory)");
    }
  }
  for (int32_t i : m.sg->inputs)
    if (m.proto[i].constant) throw Error(m.label + ": subgraph input '" + m.sg->tensors[i].name + "' is a constant");

  // Hybrid ("dynamic range") models: float ops reading int8 weights. qcal runs them with
  // the weights dequantized once (what the weights mean); the runtime's hybrid kernels also
  // quantize the activations on the fly, which this does not model.
  {
    std::vector<int> float_readers(m.sg->tensors.size(), 0), other_readers(m.sg->tensors.size(), 0);
    for (const Operator& op : m.sg->operators) {
      const bool float_op = numerics_of(*m.sg, op) == Numerics::kFloat && op.builtin() != tflite::BuiltinOperator::DEQUANTIZE &&
                            op.builtin() != tflite::BuiltinOperator::QUANTIZE && !op.code.is_custom();
      for (int32_t i : op.inputs)
        if (i >= 0) (float_op ? float_readers : other_readers)[i]++;
    }
    for (size_t i = 0; i < m.sg->tensors.size(); ++i) {
      const Tensor& t = m.sg->tensors[i];
      TensorData& d = m.proto[i];
      const bool quantized_weights = d.constant && is_quantized_int(t.dtype) && d.quant && d.quant->has_scale();
      if (!quantized_weights || float_readers[i] == 0 || other_readers[i] != 0) continue;
      const std::vector<float> values = constant_as_float(*m.model, t);
      d.data = m.add_persistent(values.size() * 4, m.label + ": dequantized weights '" + t.name + "'");
      if (!values.empty()) std::memcpy(d.data, values.data(), values.size() * 4);
      d.bytes = values.size() * 4;
      d.dtype = DType::kFloat32;
      d.quant = nullptr;
    }
  }

  try {
    m.steps.resize(m.sg->operators.size());
    for (size_t oi = 0; oi < m.sg->operators.size(); ++oi) {
      const Operator& op = m.sg->operators[oi];
      Impl::Step& step = m.steps[oi];
      step.kernel = (*registry.find(op.code, numerics_of(*m.sg, op)))();
      OpContext ctx = m.make_context(static_cast<int>(oi), m.proto, 1);
      for (TensorData* out : ctx.outputs)
        if (out->constant) ctx.fail("writes to constant tensor '" + m.sg->tensors[op.outputs[0]].name + "'");
      step.kernel->prepare(ctx);
      const bool all_constant =
          !ctx.inputs.empty() && std::all_of(ctx.inputs.begin(), ctx.inputs.end(), [](const TensorData* t) { return !t || t->constant; });
      if (all_constant && std::any_of(ctx.inputs.begin(), ctx.inputs.end(), [](const TensorData* t) { return t != nullptr; })) {
        // Constant subgraphs (fp16 weights behind DEQUANTIZE, DENSIFY of sparse weights,
        // shape arithmetic) are computed once, as TFLite does for constant DEQUANTIZE.
        for (TensorData* out : ctx.outputs) {
          out->data = m.add_persistent(out->bytes, "folding op " + std::to_string(oi));
          out->constant = true;
        }
        step.kernel->eval(ctx);
        step.folded = true;
      }
    }
  } catch (const Error& e) {
    throw Error(m.label + ": " + e.what());
  }
  m.plan_arena();
  if (m.persistent_bytes + m.arena_size > m.memory_limit)
    throw Error(m.label + ": the activations need " + std::to_string(m.arena_size) + " bytes (plus " +
                std::to_string(m.persistent_bytes) + " of constants), over the memory limit of " +
                std::to_string(m.memory_limit) + " (--max-memory)");
}

Executor::~Executor() = default;

// Greedy by size, as TFLite's arena planner: tensors whose lifetimes do not overlap share
// memory. Lifetime = [producing step, last consuming step]; graph I/O lives throughout.
void Executor::Impl::plan_arena() {
  const int n = static_cast<int>(proto.size());
  const int steps_n = static_cast<int>(steps.size());
  std::vector<int> first(n, -2), last(n, -2);
  for (int32_t i : sg->inputs) first[i] = -1, last[i] = steps_n;
  for (int s = 0; s < steps_n; ++s) {
    if (steps[s].folded) continue;
    const Operator& op = sg->operators[s];
    for (int32_t i : op.inputs)
      if (i >= 0 && !proto[i].constant) last[i] = std::max(last[i], s);
    for (int32_t i : op.outputs)
      if (!proto[i].constant) {
        if (first[i] == -2) first[i] = s;
        last[i] = std::max(last[i], s);
      }
  }
  for (int32_t i : sg->outputs)
    if (!proto[i].constant) last[i] = steps_n;

  std::vector<int> order;
  for (int i = 0; i < n; ++i)
    if (first[i] != -2 && !proto[i].constant) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return proto[a].bytes > proto[b].bytes; });

  struct Placed { size_t offset, size; int first, last; };
  std::vector<Placed> placed;
  arena_offset.assign(n, -1);
  for (int t : order) {
    const size_t size = align_up(std::max<size_t>(proto[t].bytes, 1));
    unshared_size += size;
    // Candidate gaps between already-placed tensors that are alive at the same time.
    std::vector<std::pair<size_t, size_t>> busy;
    for (const Placed& p : placed)
      if (!(p.last < first[t] || last[t] < p.first)) busy.push_back({p.offset, p.offset + p.size});
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [b, e] : busy) {
      if (b >= offset + size) break;
      offset = std::max(offset, e);
    }
    placed.push_back({offset, size, first[t], last[t]});
    arena_offset[t] = static_cast<int64_t>(offset);
    arena_size = std::max(arena_size, offset + size);
  }
}

std::unique_ptr<Executor::Impl::RunState> Executor::Impl::acquire() const {
  {
    std::lock_guard<std::mutex> lock(pool_mutex);
    if (!pool.empty()) {
      auto s = std::move(pool.back());
      pool.pop_back();
      return s;
    }
  }
  {
    // Each concurrent inference has its own arena: more workers, more memory.
    std::lock_guard<std::mutex> lock(pool_mutex);
    if (persistent_bytes + (states + 1) * static_cast<uint64_t>(arena_size) > memory_limit)
      throw Error(label + ": " + std::to_string(states + 1) + " concurrent inferences need " +
                  std::to_string(persistent_bytes + (states + 1) * static_cast<uint64_t>(arena_size)) +
                  " bytes, over the memory limit of " + std::to_string(memory_limit) + " (--max-memory); use fewer --threads");
    ++states;
  }
  auto s = std::make_unique<RunState>();
  s->arena = AlignedBuffer(arena_size);
  s->tensors = proto;
  for (size_t i = 0; i < proto.size(); ++i)
    if (arena_offset[i] >= 0) s->tensors[i].data = s->arena.get() + arena_offset[i];
  for (size_t oi = 0; oi < steps.size(); ++oi) s->contexts.push_back(make_context(static_cast<int>(oi), s->tensors, 1));
  return s;
}

void Executor::Impl::release(std::unique_ptr<RunState> s) const {
  std::lock_guard<std::mutex> lock(pool_mutex);
  pool.push_back(std::move(s));
}

std::vector<HostTensor> Executor::Impl::run(const std::vector<HostTensor>& inputs, Observer* observer, int threads) const {
  if (inputs.size() != sg->inputs.size())
    throw Error(label + ": the model has " + std::to_string(sg->inputs.size()) + " inputs, got " + std::to_string(inputs.size()));
  std::unique_ptr<RunState> state = acquire();
  struct Release {
    const Impl* impl;
    std::unique_ptr<RunState>& s;
    ~Release() { impl->release(std::move(s)); }
  } release_on_exit{this, state};

  for (size_t k = 0; k < inputs.size(); ++k) {
    const int32_t ti = sg->inputs[k];
    TensorData& d = state->tensors[ti];
    const HostTensor& h = inputs[k];
    const std::string name = "input " + std::to_string(k) + " ('" + sg->tensors[ti].name + "')";
    if (h.dtype != d.dtype)
      throw Error(label + ": " + name + " must be " + dtype_name(d.dtype) + ", got " + dtype_name(h.dtype));
    if (h.size() != d.size() || h.data.size() != d.bytes)
      throw Error(label + ": " + name + " must have shape " + shape_str(d.shape) + ", got " + shape_str(h.shape));
    if (d.bytes > 0) std::memcpy(d.data, h.data.data(), d.bytes);  // an empty input has no storage at all
    if (observer) observer->on_tensor({options.subgraph, ti, -1, sg->tensors[ti], d});
  }
  for (size_t s = 0; s < steps.size(); ++s) {
    if (steps[s].folded) continue;
    OpContext& ctx = state->contexts[s];
    ctx.threads = threads;
    steps[s].kernel->eval(ctx);
    if (observer)
      for (int32_t o : sg->operators[s].outputs)
        observer->on_tensor({options.subgraph, o, static_cast<int>(s), sg->tensors[o], state->tensors[o]});
  }
  std::vector<HostTensor> outs;
  for (int32_t o : sg->outputs) {
    const TensorData& d = state->tensors[o];
    HostTensor h{sg->tensors[o].name, d.dtype, d.shape, {}};
    h.data.assign(d.data, d.data + d.bytes);
    outs.push_back(std::move(h));
  }
  return outs;
}

std::vector<HostTensor> Executor::run(const std::vector<HostTensor>& inputs, Observer* observer) const {
  const int threads = std::max(1, impl_->options.threads);
  if (threads == 1) return impl_->run(inputs, observer, 1);
  tbb::task_arena arena(threads);
  std::vector<HostTensor> out;
  arena.execute([&] { out = impl_->run(inputs, observer, threads); });
  return out;
}

std::vector<std::vector<HostTensor>> Executor::run_batch(const std::vector<std::vector<HostTensor>>& inputs,
                                                         const std::function<Observer*(int)>& observer_for) const {
  std::vector<std::vector<HostTensor>> out(inputs.size());
  const int threads = std::max(1, impl_->options.threads);
  tbb::task_arena arena(threads);
  arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<size_t>(0, inputs.size(), 1), [&](const tbb::blocked_range<size_t>& r) {
      const int worker = std::max(0, tbb::this_task_arena::current_thread_index());
      Observer* obs = observer_for ? observer_for(worker) : nullptr;
      for (size_t i = r.begin(); i < r.end(); ++i) out[i] = impl_->run(inputs[i], obs, 1);
    });
  });
  return out;
}

const Model& Executor::model() const { return *impl_->model; }
const Subgraph& Executor::subgraph() const { return *impl_->sg; }
const std::vector<int32_t>& Executor::inputs() const { return impl_->sg->inputs; }
const std::vector<int32_t>& Executor::outputs() const { return impl_->sg->outputs; }
size_t Executor::arena_bytes() const { return impl_->arena_size; }
size_t Executor::unshared_activation_bytes() const { return impl_->unshared_size; }

}  // namespace qcal
