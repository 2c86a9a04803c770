// DENSIFY: expands a sparse constant (TFLite sparsity parameters) into a dense tensor.
//
// TFLite stores a sparse tensor as a tree walked in `traversal_order`: one level per
// original dimension, then one per block dimension (block_map names the original dimension
// each block dimension splits). A DENSE level has `dense_size` children per parent
// position; a SPARSE_CSR level lists, for parent position p, the child coordinates
// array_indices[array_segments[p] .. array_segments[p+1]). Child positions are
// parent * dense_size + i below a dense level and the index into array_indices below a
// sparse one. Leaves, in traversal order, consume the stored values one by one.
#include "qcal/sparse.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "qcal/error.h"
#include "qcal/kernel.h"

namespace qcal {
namespace {

std::vector<int64_t> index_vector(const tflite::SparseIndexVectorUnion& u) {
  std::vector<int64_t> v;
  if (const auto* a = u.AsInt32Vector()) v.assign(a->values.begin(), a->values.end());
  else if (const auto* b = u.AsUint16Vector()) v.assign(b->values.begin(), b->values.end());
  else if (const auto* c = u.AsUint8Vector()) v.assign(c->values.begin(), c->values.end());
  return v;
}

struct Level {
  bool sparse = false;
  int64_t size = 0;  // children per parent position (dense) / coordinate bound (sparse)
  std::vector<int64_t> segments, indices;
  int dim = 0;       // expanded dimension: < rank original (block coordinate), else block dim
};

}  // namespace

std::vector<uint8_t> densify(const Tensor& t, const Buffer& data) {
  auto fail = [&](const std::string& what) -> void {
    throw Error("sparse tensor '" + t.name + "': " + what);
  };
  if (!t.sparsity) fail("has no sparsity parameters");
  const tflite::SparsityParametersT& sp = *t.sparsity;
  const size_t esize = dtype_size(t.dtype);
  if (esize == 0) fail(std::string("type ") + dtype_name(t.dtype) + " is not supported");
  const int rank = static_cast<int>(t.shape.size());
  const int nblock = static_cast<int>(sp.block_map.size());
  const int levels = rank + nblock;
  if (static_cast<int>(sp.traversal_order.size()) != levels || static_cast<int>(sp.dim_metadata.size()) != levels)
    fail("traversal_order and dim_metadata must have " + std::to_string(levels) + " entries (rank + block dims)");
  for (int d : t.shape)
    if (d < 0) fail("has a negative dimension");

  // Original dims come first in the traversal, block dims after (TFLite assumes this).
  std::vector<bool> seen(levels, false);
  for (int p = 0; p < levels; ++p) {
    const int d = sp.traversal_order[p];
    if (d < 0 || d >= levels || seen[d]) fail("traversal_order is not a permutation");
    if ((p < rank) != (d < rank)) fail("traversal_order must list the original dimensions before the block dimensions");
    seen[d] = true;
  }
  for (int k = 0; k < nblock; ++k) {
    if (sp.block_map[k] < 0 || sp.block_map[k] >= rank) fail("block_map entry out of range");
    if (k > 0 && sp.block_map[k] <= sp.block_map[k - 1]) fail("block_map must be increasing");
  }

  // Block sizes come from the dense_size of each block dimension's level.
  std::vector<int64_t> block_size(nblock, 1);
  for (int p = rank; p < levels; ++p) {
    const auto& md = sp.dim_metadata[p];
    if (!md) fail("missing dim_metadata");
    if (md->format != tflite::DimensionType::DENSE) fail("block dimensions must be DENSE");
    if (md->dense_size <= 0) fail("block size must be positive");
    block_size[sp.traversal_order[p] - rank] = md->dense_size;
  }
  std::vector<int64_t> blocked(t.shape.begin(), t.shape.end());
  for (int k = 0; k < nblock; ++k) {
    const int d = sp.block_map[k];
    if (t.shape[d] % block_size[k] != 0)
      fail("dimension " + std::to_string(d) + " (" + std::to_string(t.shape[d]) + ") is not a multiple of its block size " +
           std::to_string(block_size[k]));
    blocked[d] = t.shape[d] / block_size[k];
  }

  // The levels, validated so the walk below never leaves its arrays.
  std::vector<Level> lv(levels);
  int64_t positions = 1;  // parent positions entering level p
  for (int p = 0; p < levels; ++p) {
    const auto& md = sp.dim_metadata[p];
    if (!md) fail("missing dim_metadata");
    Level& L = lv[p];
    L.dim = sp.traversal_order[p];
    const int64_t bound = L.dim < rank ? blocked[L.dim] : block_size[L.dim - rank];
    const std::string where = "level " + std::to_string(p);
    if (md->format == tflite::DimensionType::DENSE) {
      if (md->dense_size != bound)
        fail(where + " has dense_size " + std::to_string(md->dense_size) + ", expected " + std::to_string(bound));
      L.size = bound;
      positions *= bound;
    } else if (md->format == tflite::DimensionType::SPARSE_CSR) {
      L.sparse = true;
      L.size = bound;
      L.segments = index_vector(md->array_segments);
      L.indices = index_vector(md->array_indices);
      if (static_cast<int64_t>(L.segments.size()) != positions + 1)
        fail(where + " has " + std::to_string(L.segments.size()) + " segments, expected " + std::to_string(positions + 1));
      for (int64_t i = 0; i < positions; ++i)
        if (L.segments[i] < 0 || L.segments[i] > L.segments[i + 1]) fail(where + " has decreasing segments");
      if (L.segments[positions] > static_cast<int64_t>(L.indices.size())) fail(where + " segments run past its indices");
      for (int64_t v : L.indices)
        if (v < 0 || v >= bound) fail(where + " has index " + std::to_string(v) + " outside [0, " + std::to_string(bound) + ")");
      positions = L.segments[positions];
    } else {
      fail(where + " has an unknown format");
    }
  }
  // `positions` is now the number of leaves: one stored value each.
  const int64_t values = static_cast<int64_t>(data.data.size() / esize);
  if (positions > values)
    fail("needs " + std::to_string(positions) + " values, the buffer holds " + std::to_string(values));

  const int64_t dense_count = num_elements(t.shape);
  std::vector<uint8_t> out(static_cast<size_t>(dense_count) * esize, 0);
  std::vector<int64_t> strides(rank, 1);
  for (int d = rank - 2; d >= 0; --d) strides[d] = strides[d + 1] * t.shape[d + 1];

  // Depth-first walk in traversal order; coord[] holds each expanded dim's coordinate.
  std::vector<int64_t> coord(levels, 0);
  int64_t next_value = 0;
  auto walk = [&](auto&& self, int p, int64_t pos) -> void {
    if (p == levels) {
      int64_t flat = 0;
      for (int d = 0; d < rank; ++d) {
        int64_t c = coord[d];
        for (int k = 0; k < nblock; ++k)
          if (sp.block_map[k] == d) c = c * block_size[k] + coord[rank + k];
        flat += c * strides[d];
      }
      std::memcpy(out.data() + flat * esize, data.data.data() + next_value * esize, esize);
      ++next_value;
      return;
    }
    const Level& L = lv[p];
    if (!L.sparse) {
      for (int64_t i = 0; i < L.size; ++i) {
        coord[L.dim] = i;
        self(self, p + 1, pos * L.size + i);
      }
    } else {
      for (int64_t i = L.segments[pos]; i < L.segments[pos + 1]; ++i) {
        coord[L.dim] = L.indices[i];
        self(self, p + 1, i);
      }
    }
  };
  if (dense_count > 0) walk(walk, 0, 0);
  return out;
}

namespace {

// The kernel: the input is a sparse constant, so the executor evaluates it once.
class DensifyKernel : public OpKernel {
 public:
  explicit DensifyKernel(bool quantized) : quantized_(quantized) {}
  void prepare(OpContext& ctx) override {
    ctx.expect_io(1, 1, 1);
    ctx.expect_constant(0, "input");
    const Tensor& t = ctx.input_tensor(0);
    if (!t.sparsity) ctx.fail("input '" + t.name + "' has no sparsity parameters");
    const TensorData& out = ctx.out();
    if (out.dtype != t.dtype) ctx.fail(std::string("output is ") + dtype_name(out.dtype) + ", input " + dtype_name(t.dtype));
    if (t.dtype != DType::kFloat32 && t.dtype != DType::kFloat16 && t.dtype != DType::kInt8)
      ctx.fail(std::string("type ") + dtype_name(t.dtype) + " is not supported (float32, float16, int8)");
    if (out.shape != t.shape) ctx.fail("output has shape " + shape_str(out.shape) + ", the dense input shape is " + shape_str(t.shape));
    if (quantized_) {
      const Quantization* q = t.quantization ? &*t.quantization : nullptr;
      const bool a = q && q->has_scale(), b = out.quant && out.quant->has_scale();
      if (a != b || (a && (q->scale != out.quant->scale || q->zero_point != out.quant->zero_point)))
        ctx.fail("input and output must share scale and zero point");
    }
    try {
      (void)densify(t, *ctx.model->data_of(t));  // validates; the result is produced in eval
    } catch (const Error& e) {
      ctx.fail(e.what());
    }
  }
  void eval(OpContext& ctx) const override {
    const Tensor& t = ctx.input_tensor(0);
    const std::vector<uint8_t> dense = densify(t, *ctx.model->data_of(t));
    std::memcpy(ctx.out().data, dense.data(), std::min(dense.size(), ctx.out().bytes));
  }

 private:
  bool quantized_;
};

}  // namespace

void register_sparse_kernels(KernelRegistry& r) {
  r.add_builtin(tflite::BuiltinOperator::DENSIFY, [] { return std::make_unique<DensifyKernel>(false); }, Numerics::kFloat);
  r.add_builtin(tflite::BuiltinOperator::DENSIFY, [] { return std::make_unique<DensifyKernel>(true); }, Numerics::kInt8);
}

}  // namespace qcal
