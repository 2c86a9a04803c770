// Data-movement kernels (shape.cc) against naive index-mapping references written here:
// every output element is computed from its multi-index, independently of the kernels'
// row/stride machinery. Values are moved, never computed, so results must be exact.
#include <algorithm>
#include <functional>
#include <numeric>
#include <optional>
#include <random>

#include "op_test_util.h"

namespace qcal {
namespace {

using test::host;
using test::ModelBuilder;
using tflite::BuiltinOperator;
using Index = std::vector<int64_t>;

Index unravel(int64_t flat, const Shape& s) {
  Index idx(s.size());
  for (size_t k = s.size(); k-- > 0;) {
    idx[k] = flat % s[k];
    flat /= s[k];
  }
  return idx;
}
int64_t ravel(const Index& idx, const Shape& s) {
  int64_t f = 0;
  for (size_t k = 0; k < s.size(); ++k) f = f * s[k] + idx[k];
  return f;
}

// Distinct values so any misplaced element shows.
std::vector<float> iota_floats(int64_t n, float start = 1.0f) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// Builds want[i] = in[src(i)] for every output element.
template <typename T>
std::vector<T> naive_gather(const std::vector<T>& in, const Shape& in_shape, const Shape& out_shape,
                            const std::function<Index(const Index&)>& src) {
  std::vector<T> out(num_elements(out_shape));
  for (int64_t i = 0; i < static_cast<int64_t>(out.size()); ++i) out[i] = in[ravel(src(unravel(i, out_shape)), in_shape)];
  return out;
}

Quantization quant(float scale, int64_t zp) {
  Quantization q;
  q.scale = {scale};
  q.zero_point = {zp};
  return q;
}

// A one-input, one-output op on float32 data, with extra constant inputs.
template <typename Opts = std::nullptr_t>
std::vector<float> run1(BuiltinOperator code, const Shape& in_shape, const std::vector<float>& in, const Shape& out_shape,
                        const std::function<std::vector<int>(ModelBuilder&)>& extra = {}, Opts opts = nullptr,
                        int threads = 1) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, in_shape);
  std::vector<int> ins = {x};
  if (extra) for (int t : extra(b)) ins.push_back(t);
  const int y = b.tensor(DType::kFloat32, out_shape);
  b.op(code, ins, {y}, std::move(opts));
  b.output(y);
  return test::from_bytes<float>(b.run({host(in_shape, in)}, threads)[0].data);
}

// ---- RESHAPE / SQUEEZE / EXPAND_DIMS ------------------------------------------------------

TEST(ShapeReshape, CopiesWithShapeInputOrOptions) {
  const std::vector<float> x = iota_floats(24);
  EXPECT_EQ(run1(BuiltinOperator::RESHAPE, {2, 3, 4}, x, {4, 6}, [](ModelBuilder& b) { return std::vector<int>{b.constant_i32({2}, {-1, 6})}; }), x);
  tflite::ReshapeOptionsT o;
  o.new_shape = {24};
  EXPECT_EQ(run1(BuiltinOperator::RESHAPE, {2, 3, 4}, x, {24}, {}, o), x);
  EXPECT_THROW(run1(BuiltinOperator::RESHAPE, {2, 3, 4}, x, {5, 5}), Error);
}

TEST(ShapeReshape, Int8TableRequiresSameQuantization) {
  for (bool same : {true, false}) {
    ModelBuilder b;
    const int x = b.input(DType::kInt8, {2, 3}, quant(0.5f, 1));
    const int y = b.tensor(DType::kInt8, {6}, quant(same ? 0.5f : 0.25f, 1));
    b.op(BuiltinOperator::RESHAPE, {x}, {y});
    b.output(y);
    const std::vector<int8_t> v = {1, -2, 3, -4, 5, -128};
    if (same) EXPECT_EQ(test::from_bytes<int8_t>(b.run({host<int8_t>({2, 3}, v, DType::kInt8)})[0].data), v);
    else EXPECT_THROW(b.run({host<int8_t>({2, 3}, v, DType::kInt8)}), Error);
  }
}

