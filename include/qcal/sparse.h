// Sparse constant tensors (TFLite's SparsityParameters): expansion to dense data.
#pragma once

#include <cstdint>
#include <vector>

#include "qcal/model.h"

namespace qcal {

// The dense bytes (row-major, t.shape, dtype_size(t.dtype) bytes per element) of a sparse
// constant tensor `t` whose stored values are `data`, following TFLite's FormatConverter
// (sparse -> dense): dimension metadata in traversal order, DENSE or SPARSE_CSR levels,
// block dimensions (block_map) traversed after the original ones. Missing elements are
// zero bytes. Throws qcal::Error naming the tensor when the sparsity parameters are
// inconsistent with its shape or data.
std::vector<uint8_t> densify(const Tensor& t, const Buffer& data);

}  // namespace qcal
