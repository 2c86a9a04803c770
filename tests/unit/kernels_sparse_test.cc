// DENSIFY and qcal::densify against a dense -> sparse encoder written here from the
// TFLite sparsity format description (schema.fbs): random dense tensors are encoded with
// various traversal orders, level formats, block maps and index widths, then expanded back.
#include <random>

#include "op_test_util.h"
#include "qcal/sparse.h"

namespace qcal {
namespace {

using test::ModelBuilder;
using tflite::DimensionType;

struct Encoding {
  std::shared_ptr<tflite::SparsityParametersT> sparsity;
  std::vector<uint8_t> values;
};

// Encodes `dense` (row-major `shape`, esize bytes per element). Levels: the original dims
// in `order` (a permutation of 0..rank-1), then one block dim per entry of `block_map`
// (sizes `block_size`); `formats` per level. A sparse level keeps a coordinate iff its
// subtree holds a non-zero element. `index_width` picks Int32/Uint16/Uint8 vectors.
Encoding encode(const std::vector<uint8_t>& dense, const Shape& shape, size_t esize, const std::vector<int>& order,
                const std::vector<int>& block_map, const std::vector<int>& block_size, const std::vector<DimensionType>& formats,
                int index_width) {
  const int rank = static_cast<int>(shape.size()), nb = static_cast<int>(block_map.size()), levels = rank + nb;
  std::vector<int> dim_of_level(levels), size_of_level(levels);
  for (int p = 0; p < rank; ++p) {
    dim_of_level[p] = order[p];
    int s = shape[order[p]];
    for (int k = 0; k < nb; ++k)
      if (block_map[k] == order[p]) s /= block_size[k];
    size_of_level[p] = s;
  }
  for (int k = 0; k < nb; ++k) dim_of_level[rank + k] = rank + k, size_of_level[rank + k] = block_size[k];

  std::vector<int> coord(levels);  // per level
  auto element = [&]() {
    int64_t flat = 0;
    for (int d = 0; d < rank; ++d) {
      int64_t c = 0;
      for (int p = 0; p < rank; ++p)
        if (dim_of_level[p] == d) c = coord[p];
      for (int k = 0; k < nb; ++k)
        if (block_map[k] == d) c = c * block_size[k] + coord[rank + k];
      flat = flat * shape[d] + c;
    }
    return dense.data() + flat * esize;
  };
  auto nonzero_below = [&](auto&& self, int p) -> bool {
    if (p == levels) {
      const uint8_t* e = element();
      for (size_t i = 0; i < esize; ++i)
        if (e[i]) return true;
      return false;
    }
    for (int i = 0; i < size_of_level[p]; ++i) {
      coord[p] = i;
      if (self(self, p + 1)) return true;
    }
    return false;
  };
  std::vector<std::vector<int>> segments(levels, std::vector<int>{0}), indices(levels);
  Encoding enc;
  auto emit = [&](auto&& self, int p) -> void {
    if (p == levels) {
      const uint8_t* e = element();
      enc.values.insert(enc.values.end(), e, e + esize);
      return;
    }
    for (int i = 0; i < size_of_level[p]; ++i) {
      coord[p] = i;
      if (formats[p] == DimensionType::SPARSE_CSR) {
        if (!nonzero_below(nonzero_below, p + 1)) continue;
        coord[p] = i;
        indices[p].push_back(i);
      }
      self(self, p + 1);
    }
    if (formats[p] == DimensionType::SPARSE_CSR) segments[p].push_back(static_cast<int>(indices[p].size()));
  };
  emit(emit, 0);

  auto vec = [&](const std::vector<int>& v) {
    tflite::SparseIndexVectorUnion u;
    if (index_width == 4) {
      tflite::Int32VectorT t;
      t.values.assign(v.begin(), v.end());
      u.Set(std::move(t));
    } else if (index_width == 2) {
      tflite::Uint16VectorT t;
      t.values.assign(v.begin(), v.end());
      u.Set(std::move(t));
    } else {
      tflite::Uint8VectorT t;
      t.values.assign(v.begin(), v.end());
      u.Set(std::move(t));
    }
    return u;
  };
  enc.sparsity = std::make_shared<tflite::SparsityParametersT>();
  auto& sp = *enc.sparsity;
  for (int p = 0; p < levels; ++p) sp.traversal_order.push_back(dim_of_level[p]);
  sp.block_map.assign(block_map.begin(), block_map.end());
  for (int p = 0; p < levels; ++p) {
    auto md = std::make_unique<tflite::DimensionMetadataT>();
    md->format = formats[p];
    if (formats[p] == DimensionType::DENSE) {
      md->dense_size = size_of_level[p];
    } else {
      md->array_segments = vec(segments[p]);
      md->array_indices = vec(indices[p]);
    }
    sp.dim_metadata.push_back(std::move(md));
  }
  return enc;
}

// Random dense bytes with about half the elements (or blocks) zero.
std::vector<uint8_t> random_sparse_bytes(const Shape& shape, size_t esize, std::mt19937& rng) {
  std::vector<uint8_t> d(num_elements(shape) * esize, 0);
  for (size_t i = 0; i < d.size(); i += esize)
    if (rng() % 2)
      for (size_t k = 0; k < esize; ++k) d[i + k] = static_cast<uint8_t>(1 + rng() % 255);
  return d;
}

Tensor sparse_tensor(const Shape& shape, DType t, const Encoding& e) {
  Tensor x;
  x.name = "w";
  x.shape = shape;
  x.dtype = t;
  x.sparsity = e.sparsity;
  return x;
}

TEST(SparseDensify, RandomLayoutsRoundTrip) {
  std::mt19937 rng(17);
  struct Layout {
    Shape shape;
    std::vector<int> order, block_map, block_size;
    std::vector<DimensionType> formats;
  };
  const auto D = DimensionType::DENSE, S = DimensionType::SPARSE_CSR;
  const Layout layouts[] = {
      {{4, 6}, {0, 1}, {}, {}, {D, S}},                     // CSR
      {{4, 6}, {1, 0}, {}, {}, {D, S}},                     // CSC (column-major traversal)
      {{5, 7}, {0, 1}, {}, {}, {S, S}},                     // doubly compressed
      {{8, 4}, {0, 1}, {0}, {4}, {D, S, D}},                // 4x1 blocks
      {{6, 8}, {0, 1}, {0, 1}, {2, 4}, {D, S, D, D}},       // 2x4 blocks
      {{8, 1, 1, 32}, {0, 1, 2, 3}, {}, {}, {D, D, D, S}},  // conv weights as in MediaPipe
      {{3, 4, 5}, {2, 0, 1}, {}, {}, {S, D, S}},
  };
  for (const Layout& l : layouts)
    for (DType t : {DType::kFloat32, DType::kFloat16, DType::kInt8})
      for (int width : {1, 2, 4}) {
        const size_t es = dtype_size(t);
        const std::vector<uint8_t> dense = random_sparse_bytes(l.shape, es, rng);
        const Encoding e = encode(dense, l.shape, es, l.order, l.block_map, l.block_size, l.formats, width);
        EXPECT_EQ(densify(sparse_tensor(l.shape, t, e), Buffer{e.values}), dense)
            << shape_str(l.shape) << " " << dtype_name(t) << " width " << width;
      }
}

TEST(SparseDensify, KernelFoldsTheConstant) {
  std::mt19937 rng(1);
  const Shape s = {8, 4};
  const auto D = DimensionType::DENSE, S = DimensionType::SPARSE_CSR;
  const std::vector<uint8_t> dense = random_sparse_bytes(s, 2, rng);
  const Encoding e = encode(dense, s, 2, {0, 1}, {0}, {4}, {D, S, D}, 2);
  for (DType out_type : {DType::kFloat16}) {
    ModelBuilder b;
    const int w = b.constant(DType::kFloat16, s, e.values);
    b.sg().tensors[w].sparsity = e.sparsity;
    const int y = b.tensor(out_type, s);
    b.op(tflite::BuiltinOperator::DENSIFY, {w}, {y});
    b.output(y);
    EXPECT_EQ(b.run({})[0].data, dense);
  }
}

TEST(SparseDensify, Int8TableKeepsQuantization) {
  std::mt19937 rng(2);
  const Shape s = {3, 5};
  const std::vector<uint8_t> dense = random_sparse_bytes(s, 1, rng);
  const Encoding e = encode(dense, s, 1, {0, 1}, {}, {}, {DimensionType::DENSE, DimensionType::SPARSE_CSR}, 1);
  Quantization q;
  q.scale = {0.5f};
  q.zero_point = {0};
  for (float out_scale : {0.5f, 0.25f}) {
    ModelBuilder b;
    const int w = b.constant(DType::kInt8, s, e.values, q);
    b.sg().tensors[w].sparsity = e.sparsity;
    Quantization qo = q;
    qo.scale = {out_scale};
    const int y = b.tensor(DType::kInt8, s, qo);
    b.op(tflite::BuiltinOperator::DENSIFY, {w}, {y});
    b.output(y);
    if (out_scale == 0.5f) EXPECT_EQ(b.run({})[0].data, dense);
    else EXPECT_THROW(b.run({}), Error);
  }
}

TEST(SparseDensify, RejectsInconsistentSparsity) {
  std::mt19937 rng(3);
  const Shape s = {4, 6};
  const auto D = DimensionType::DENSE, S = DimensionType::SPARSE_CSR;
  std::vector<uint8_t> dense = random_sparse_bytes(s, 4, rng);
  dense[0] = 1;  // at least one non-zero
  auto fresh = [&] { return encode(dense, s, 4, {0, 1}, {}, {}, {D, S}, 4); };
  auto expect_error = [&](const Encoding& e, const std::string& what) {
    EXPECT_THROW(densify(sparse_tensor(s, DType::kFloat32, e), Buffer{e.values}), Error) << what;
  };
  {
    Encoding e = fresh();
    e.sparsity->dim_metadata[1]->array_indices.AsInt32Vector()->values[0] = 6;
    expect_error(e, "index out of range");
  }
  {
    Encoding e = fresh();
    e.sparsity->dim_metadata[1]->array_segments.AsInt32Vector()->values.pop_back();
    expect_error(e, "too few segments");
  }
  {
    Encoding e = fresh();
    e.values.resize(e.values.size() - 4);
    expect_error(e, "too few values");
  }
  {
    Encoding e = fresh();
    e.sparsity->dim_metadata[0]->dense_size = 5;
    expect_error(e, "dense_size disagrees with the shape");
  }
  {
    Encoding e = fresh();
    e.sparsity->traversal_order = {0, 0};
    expect_error(e, "traversal order not a permutation");
  }
  {
    Encoding e = encode(dense, s, 4, {0, 1}, {0}, {4}, {D, S, D}, 4);
    e.sparsity->dim_metadata[2]->dense_size = 3;  // 4 % 3 != 0
    EXPECT_THROW(densify(sparse_tensor(s, DType::kFloat32, e), Buffer{e.values}), Error);
  }
  {
    Encoding e = fresh();
    auto& seg = e.sparsity->dim_metadata[1]->array_segments.AsInt32Vector()->values;
    std::swap(seg[1], seg[2]);
    if (seg[1] > seg[2]) expect_error(e, "decreasing segments");
  }
}

}  // namespace
}  // namespace qcal
