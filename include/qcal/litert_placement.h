// Where LiteRT on CPU runs each op of a model: inside its XNNPACK delegate, or on TFLite's
// builtin kernels. Every op the delegate does not take cuts the delegated graph, and the ops
// left outside run on slow reference code: an int8 model full of them runs slower than its
// float original (issue 22). The rules are the delegate's own checks (xnnpack_delegate.cc),
// read from the op table (OpQuantInfo::xnnpack_float / xnnpack_int8) plus per-op conditions.
#pragma once

#include <string>
#include <vector>

#include "qcal/model.h"

namespace qcal {

struct OpPlacement {
  int op = -1;
  bool xnnpack = false;
  std::string reason;  // why the delegate refuses it (empty when it takes it)
};

struct LitertPlacement {
  std::vector<OpPlacement> ops;  // one per operator of subgraph 0, in execution order
  int delegated = 0;             // ops XNNPACK takes
  // Runs of consecutive delegated ops in execution order: an upper bound on the delegate's
  // partitions (LiteRT may merge runs that do not depend on the ops between them).
  int runs = 0;
};

// Placement of every op of the model's first subgraph. A DEQUANTIZE of a constant (fp16 or
// int8 weights) counts as taken: the delegate unpacks it ahead of time.
LitertPlacement litert_placement(const Model& model);

}  // namespace qcal