TEST(ShapeSqueeze, AllOrListedUnitDims) {
  const std::vector<float> x = iota_floats(6);
  EXPECT_EQ(run1(BuiltinOperator::SQUEEZE, {1, 3, 1, 2}, x, {3, 2}), x);
  tflite::SqueezeOptionsT o;
  o.squeeze_dims = {-2};
  EXPECT_EQ(run1(BuiltinOperator::SQUEEZE, {1, 3, 1, 2}, x, {1, 3, 2}, {}, o), x);
  EXPECT_THROW(run1(BuiltinOperator::SQUEEZE, {1, 3, 1, 2}, x, {3, 2}, {}, o), Error);  // wrong output shape
  o.squeeze_dims = {1};
  EXPECT_THROW(run1(BuiltinOperator::SQUEEZE, {1, 3, 1, 2}, x, {1, 1, 2, 3}, {}, o), Error);  // dim 1 is not 1
}

TEST(ShapeExpandDims, NegativeAxis) {
  const std::vector<float> x = iota_floats(6);
  auto axis = [](int a) { return [a](ModelBuilder& b) { return std::vector<int>{b.constant_i32({1}, {a})}; }; };
  EXPECT_EQ(run1(BuiltinOperator::EXPAND_DIMS, {2, 3}, x, {2, 3, 1}, axis(-1)), x);
  EXPECT_EQ(run1(BuiltinOperator::EXPAND_DIMS, {2, 3}, x, {1, 2, 3}, axis(0)), x);
  EXPECT_THROW(run1(BuiltinOperator::EXPAND_DIMS, {2, 3}, x, {2, 1, 3}, axis(0)), Error);
  EXPECT_THROW(run1(BuiltinOperator::EXPAND_DIMS, {2, 3}, x, {2, 3, 1}, axis(4)), Error);
}

// ---- CONCATENATION / PACK -----------------------------------------------------------------

TEST(ShapeConcatenation, EveryAxisAndActivation) {
  const Shape s0 = {2, 3, 4};
  for (int axis = -3; axis < 3; ++axis) {
    const int a = axis < 0 ? axis + 3 : axis;
    std::vector<Shape> shapes(3, s0);
    shapes[1][a] = 1;
    shapes[2][a] = 2;
    Shape out = s0;
    out[a] = s0[a] + 3;
    for (auto act : {tflite::ActivationFunctionType::NONE, tflite::ActivationFunctionType::RELU6}) {
      ModelBuilder b;
      std::vector<int> ins;
      std::vector<HostTensor> hs;
      std::vector<std::vector<float>> data;
      for (int i = 0; i < 3; ++i) {
        ins.push_back(b.input(DType::kFloat32, shapes[i]));
        data.push_back(test::random_floats(num_elements(shapes[i]), 10 + i, -8, 8));
        hs.push_back(host(shapes[i], data.back()));
      }
      const int y = b.tensor(DType::kFloat32, out);
      tflite::ConcatenationOptionsT o;
      o.axis = axis;
      o.fused_activation_function = act;
      b.op(BuiltinOperator::CONCATENATION, ins, {y}, o);
      b.output(y);
      const std::vector<float> got = test::from_bytes<float>(b.run(hs)[0].data);
      std::vector<float> want(num_elements(out));
      for (int64_t i = 0; i < static_cast<int64_t>(want.size()); ++i) {
        Index idx = unravel(i, out);
        int k = 0;
        while (idx[a] >= shapes[k][a]) idx[a] -= shapes[k++][a];
        float v = data[k][ravel(idx, shapes[k])];
        if (act == tflite::ActivationFunctionType::RELU6) v = std::min(std::max(v, 0.0f), 6.0f);
        want[i] = v;
      }
      EXPECT_EQ(got, want) << "axis " << axis;
    }
  }
}

TEST(ShapeConcatenation, BadShapesAndQuantization) {
  auto build = [](const Shape& a, const Shape& c, const Shape& out, float scale_b) {
    ModelBuilder b;
    const int x = b.input(DType::kInt8, a, quant(0.1f, 2));
    const int y = b.input(DType::kInt8, c, quant(scale_b, 2));
    const int z = b.tensor(DType::kInt8, out, quant(0.1f, 2));
    tflite::ConcatenationOptionsT o;
    o.axis = 1;
    b.op(BuiltinOperator::CONCATENATION, {x, y}, {z}, o);
    b.output(z);
    return b.run({HostTensor::zeros("", DType::kInt8, a), HostTensor::zeros("", DType::kInt8, c)});
  };
  EXPECT_NO_THROW(build({2, 3}, {2, 1}, {2, 4}, 0.1f));
  EXPECT_THROW(build({2, 3}, {2, 1}, {2, 4}, 0.2f), Error);  // int8 inputs must share scale
  EXPECT_THROW(build({2, 3}, {3, 1}, {2, 4}, 0.1f), Error);  // non-axis dims differ
  EXPECT_THROW(build({2, 3}, {2, 1}, {2, 5}, 0.1f), Error);  // axis sizes don't add up
}

