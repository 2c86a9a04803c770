// The reference executor: runs a subgraph op by op with qcal's kernels, calling an
// observer for every tensor it produces.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qcal/kernel.h"
#include "qcal/model.h"

namespace qcal {

// A tensor owned by the caller: model inputs and outputs.
struct HostTensor {
  std::string name;
  DType dtype = DType::kFloat32;
  Shape shape;
  std::vector<uint8_t> data;

  int64_t size() const { return num_elements(shape); }
  template <typename T> T* as() { return reinterpret_cast<T*>(data.data()); }
  template <typename T> const T* as() const { return reinterpret_cast<const T*>(data.data()); }
  static HostTensor zeros(const std::string& name, DType dtype, const Shape& shape);
};

// One tensor produced during a run. `data` is a view into the executor's memory, valid only
// during the callback: copy what you need to keep.
struct TensorEvent {
  int subgraph = 0;
  int tensor = 0;   // index in the subgraph
  int op = -1;      // producing operator; -1 for a subgraph input
  const Tensor& info;
  const TensorData& data;
};

class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on_tensor(const TensorEvent& event) = 0;
};

// The memory an executor may take: precomputed constants plus one activation arena per
// concurrent inference. A model that needs more is refused (one-line Error) before the
// arena is allocated. ExecutorOptions::max_memory = 0 takes this process-wide default
// (4 GiB; the CLI's --max-memory sets it).
inline constexpr uint64_t kDefaultMaxMemory = uint64_t{4} << 30;
void set_default_max_memory(uint64_t bytes);
uint64_t default_max_memory();

struct ExecutorOptions {
  int threads = 1;        // threads inside ops for run(); workers across inferences for run_batch()
  int subgraph = 0;
  Numerics numerics = Numerics::kFloat;
  IntegerNumerics integer_numerics = IntegerNumerics::kXnnpack;  // for int8 kernels
  const KernelRegistry* registry = nullptr;  // nullptr: KernelRegistry::global()
  uint64_t max_memory = 0;                   // bytes; 0: default_max_memory()
};

struct UnsupportedOp {
  int subgraph = 0;
  int index = 0;
  std::string name;         // builtin name or custom code
  bool custom = false;
};
// Every op in the model that has no kernel in `registry` for `numerics`.
std::vector<UnsupportedOp> find_unsupported_ops(const Model& model, const KernelRegistry& registry,
                                                Numerics numerics = Numerics::kFloat);
// One-line description of a list of unsupported ops, with what the user can do.
std::string describe_unsupported(const std::vector<UnsupportedOp>& ops, const std::string& label);

class Executor {
 public:
  // Checks every op has a kernel (listing all that don't), prepares the kernels, folds ops
  // whose inputs are all constant (e.g. fp16 DEQUANTIZE) and plans the activation arena.
  // `label` names the model in error messages.
  Executor(std::shared_ptr<const Model> model, ExecutorOptions options = {}, std::string label = "model");
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  const Model& model() const;
  const Subgraph& subgraph() const;
  // Inputs/outputs in subgraph order.
  const std::vector<int32_t>& inputs() const;
  const std::vector<int32_t>& outputs() const;

  // One inference; inputs in subgraph input order, checked against dtype and shape.
  std::vector<HostTensor> run(const std::vector<HostTensor>& inputs, Observer* observer = nullptr) const;

  // Independent inferences spread over options.threads workers (each with its own arena).
  // observer_for(worker) gives each worker its observer (or nullptr); results are in order
  // and identical to running them one by one.
  std::vector<std::vector<HostTensor>> run_batch(const std::vector<std::vector<HostTensor>>& inputs,
                                                 const std::function<Observer*(int worker)>& observer_for = {}) const;

  // Bytes of the planned activation arena, and what it would take without sharing.
  size_t arena_bytes() const;
  size_t unshared_activation_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qcal
