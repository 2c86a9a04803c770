// The kernel interface: one class per op (as ncnn and TFLite's reference kernels do),
// created once per operator instance so it can check shapes and pre-pack weights up front,
// then evaluated for every inference.
//
// Shapes are static: every tensor has the shape the model declares, and prepare() checks
// that the op's inputs and outputs are consistent with it, so eval() never needs to.
// Batches run as independent inferences (one arena each), not by resizing tensors.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "qcal/error.h"
#include "qcal/model.h"

namespace qcal {

// One tensor's data during execution: constants point into the model's buffers,
// activations into the executor's arena.
struct TensorData {
  DType dtype = DType::kFloat32;
  Shape shape;
  uint8_t* data = nullptr;
  size_t bytes = 0;
  const Quantization* quant = nullptr;  // nullptr when the tensor is not quantized
  bool constant = false;

  int64_t size() const { return num_elements(shape); }
  int rank() const { return static_cast<int>(shape.size()); }
  int32_t dim(int i) const { return shape[i < 0 ? shape.size() + i : i]; }
  template <typename T> T* as() { return reinterpret_cast<T*>(data); }
  template <typename T> const T* as() const { return reinterpret_cast<const T*>(data); }
  float scale() const { return quant && quant->has_scale() ? quant->scale[0] : 0.0f; }
  int32_t zero_point() const { return quant && !quant->zero_point.empty() ? static_cast<int32_t>(quant->zero_point[0]) : 0; }
};

// How integer kernels requantize. LiteRT on CPU hands int8 ops to XNNPACK, which
// requantizes in fp32 (acc * scale, round to nearest even); TFLite's builtin/reference
// kernels and TFLite Micro use the fixed-point MultiplyByQuantizedMultiplier. The two
// differ by +-1 LSB per layer, so an executor that predicts a runtime must pick its mode.
// kSimulate runs no integer kernel at all: the executor runs simulate_quantization() of
// the model (float kernels, every quantized activation rounded onto its grid).
enum class IntegerNumerics { kXnnpack, kReference, kSimulate };

// Everything a kernel sees about its operator. Inputs that are absent (optional, -1)
// are nullptr. During prepare(), only constant inputs have data.
struct OpContext {
  const Model* model = nullptr;
  const Subgraph* subgraph = nullptr;
  const Operator* op = nullptr;
  int subgraph_index = 0;
  int op_index = 0;
  std::vector<TensorData*> inputs;
  std::vector<TensorData*> outputs;
  int threads = 1;  // how many threads the kernel may use (via TBB, deterministic splits only)
  IntegerNumerics integer_numerics = IntegerNumerics::kXnnpack;  // fixed before prepare()

  int num_inputs() const { return static_cast<int>(inputs.size()); }
  TensorData& in(int i) const { return *inputs.at(i); }
  TensorData& out(int i = 0) const { return *outputs.at(i); }
  bool has_input(int i) const { return i < num_inputs() && inputs[i] != nullptr; }
  const Tensor& input_tensor(int i) const { return subgraph->tensors[op->inputs.at(i)]; }
  const Tensor& output_tensor(int i = 0) const { return subgraph->tensors[op->outputs.at(i)]; }
  std::string describe() const;  // "operator 12 (CONV_2D)"
  // Throws a one-line qcal::Error naming the operator.
  [[noreturn]] void fail(const std::string& what) const;
  // Checks, each throwing a clear error on failure.
  void expect_io(int min_inputs, int max_inputs, int num_outputs) const;
  void expect_dtype(const TensorData& t, DType want, const char* role) const;
  void expect_shape(const TensorData& t, const Shape& want, const char* role) const;
  void expect_rank(const TensorData& t, int rank, const char* role) const;
  void expect_constant(int input, const char* role) const;
};

// The builtin options of the op, or a default-constructed table when the file omits them
// (TFLite treats missing options as all-default).
template <typename OptionsT>
const OptionsT& options_of(const Operator& op) {
  static const OptionsT kDefaults{};
  constexpr auto kType = tflite::BuiltinOptionsUnionTraits<OptionsT>::enum_value;
  if (op.options.type == kType && op.options.value) return *static_cast<const OptionsT*>(op.options.value);
  return kDefaults;
}

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  // Validates shapes/types/options (throwing via ctx.fail) and pre-computes whatever
  // depends only on constants (packed weights, lookup tables).
  virtual void prepare(OpContext& ctx) {}
  // Computes the outputs. Called once per inference; must be thread-compatible
  // (no mutable state shared between inferences).
  virtual void eval(OpContext& ctx) const = 0;
};

using KernelFactory = std::function<std::unique_ptr<OpKernel>()>;

// Which numerics a kernel implements.
enum class Numerics { kFloat, kInt8 };

// Maps ops to kernel factories. The global registry holds qcal's kernels; users add their
// own custom-op kernels to it (or to a copy handed to an Executor).
class KernelRegistry {
 public:
  static KernelRegistry& global();  // qcal's built-in kernels, registered on first use

  void add_builtin(tflite::BuiltinOperator op, KernelFactory factory, Numerics n = Numerics::kFloat);
  void add_custom(const std::string& custom_code, KernelFactory factory, Numerics n = Numerics::kFloat);
  // nullptr when no kernel is registered.
  const KernelFactory* find(const OpCode& code, Numerics n = Numerics::kFloat) const;

 private:
  std::map<std::pair<int32_t, int>, KernelFactory> builtin_;
  std::map<std::pair<std::string, int>, KernelFactory> custom_;
};

// Helper for registering a kernel class with a default constructor.
template <typename K>
KernelFactory make_factory() {
  return [] { return std::make_unique<K>(); };
}

}  // namespace qcal