TEST(ShapePack, EveryAxisThenUnpackRoundTrip) {
  const Shape s = {2, 3};
  for (int axis = -3; axis < 3; ++axis) {
    const int a = axis < 0 ? axis + 3 : axis;
    Shape out = s;
    out.insert(out.begin() + a, 4);
    ModelBuilder b;
    std::vector<int> ins;
    std::vector<HostTensor> hs;
    std::vector<std::vector<float>> data;
    for (int i = 0; i < 4; ++i) {
      ins.push_back(b.input(DType::kFloat32, s));
      data.push_back(iota_floats(6, 100.0f * i));
      hs.push_back(host(s, data.back()));
    }
    const int y = b.tensor(DType::kFloat32, out);
    tflite::PackOptionsT o;
    o.axis = axis;
    o.values_count = 4;
    b.op(BuiltinOperator::PACK, ins, {y}, o);
    // ... and UNPACK it back.
    std::vector<int> outs;
    for (int i = 0; i < 4; ++i) outs.push_back(b.tensor(DType::kFloat32, s));
    tflite::UnpackOptionsT u;
    u.axis = axis;
    u.num = 4;
    b.op(BuiltinOperator::UNPACK, {y}, outs, u);
    b.output(y);
    for (int t : outs) b.output(t);
    const std::vector<HostTensor> res = b.run(hs);
    std::vector<float> want(num_elements(out));
    for (int64_t i = 0; i < static_cast<int64_t>(want.size()); ++i) {
      Index idx = unravel(i, out);
      const int k = static_cast<int>(idx[a]);
      idx.erase(idx.begin() + a);
      want[i] = data[k][ravel(idx, s)];
    }
    EXPECT_EQ(test::from_bytes<float>(res[0].data), want) << "axis " << axis;
    for (int i = 0; i < 4; ++i) EXPECT_EQ(test::from_bytes<float>(res[1 + i].data), data[i]) << "axis " << axis;
  }
}

TEST(ShapePack, RejectsMismatchedInputs) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {2, 3});
  const int y = b.input(DType::kFloat32, {3, 2});
  const int z = b.tensor(DType::kFloat32, {2, 2, 3});
  tflite::PackOptionsT o;
  o.values_count = 2;
  b.op(BuiltinOperator::PACK, {x, y}, {z}, o);
  b.output(z);
  EXPECT_THROW(b.run({HostTensor::zeros("", DType::kFloat32, {2, 3}), HostTensor::zeros("", DType::kFloat32, {3, 2})}), Error);
}

// ---- SPLIT / SPLIT_V ----------------------------------------------------------------------

std::vector<std::vector<float>> run_split(bool v, const Shape& s, int axis, const std::vector<int>& sizes, int size_count,
                                          const std::vector<Shape>& out_shapes) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, s);
  std::vector<int> outs;
  for (const Shape& o : out_shapes) outs.push_back(b.tensor(DType::kFloat32, o));
  if (v) {
    tflite::SplitVOptionsT o;
    o.num_splits = size_count;
    b.op(BuiltinOperator::SPLIT_V, {x, b.constant_i32({static_cast<int>(sizes.size())}, sizes), b.constant_i32({}, {axis})}, outs, o);
  } else {
    tflite::SplitOptionsT o;
    o.num_splits = size_count;
    b.op(BuiltinOperator::SPLIT, {b.constant_i32({}, {axis}), x}, outs, o);
  }
  for (int t : outs) b.output(t);
  std::vector<std::vector<float>> r;
  for (const HostTensor& h : b.run({host(s, iota_floats(num_elements(s)))})) r.push_back(test::from_bytes<float>(h.data));
  return r;
}

// Reference: slice [begin, begin + n) of axis `a`.
std::vector<float> naive_axis_slice(const Shape& s, int a, int begin, int n) {
  Shape o = s;
  o[a] = n;
  return naive_gather<float>(iota_floats(num_elements(s)), s, o, [&](Index i) {
    i[a] += begin;
    return i;
  });
}

