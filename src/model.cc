#include "qcal/model.h"

#include <sstream>

namespace qcal {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kFloat32: return "float32";
    case DType::kFloat16: return "float16";
    case DType::kInt32: return "int32";
    case DType::kUInt8: return "uint8";
    case DType::kInt64: return "int64";
    case DType::kString: return "string";
    case DType::kBool: return "bool";
    case DType::kInt16: return "int16";
    case DType::kComplex64: return "complex64";
    case DType::kInt8: return "int8";
    case DType::kFloat64: return "float64";
    case DType::kComplex128: return "complex128";
    case DType::kUInt64: return "uint64";
    case DType::kResource: return "resource";
    case DType::kVariant: return "variant";
    case DType::kUInt32: return "uint32";
    case DType::kUInt16: return "uint16";
    case DType::kInt4: return "int4";
    case DType::kBFloat16: return "bfloat16";
    case DType::kInt2: return "int2";
    case DType::kUInt4: return "uint4";
    case DType::kFloat8E4M3FN: return "float8_e4m3fn";
    case DType::kFloat8E5M2: return "float8_e5m2";
  }
  return "unknown";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kFloat32: case DType::kInt32: case DType::kUInt32: return 4;
    case DType::kFloat16: case DType::kInt16: case DType::kUInt16: case DType::kBFloat16: return 2;
    case DType::kUInt8: case DType::kInt8: case DType::kBool:
    case DType::kFloat8E4M3FN: case DType::kFloat8E5M2: return 1;
    case DType::kInt64: case DType::kFloat64: case DType::kUInt64: case DType::kComplex64: return 8;
    case DType::kComplex128: return 16;
    default: return 0;
  }
}

int64_t num_elements(const Shape& shape) {
  // Saturates instead of overflowing: the reader rejects such shapes, but nothing that
  // merely asks for a size should be undefined behaviour on a hostile file.
  int64_t n = 1;
  for (int32_t d : shape) {
    if (d < 0) return -1;
    if (__builtin_mul_overflow(n, static_cast<int64_t>(d), &n)) return INT64_MAX;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? "," : "") << shape[i];
  s << ']';
  return s.str();
}

std::string OpCode::name() const {
  if (is_custom()) return custom;
  if (builtin >= 0 && builtin <= static_cast<int32_t>(tflite::BuiltinOperator::MAX)) {
    const char* n = tflite::EnumNameBuiltinOperator(static_cast<tflite::BuiltinOperator>(builtin));
    if (n && *n) return n;
  }
  return "BUILTIN_" + std::to_string(builtin);
}

const Buffer* Model::data_of(const Tensor& t) const {
  if (t.buffer == 0 || t.buffer >= buffers.size() || buffers[t.buffer].empty()) return nullptr;
  return &buffers[t.buffer];
}

uint32_t Model::add_buffer(std::vector<uint8_t> bytes) {
  if (buffers.empty()) buffers.emplace_back();  // keep the sentinel at index 0
  buffers.push_back(Buffer{std::move(bytes)});
  return static_cast<uint32_t>(buffers.size() - 1);
}

std::optional<std::string> Model::metadata_string(const std::string& name) const {
  for (const Metadata& m : metadata) {
    if (m.name == name && m.buffer < buffers.size()) {
      const auto& d = buffers[m.buffer].data;
      std::string s(d.begin(), d.end());
      while (!s.empty() && s.back() == '\0') s.pop_back();
      return s;
    }
  }
  return std::nullopt;
}

}  // namespace qcal
