// Builds small models in memory for kernel and pass tests, and runs them through the
// real Executor (the same path real models take).
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <random>
#include <vector>

#include "qcal/executor.h"
#include "qcal/model.h"

namespace qcal::test {

// A fresh folder under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "qcal_test_") {
    path = std::filesystem::temp_directory_path() / (prefix + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  static inline int counter = 0;
};

template <typename T>
std::vector<uint8_t> to_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

template <typename T>
std::vector<T> from_bytes(const std::vector<uint8_t>& b) {
  std::vector<T> v(b.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
  return v;
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

template <typename T>
HostTensor host(const Shape& shape, const std::vector<T>& values, DType dtype = DType::kFloat32) {
  HostTensor h{"", dtype, shape, to_bytes(values)};
  return h;
}

// A one-subgraph model under construction. Graph inputs are added with input(), constants
// with constant(), op outputs with tensor(); op() appends an operator; output() marks a
// graph output.
class ModelBuilder {
 public:
  ModelBuilder() { model_.buffers.emplace_back(); model_.subgraphs.emplace_back(); }

  int input(DType dtype, const Shape& shape, std::optional<Quantization> q = std::nullopt) {
    const int i = tensor(dtype, shape, q);
    sg().inputs.push_back(i);
    return i;
  }
  int tensor(DType dtype, const Shape& shape, std::optional<Quantization> q = std::nullopt, const std::string& name = "") {
    Tensor t;
    t.name = name.empty() ? "t" + std::to_string(sg().tensors.size()) : name;
    t.dtype = dtype;
    t.shape = shape;
    t.quantization = std::move(q);
    sg().tensors.push_back(std::move(t));
    return static_cast<int>(sg().tensors.size() - 1);
  }
  int constant(DType dtype, const Shape& shape, std::vector<uint8_t> bytes, std::optional<Quantization> q = std::nullopt) {
    const int i = tensor(dtype, shape, std::move(q));
    sg().tensors[i].buffer = model_.add_buffer(std::move(bytes));
    return i;
  }
  int constant_f32(const Shape& shape, const std::vector<float>& v) { return constant(DType::kFloat32, shape, to_bytes(v)); }
  int constant_i32(const Shape& shape, const std::vector<int32_t>& v) { return constant(DType::kInt32, shape, to_bytes(v)); }
  void output(int t) { sg().outputs.push_back(t); }

  // Appends a builtin op; `options` is e.g. a tflite::Conv2DOptionsT (or nothing).
  template <typename OptionsT = std::nullptr_t>
  Operator& op(tflite::BuiltinOperator code, std::vector<int32_t> inputs, std::vector<int32_t> outputs,
               OptionsT options = nullptr) {
    Operator o;
    o.code.builtin = static_cast<int32_t>(code);
    o.inputs = std::move(inputs);
    o.outputs = std::move(outputs);
    if constexpr (!std::is_same_v<OptionsT, std::nullptr_t>) o.options.Set(std::move(options));
    sg().operators.push_back(std::move(o));
    return sg().operators.back();
  }
  Operator& custom_op(const std::string& code, std::vector<int32_t> inputs, std::vector<int32_t> outputs,
                      std::vector<uint8_t> custom_options = {}) {
    Operator o;
    o.code.builtin = static_cast<int32_t>(tflite::BuiltinOperator::CUSTOM);
    o.code.custom = code;
    o.inputs = std::move(inputs);
    o.outputs = std::move(outputs);
    o.custom_options = std::move(custom_options);
    sg().operators.push_back(std::move(o));
    return sg().operators.back();
  }

  Model& model() { return model_; }
  Subgraph& sg() { return model_.subgraphs[0]; }

  // Runs the model once; inputs in graph-input order.
  std::vector<HostTensor> run(const std::vector<HostTensor>& inputs, int threads = 1) {
    Executor ex(std::make_shared<Model>(model_), ExecutorOptions{threads}, "test model");
    std::vector<HostTensor> in = inputs;
    for (size_t k = 0; k < in.size(); ++k) in[k].name = sg().tensors[sg().inputs[k]].name;
    return ex.run(in);
  }

 private:
  Model model_;
};

// Element-wise closeness for float results.
inline void expect_near(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const float scale = std::max(1.0f, std::abs(want[i]));
    ASSERT_NEAR(got[i], want[i], tol * scale) << "at element " << i;
  }
}

}  // namespace qcal::test