TEST(ShapeSplit, EqualParts) {
  const Shape s = {2, 6, 3};
  const auto r = run_split(false, s, -2, {}, 3, {{2, 2, 3}, {2, 2, 3}, {2, 2, 3}});
  for (int k = 0; k < 3; ++k) EXPECT_EQ(r[k], naive_axis_slice(s, 1, 2 * k, 2));
  EXPECT_THROW(run_split(false, s, 1, {}, 4, {{2, 1, 3}, {2, 1, 3}, {2, 1, 3}, {2, 1, 3}}), Error);  // 6 % 4
}

TEST(ShapeSplitV, SizesWithMinusOne) {
  const Shape s = {2, 3, 7};
  const auto r = run_split(true, s, 2, {2, -1, 1}, 3, {{2, 3, 2}, {2, 3, 4}, {2, 3, 1}});
  EXPECT_EQ(r[0], naive_axis_slice(s, 2, 0, 2));
  EXPECT_EQ(r[1], naive_axis_slice(s, 2, 2, 4));
  EXPECT_EQ(r[2], naive_axis_slice(s, 2, 6, 1));
  EXPECT_THROW(run_split(true, s, 2, {2, 3, 1}, 3, {{2, 3, 2}, {2, 3, 3}, {2, 3, 1}}), Error);  // sums to 6
  EXPECT_THROW(run_split(true, s, 2, {-1, -1, 1}, 3, {{2, 3, 3}, {2, 3, 3}, {2, 3, 1}}), Error);
}

// ---- SLICE / STRIDED_SLICE ----------------------------------------------------------------

TEST(ShapeSlice, RandomBoxesAndMinusOneSize) {
  std::mt19937 rng(5);
  const Shape s = {3, 4, 5, 6};
  const std::vector<float> x = iota_floats(num_elements(s));
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<int> begin(4), size(4);
    Shape out(4);
    for (int d = 0; d < 4; ++d) {
      begin[d] = std::uniform_int_distribution<int>(0, s[d] - 1)(rng);
      size[d] = std::uniform_int_distribution<int>(0, s[d] - begin[d])(rng);
      if (trial % 3 == 0 && d == 2) size[d] = -1;
      out[d] = size[d] == -1 ? s[d] - begin[d] : size[d];
    }
    auto want = naive_gather<float>(x, s, out, [&](Index i) {
      for (int d = 0; d < 4; ++d) i[d] += begin[d];
      return i;
    });
    const auto got = run1(BuiltinOperator::SLICE, s, x, out, [&](ModelBuilder& b) {
      return std::vector<int>{b.constant_i32({4}, begin), b.constant_i32({4}, size)};
    });
    EXPECT_EQ(got, want) << "trial " << trial;
  }
  EXPECT_THROW(run1(BuiltinOperator::SLICE, {4}, iota_floats(4), {3}, [](ModelBuilder& b) {
                 return std::vector<int>{b.constant_i32({1}, {2}), b.constant_i32({1}, {3})};
               }),
               Error);
}

struct SliceSpec {
  std::vector<int> begin, end, strides;
  int begin_mask = 0, end_mask = 0, ellipsis_mask = 0, new_axis_mask = 0, shrink_mask = 0;
  bool offset = false;
};

std::vector<float> run_strided(const Shape& s, const std::vector<float>& x, const SliceSpec& p, const Shape& out) {
  tflite::StridedSliceOptionsT o;
  o.begin_mask = p.begin_mask;
  o.end_mask = p.end_mask;
  o.ellipsis_mask = p.ellipsis_mask;
  o.new_axis_mask = p.new_axis_mask;
  o.shrink_axis_mask = p.shrink_mask;
  o.offset = p.offset;
  const int n = static_cast<int>(p.begin.size());
  return run1(BuiltinOperator::STRIDED_SLICE, s, x, out, [&](ModelBuilder& b) {
    return std::vector<int>{b.constant_i32({n}, p.begin), b.constant_i32({n}, p.end), b.constant_i32({n}, p.strides)};
  }, o);
}

// Python's slice(begin, end, step).indices(dim), written from the Python docs.
std::vector<int64_t> python_range(int64_t dim, std::optional<int64_t> b, std::optional<int64_t> e, int64_t step) {
  auto norm = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v < 0 ? *v + dim : *v;
    return step > 0 ? std::clamp<int64_t>(x, 0, dim) : std::clamp<int64_t>(x, -1, dim - 1);
  };
  const int64_t start = norm(b, step > 0 ? 0 : dim - 1), stop = norm(e, step > 0 ? dim : -1);
  std::vector<int64_t> r;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) r.push_back(i);
  return r;
}

