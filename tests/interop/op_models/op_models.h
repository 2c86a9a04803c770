// Single-op models for checking qcal's integer kernels against the real LiteRT runtime:
// each case builds a tiny model (random weights, fixed seed) with ModelBuilder; the
// make_op_models tool writes them all, and int8_ops_vs_litert.sh runs every one through
// qcal and LiteRT on the same seeded inputs and compares the outputs.
//
// A case file registers its cases at static-initialization time:
//   static const bool kRegistered = register_op_model("conv_3x3_s1", [](ModelBuilder& b) {...});
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "op_test_util.h"

namespace qcal::test {

struct OpModelCase {
  std::string name;
  std::function<void(ModelBuilder&)> build;
};

std::vector<OpModelCase>& op_model_cases();

inline bool register_op_model(std::string name, std::function<void(ModelBuilder&)> build) {
  op_model_cases().push_back({std::move(name), std::move(build)});
  return true;
}

// Per-tensor int8 quantization (scale, zero point).
inline Quantization q8(float scale, int32_t zero_point) {
  Quantization q;
  q.scale = {scale};
  q.zero_point = {zero_point};
  return q;
}

}  // namespace qcal::test
