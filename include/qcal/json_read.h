// JSON text and reading numbers from JSON files users may have edited. nlohmann's get<T>() static_casts any
// number to T, and a value out of T's range (5e21 into a count, 1e39 into a float) is then
// undefined behaviour; these accept only what fits and throw a one-line Error otherwise.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qcal/error.h"

namespace qcal {

// The JSON text of j (indent as nlohmann's dump). Tensor names are bytes from the model: an
// invalid UTF-8 sequence is replaced, where a plain dump() would throw.
inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

template <typename T>
T json_integer(const nlohmann::json& j, const char* what) {
  using L = std::numeric_limits<T>;
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v <= static_cast<uint64_t>(L::max())) return static_cast<T>(v);
  } else if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if ((L::is_signed || v >= 0) && v >= static_cast<int64_t>(L::lowest()) &&
        static_cast<uint64_t>(v >= 0 ? v : 0) <= static_cast<uint64_t>(L::max()))
      return static_cast<T>(v);
  }
  throw Error(std::string(what) + " must be an integer in [" + std::to_string(L::lowest()) + ", " + std::to_string(L::max()) +
              "], got " + json_text(j).substr(0, 40));
}

inline double json_double(const nlohmann::json& j, const char* what) {
  if (!j.is_number()) throw Error(std::string(what) + " must be a number");
  return j.get<double>();  // every JSON number converts to double without undefined behaviour
}

// A double beyond float's range becomes +-infinity (what the checks after reading refuse).
inline float json_float(const nlohmann::json& j, const char* what) {
  const double d = json_double(j, what);
  if (std::abs(d) > std::numeric_limits<float>::max()) return d > 0 ? std::numeric_limits<float>::infinity()
                                                                      : -std::numeric_limits<float>::infinity();
  return static_cast<float>(d);
}

template <typename F>
auto json_array(const nlohmann::json& j, const char* what, F read_one) {
  if (!j.is_array()) throw Error(std::string(what) + " must be an array");
  std::vector<decltype(read_one(j))> out;
  out.reserve(j.size());
  for (const auto& e : j) out.push_back(read_one(e));
  return out;
}

}  // namespace qcal