TEST(ShapeStridedSlice, RandomSpecsMatchPythonSlicing) {
  std::mt19937 rng(9);
  const Shape s = {4, 5, 6};
  const std::vector<float> x = iota_floats(num_elements(s));
  std::uniform_int_distribution<int> idx(-8, 8), st(-3, 3), bit(0, 3);
  for (int trial = 0; trial < 60; ++trial) {
    SliceSpec p;
    std::vector<std::vector<int64_t>> ranges(3);
    Shape out;
    for (int d = 0; d < 3; ++d) {
      int stride = 0;
      while (stride == 0) stride = st(rng);
      p.begin.push_back(idx(rng));
      p.end.push_back(idx(rng));
      p.strides.push_back(stride);
      const bool bm = bit(rng) == 0, em = bit(rng) == 0;
      p.begin_mask |= bm << d;
      p.end_mask |= em << d;
      std::optional<int64_t> b, e;
      if (!bm) b = p.begin.back();
      if (!em) e = p.end.back();
      ranges[d] = python_range(s[d], b, e, stride);
      // Shrink an axis now and then (Python's x[i]): valid indices only.
      if (d == 1 && trial % 4 == 0) {
        p.begin.back() = -2;
        p.shrink_mask |= 1 << d;
        p.begin_mask &= ~(1 << d);
        ranges[d] = {s[d] - 2};
        continue;
      }
      out.push_back(static_cast<int32_t>(ranges[d].size()));
    }
    const std::function<Index(const Index&)> src = [&](const Index& o) {
      Index i(3);
      int k = 0;
      for (int d = 0; d < 3; ++d) i[d] = (p.shrink_mask & (1 << d)) ? ranges[d][0] : ranges[d][o[k++]];
      return i;
    };
    const std::vector<float> want = naive_gather<float>(x, s, out, src);
    EXPECT_EQ(run_strided(s, x, p, out), want) << "trial " << trial;
  }
}

TEST(ShapeStridedSlice, EllipsisNewAxisOffsetAndNegativeStrides) {
  const Shape s = {2, 3, 4};
  const std::vector<float> x = iota_floats(24);
  auto at = [&](int a, int b, int c) { return x[(a * 3 + b) * 4 + c]; };
  {  // x[..., 1:3]
    SliceSpec p{{0, 1}, {0, 3}, {1, 1}};
    p.ellipsis_mask = 1;
    std::vector<float> want;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 3; ++b)
        for (int c = 1; c < 3; ++c) want.push_back(at(a, b, c));
    EXPECT_EQ(run_strided(s, x, p, {2, 3, 2}), want);
  }
  {  // x[:, newaxis, 1] -> [2, 1, 4]
    SliceSpec p{{0, 0, 1}, {0, 0, 2}, {1, 1, 1}};
    p.begin_mask = 1, p.end_mask = 1, p.new_axis_mask = 2, p.shrink_mask = 4;
    std::vector<float> want;
    for (int a = 0; a < 2; ++a)
      for (int c = 0; c < 4; ++c) want.push_back(at(a, 1, c));
    EXPECT_EQ(run_strided(s, x, p, {2, 1, 4}), want);
  }
  {  // x[1, ..., ::-2] -> [3, 2]
    SliceSpec p{{1, 0, 0}, {2, 0, 0}, {1, 1, -2}};
    p.shrink_mask = 1, p.ellipsis_mask = 2, p.begin_mask = 4, p.end_mask = 4;
    std::vector<float> want;
    for (int b = 0; b < 3; ++b)
      for (int c : {3, 1}) want.push_back(at(1, b, c));
    EXPECT_EQ(run_strided(s, x, p, {3, 2}), want);
  }
  {  // offset: end is a size relative to begin: x[0:2, 1:3, 1:4]
    SliceSpec p{{0, 1, 1}, {2, 2, 3}, {1, 1, 1}};
    p.offset = true;
    std::vector<float> want;
    for (int a = 0; a < 2; ++a)
      for (int b = 1; b < 3; ++b)
        for (int c = 1; c < 4; ++c) want.push_back(at(a, b, c));
    EXPECT_EQ(run_strided(s, x, p, {2, 2, 3}), want);
  }
  {  // fewer specs than dims: the rest are full
    SliceSpec p{{1}, {2}, {1}};
    EXPECT_EQ(run_strided(s, x, p, {1, 3, 4}), std::vector<float>(x.begin() + 12, x.end()));
  }
  {  // bad: wrong output shape, zero stride, shrink out of range
    SliceSpec p{{0, 0, 0}, {2, 3, 4}, {1, 1, 1}};
    EXPECT_THROW(run_strided(s, x, p, {2, 3, 3}), Error);
    p.strides = {1, 0, 1};
    EXPECT_THROW(run_strided(s, x, p, {2, 3, 4}), Error);
    SliceSpec q{{5}, {6}, {1}};
    q.shrink_mask = 1;
    EXPECT_THROW(run_strided(s, x, q, {3, 4}), Error);
  }
}

// ---- PAD / PADV2 --------------------------------------------------------------------------

TEST(ShapePad, RandomPaddingsMatchNaive) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 12; ++trial) {
    const Shape s = {1 + trial % 2, 3, 4, 2 + trial % 3};
    std::vector<int> pads(8);
    Shape out(4);
    for (int d = 0; d < 4; ++d) {
      pads[2 * d] = std::uniform_int_distribution<int>(0, 2)(rng);
      pads[2 * d + 1] = std::uniform_int_distribution<int>(0, 2)(rng);
      if (trial % 4 == 0 && d < 3) pads[2 * d] = pads[2 * d + 1] = 0;  // channel-only padding
      out[d] = s[d] + pads[2 * d] + pads[2 * d + 1];
    }
    const std::vector<float> x = test::random_floats(num_elements(s), trial, 1, 2);
    const bool v2 = trial % 2 == 1;
    const float value = v2 ? -7.5f : 0.0f;
    std::vector<float> want(num_elements(out));
    for (int64_t i = 0; i < static_cast<int64_t>(want.size()); ++i) {
      Index idx = unravel(i, out);
      bool inside = true;
      for (int d = 0; d < 4; ++d) {
        idx[d] -= pads[2 * d];
        inside &= idx[d] >= 0 && idx[d] < s[d];
      }
      want[i] = inside ? x[ravel(idx, s)] : value;
    }
    const auto got = run1(v2 ? BuiltinOperator::PADV2 : BuiltinOperator::PAD, s, x, out, [&](ModelBuilder& b) {
      std::vector<int> ins = {b.constant_i32({4, 2}, pads)};
      if (v2) ins.push_back(b.constant_f32({}, {value}));
      return ins;
    });
    EXPECT_EQ(got, want) << "trial " << trial;
  }
}

TEST(ShapePad, QuantizedPadsWithZeroPointAndInt64Paddings) {
  ModelBuilder b;
  const int x = b.input(DType::kInt8, {1, 2}, quant(0.1f, -5));
  const int p = b.constant(DType::kInt64, {2, 2}, test::to_bytes<int64_t>({1, 0, 1, 2}));
  const int y = b.tensor(DType::kInt8, {2, 5}, quant(0.1f, -5));
  b.op(BuiltinOperator::PAD, {x, p}, {y});
  b.output(y);
  const auto got = test::from_bytes<int8_t>(b.run({host<int8_t>({1, 2}, {7, 9}, DType::kInt8)})[0].data);
  EXPECT_EQ(got, (std::vector<int8_t>{-5, -5, -5, -5, -5, -5, 7, 9, -5, -5}));
}

TEST(ShapePad, RejectsBadPaddings) {
  auto pad = [](const Shape& ps, const std::vector<int>& p, const Shape& out) {
    return run1(BuiltinOperator::PAD, {2, 3}, iota_floats(6), out, [&](ModelBuilder& b) { return std::vector<int>{b.constant_i32(ps, p)}; });
  };
  EXPECT_NO_THROW(pad({2, 2}, {0, 1, 1, 0}, {3, 4}));
  EXPECT_THROW(pad({2, 2}, {0, 1, 1, 0}, {3, 5}), Error);   // output shape
  EXPECT_THROW(pad({2, 2}, {0, -1, 1, 0}, {1, 4}), Error);  // negative
  EXPECT_THROW(pad({4}, {0, 1, 1, 0}, {3, 4}), Error);      // paddings shape
}

// ---- TRANSPOSE ----------------------------------------------------------------------------

TEST(ShapeTranspose, RandomPermutationsUpToRank6AndTypes) {
  std::mt19937 rng(11);
  for (int rank = 1; rank <= 6; ++rank)
    for (int trial = 0; trial < 4; ++trial) {
      Shape s(rank);
      for (int& d : s) d = std::uniform_int_distribution<int>(1, rank <= 3 ? 5 : 3)(rng);
      std::vector<int> perm(rank);
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      Shape out(rank);
      for (int d = 0; d < rank; ++d) out[d] = s[perm[d]];
      const DType types[] = {DType::kFloat32, DType::kInt16, DType::kInt8, DType::kInt64};
      const DType t = types[trial];
      const size_t es = dtype_size(t);
      std::vector<uint8_t> bytes(num_elements(s) * es);
      for (auto& v : bytes) v = static_cast<uint8_t>(rng());
      std::vector<uint8_t> want(bytes.size());
      for (int64_t i = 0; i < num_elements(out); ++i) {
        const Index o = unravel(i, out);
        Index src(rank);
        for (int d = 0; d < rank; ++d) src[perm[d]] = o[d];
        std::memcpy(&want[i * es], &bytes[ravel(src, s) * es], es);
      }
      ModelBuilder b;
      const int x = b.input(t, s);
      const int y = b.tensor(t, out);
      b.op(BuiltinOperator::TRANSPOSE, {x, b.constant_i32({rank}, perm)}, {y});
      b.output(y);
      EXPECT_EQ(b.run({HostTensor{"", t, s, bytes}})[0].data, want) << "rank " << rank << " trial " << trial;
    }
}

TEST(ShapeTranspose, RejectsBadPerm) {
  auto tr = [](const std::vector<int>& perm, const Shape& out) {
    return run1(BuiltinOperator::TRANSPOSE, {2, 3}, iota_floats(6), out,
                [&](ModelBuilder& b) { return std::vector<int>{b.constant_i32({static_cast<int>(perm.size())}, perm)}; });
  };
  EXPECT_NO_THROW(tr({1, 0}, {3, 2}));
  EXPECT_THROW(tr({0, 0}, {2, 2}), Error);
  EXPECT_THROW(tr({1, 0}, {2, 3}), Error);
  EXPECT_THROW(tr({0, 1, 2}, {2, 3}), Error);
}

// ---- GATHER -------------------------------------------------------------------------------

TEST(ShapeGather, AxesBatchDimsAndIndexTypes) {
  struct Case { Shape params, indices; int axis, batch_dims; DType index_type; };
  const Case cases[] = {
      {{5, 3}, {4}, 0, 0, DType::kInt32},        {{2, 5, 3}, {2, 2}, 1, 0, DType::kInt64},
      {{2, 5, 3}, {2, 4}, 1, 1, DType::kInt32},  {{2, 3, 5}, {2, 3, 2}, -1, 2, DType::kInt32},
      {{4, 6}, {}, 1, 0, DType::kInt32},
  };
  std::mt19937 rng(2);
  for (const Case& c : cases) {
    const int prank = static_cast<int>(c.params.size());
    const int axis = c.axis < 0 ? c.axis + prank : c.axis;
    const std::vector<float> p = iota_floats(num_elements(c.params));
    std::vector<int64_t> idx(num_elements(c.indices));
    for (auto& v : idx) v = std::uniform_int_distribution<int>(0, c.params[axis] - 1)(rng);
    Shape out(c.params.begin(), c.params.begin() + axis);
    out.insert(out.end(), c.indices.begin() + c.batch_dims, c.indices.end());
    out.insert(out.end(), c.params.begin() + axis + 1, c.params.end());
    // out[o..., i..., r...] = params[o..., indices[b..., i...], r...] (b = the first batch_dims of o).
    const int irank = static_cast<int>(c.indices.size());
    const auto want = naive_gather<float>(p, c.params, out, [&](const Index& o) {
      Index ii(o.begin(), o.begin() + c.batch_dims);
      ii.insert(ii.end(), o.begin() + axis, o.begin() + axis + (irank - c.batch_dims));
      Index src(o.begin(), o.begin() + axis);
      src.push_back(idx[ravel(ii, c.indices)]);
      src.insert(src.end(), o.begin() + axis + (irank - c.batch_dims), o.end());
      return src;
    });
    ModelBuilder b;
    const int x = b.input(DType::kFloat32, c.params);
    const int i = c.index_type == DType::kInt64
                      ? b.input(DType::kInt64, c.indices)
                      : b.input(DType::kInt32, c.indices);
    const int y = b.tensor(DType::kFloat32, out);
    tflite::GatherOptionsT o;
    o.axis = c.axis;
    o.batch_dims = c.batch_dims;
    b.op(BuiltinOperator::GATHER, {x, i}, {y}, o);
    b.output(y);
    HostTensor hi = c.index_type == DType::kInt64 ? host<int64_t>(c.indices, idx, DType::kInt64)
                                                  : host<int32_t>(c.indices, std::vector<int32_t>(idx.begin(), idx.end()), DType::kInt32);
    EXPECT_EQ(test::from_bytes<float>(b.run({host(c.params, p), hi})[0].data), want) << shape_str(c.params) << " axis " << c.axis;
  }
}

TEST(ShapeGather, OutOfRangeIndexFailsAtRunTimeAndBoolParams) {
  ModelBuilder b;
  const int x = b.input(DType::kBool, {4});
  const int i = b.input(DType::kInt32, {3});
  const int y = b.tensor(DType::kBool, {3});
  b.op(BuiltinOperator::GATHER, {x, i}, {y}, tflite::GatherOptionsT{});
  b.output(y);
  const HostTensor params = host<uint8_t>({4}, {1, 0, 0, 1}, DType::kBool);
  EXPECT_EQ(b.run({params, host<int32_t>({3}, {3, 1, 0}, DType::kInt32)})[0].data, (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_THROW(b.run({params, host<int32_t>({3}, {3, 4, 0}, DType::kInt32)}), Error);
  EXPECT_THROW(b.run({params, host<int32_t>({3}, {-1, 0, 0}, DType::kInt32)}), Error);
}

// ---- DEPTH_TO_SPACE / SPACE_TO_DEPTH ------------------------------------------------------

TEST(ShapeDepthToSpace, DcrOrderAndInverse) {
  for (int bs : {2, 3}) {
    const Shape s = {2, 3, 2, bs * bs * 2};
    const Shape o = {2, 3 * bs, 2 * bs, 2};
    const std::vector<float> x = iota_floats(num_elements(s));
    // out[n, y, x, c] = in[n, y / bs, x / bs, ((y % bs) * bs + x % bs) * depth + c]
    const auto want = naive_gather<float>(x, s, o, [&](const Index& i) {
      return Index{i[0], i[1] / bs, i[2] / bs, ((i[1] % bs) * bs + i[2] % bs) * 2 + i[3]};
    });
    tflite::DepthToSpaceOptionsT d;
    d.block_size = bs;
    EXPECT_EQ(run1(BuiltinOperator::DEPTH_TO_SPACE, s, x, o, {}, d), want);
    tflite::SpaceToDepthOptionsT sd;
    sd.block_size = bs;
    EXPECT_EQ(run1(BuiltinOperator::SPACE_TO_DEPTH, o, want, s, {}, sd), x);
  }
  tflite::DepthToSpaceOptionsT d;
  d.block_size = 2;
  EXPECT_THROW(run1(BuiltinOperator::DEPTH_TO_SPACE, {1, 2, 2, 6}, iota_floats(24), {1, 4, 4, 1}, {}, d), Error);  // 6 % 4
  tflite::SpaceToDepthOptionsT sd;
  sd.block_size = 2;
  EXPECT_THROW(run1(BuiltinOperator::SPACE_TO_DEPTH, {1, 3, 2, 1}, iota_floats(6), {1, 1, 1, 4}, {}, sd), Error);
}

// Data-movement results must not depend on the thread count.
TEST(ShapePad, SameResultWithThreads) {
  const Shape s = {1, 40, 40, 8};
  const std::vector<float> x = test::random_floats(num_elements(s), 1);
  auto pads = [](ModelBuilder& b) { return std::vector<int>{b.constant_i32({4, 2}, {0, 0, 1, 2, 2, 1, 0, 0})}; };
  EXPECT_EQ(run1(BuiltinOperator::PAD, s, x, {1, 43, 43, 8}, pads, nullptr, 1),
            run1(BuiltinOperator::PAD, s, x, {1, 43, 43, 8}, pads, nullptr, 2));
}

}  // namespace
}  // namespace qcal
