// Reduction kernels against naive double-precision references written here.
#include <cmath>
#include <functional>
#include <limits>
#include <set>

#include "op_test_util.h"

namespace qcal {
namespace {

using test::host;
using test::ModelBuilder;
using tflite::BuiltinOperator;

void expect_rel(const std::vector<float>& got, const std::vector<double>& want, double rtol, double atol = 1e-30) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_LE(std::abs(got[i] - want[i]), rtol * std::abs(want[i]) + atol)
        << "at element " << i << ": got " << got[i] << ", want " << want[i];
}

std::vector<int64_t> unravel(int64_t flat, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t k = s.size(); k-- > 0;) {
    idx[k] = flat % s[k];
    flat /= s[k];
  }
  return idx;
}

// ---- MEAN / SUM / REDUCE_PROD / REDUCE_MAX / REDUCE_MIN --------------------------------------

// Naive reduction: each input element goes to the output element that matches it on the
// kept dimensions. Returns the output values in row-major order of the kept dimensions.
std::vector<double> naive_reduce(const Shape& s, const std::vector<double>& x, const std::vector<int>& axes,
                                 BuiltinOperator op) {
  const int rank = static_cast<int>(s.size());
  std::set<int> red;
  for (int a : axes) red.insert(a < 0 ? a + rank : a);
  Shape kept;
  for (int i = 0; i < rank; ++i)
    if (!red.count(i)) kept.push_back(s[i]);
  const int64_t n_out = num_elements(kept);
  std::vector<std::vector<double>> groups(n_out);
  for (int64_t f = 0; f < static_cast<int64_t>(x.size()); ++f) {
    const auto idx = unravel(f, s);
    int64_t o = 0;
    for (int i = 0; i < rank; ++i)
      if (!red.count(i)) o = o * s[i] + idx[i];
    groups[o].push_back(x[f]);
  }
  std::vector<double> out(n_out);
  for (int64_t o = 0; o < n_out; ++o) {
    const auto& g = groups[o];
    double v = op == BuiltinOperator::REDUCE_PROD ? 1 : 0;
    if (op == BuiltinOperator::REDUCE_MAX) v = -std::numeric_limits<double>::infinity();
    if (op == BuiltinOperator::REDUCE_MIN) v = std::numeric_limits<double>::infinity();
    for (double e : g) {
      switch (op) {
        case BuiltinOperator::REDUCE_PROD: v *= e; break;
        case BuiltinOperator::REDUCE_MAX: v = std::max(v, e); break;
        case BuiltinOperator::REDUCE_MIN: v = std::min(v, e); break;
        default: v += e; break;
      }
    }
    if (op == BuiltinOperator::MEAN) v /= static_cast<double>(g.size());
    out[o] = v;
  }
  return out;
}

Shape reduced_shape(const Shape& s, const std::vector<int>& axes, bool keep_dims) {
  const int rank = static_cast<int>(s.size());
  std::set<int> red;
  for (int a : axes) red.insert(a < 0 ? a + rank : a);
  Shape out;
  for (int i = 0; i < rank; ++i) {
    if (!red.count(i)) out.push_back(s[i]);
    else if (keep_dims) out.push_back(1);
  }
  return out;
}

template <typename T>
std::vector<T> run_reduce(BuiltinOperator op, DType dt, const Shape& s, const std::vector<T>& x, const std::vector<int>& axes,
                          bool keep_dims, const Shape* out_shape = nullptr) {
  ModelBuilder mb;
  const int in = mb.input(dt, s);
  const int ax = mb.constant_i32({static_cast<int32_t>(axes.size())}, axes);
  const int out = mb.tensor(dt, out_shape ? *out_shape : reduced_shape(s, axes, keep_dims));
  tflite::ReducerOptionsT o;
  o.keep_dims = keep_dims;
  mb.op(op, {in, ax}, {out}, o);
  mb.output(out);
  auto r = mb.run({host(s, x, dt)});
  EXPECT_EQ(r[0].shape, out_shape ? *out_shape : reduced_shape(s, axes, keep_dims));
  return test::from_bytes<T>(r[0].data);
}

TEST(ReduceAxes, FloatReductionsOverAxisCombinations) {
  const Shape s = {2, 5, 6, 3};
  const std::vector<std::vector<int>> axis_sets = {{1, 2}, {-1}, {0, 3}, {0, 1, 2, 3}, {1, -3}, {}, {2}, {0}, {-4, -2}};
  const BuiltinOperator ops[] = {BuiltinOperator::MEAN, BuiltinOperator::SUM, BuiltinOperator::REDUCE_PROD,
                                 BuiltinOperator::REDUCE_MAX, BuiltinOperator::REDUCE_MIN};
  uint32_t seed = 1;
  for (BuiltinOperator op : ops) {
    for (const auto& axes : axis_sets) {
      for (bool keep : {false, true}) {
        std::string ax;
        for (int a : axes) ax += std::to_string(a) + ",";
        SCOPED_TRACE(std::string(tflite::EnumNameBuiltinOperator(op)) + " axes {" + ax + "} keep_dims=" + std::to_string(keep));
        // Products stay near 1 so 180 factors neither overflow nor vanish.
        const bool prod = op == BuiltinOperator::REDUCE_PROD;
        const auto x = test::random_floats(num_elements(s), seed++, prod ? 0.8f : -2.0f, prod ? 1.25f : 2.0f);
        const auto got = run_reduce(op, DType::kFloat32, s, x, axes, keep);
        const auto want = naive_reduce(s, std::vector<double>(x.begin(), x.end()), axes, op);
        // Float accumulation of up to 180 terms; sums near zero are compared absolutely.
        const bool sum = op == BuiltinOperator::SUM || op == BuiltinOperator::MEAN;
        expect_rel(got, want, prod ? 2e-5 : sum ? 2e-6 : 0, sum ? 2e-6 : 1e-30);
      }
    }
  }
}

TEST(ReduceAxes, MeanOverSpatialAxesLikeSqueezeExcite) {
  // The documented order (LiteRT's): a float sum over rows in input order, times 1/count.
  for (const Shape& s : {Shape{1, 9, 16, 32}, Shape{1, 72, 128, 16}, Shape{1, 7, 7, 672}}) {
    const auto x = test::random_floats(num_elements(s), 5, -1.0f, 3.0f);
    const int64_t c = s[3], rows = num_elements(s) / c;
    std::vector<float> want(c);
    for (int64_t ch = 0; ch < c; ++ch) {
      volatile float acc = 0.0f;  // volatile: no reassociation or contraction in the reference
      for (int64_t r = 0; r < rows; ++r) acc = acc + x[r * c + ch];
      want[ch] = acc * (1.0f / static_cast<float>(rows));
    }
    const auto got = run_reduce(BuiltinOperator::MEAN, DType::kFloat32, s, x, {1, 2}, true);
    EXPECT_EQ(got, want);
    const auto flat = run_reduce(BuiltinOperator::MEAN, DType::kFloat32, s, x, {1, 2}, false);
    EXPECT_EQ(got, flat);
    expect_rel(got, naive_reduce(s, std::vector<double>(x.begin(), x.end()), {1, 2}, BuiltinOperator::MEAN), 1e-5, 1e-6);
  }
}

TEST(ReduceAxes, IntegerReductions) {
  const Shape s = {3, 4, 5};
  std::vector<int32_t> x(60);
  for (int i = 0; i < 60; ++i) x[i] = (i * 7919) % 201 - 100;
  std::vector<double> xd(x.begin(), x.end());
  for (BuiltinOperator op : {BuiltinOperator::SUM, BuiltinOperator::REDUCE_MAX, BuiltinOperator::REDUCE_MIN}) {
    for (const std::vector<int>& axes : {std::vector<int>{1}, std::vector<int>{0, 2}, std::vector<int>{-1}}) {
      const auto got = run_reduce(op, DType::kInt32, s, x, axes, false);
      const auto want = naive_reduce(s, xd, axes, op);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], static_cast<int32_t>(want[i]));
    }
  }
  // Shape arithmetic: the product of a shape vector.
  const auto prod = run_reduce(BuiltinOperator::REDUCE_PROD, DType::kInt32, {4}, std::vector<int32_t>{1, 56, 56, 24}, {0}, false);
  EXPECT_EQ(prod, std::vector<int32_t>{56 * 56 * 24});
  const auto prod64 = run_reduce(BuiltinOperator::REDUCE_PROD, DType::kInt64, {2}, std::vector<int64_t>{1ll << 20, 1ll << 20}, {0}, true);
  EXPECT_EQ(prod64, std::vector<int64_t>{1ll << 40});
}

TEST(ReduceAxes, AcceptsSizeOneOutputVariants) {
  const Shape s = {2, 3};
  const auto x = test::random_floats(6, 3);
  const Shape scalar = {};
  const auto a = run_reduce(BuiltinOperator::SUM, DType::kFloat32, s, x, {0, 1}, false, &scalar);
  const Shape one = {1};  // converters sometimes write [1] for a scalar
  const auto b = run_reduce(BuiltinOperator::SUM, DType::kFloat32, s, x, {0, 1}, false, &one);
  EXPECT_EQ(a, b);
}

TEST(ReduceAxes, RejectsBadInputs) {
  auto build = [](const Shape& out_shape, const std::vector<int>& axes, bool constant_axis, DType dt = DType::kFloat32) {
    ModelBuilder mb;
    const int in = mb.input(dt, {2, 3, 4});
    const int ax = constant_axis ? mb.constant_i32({static_cast<int32_t>(axes.size())}, axes)
                                 : mb.input(DType::kInt32, {static_cast<int32_t>(axes.size())});
    const int out = mb.tensor(dt, out_shape);
    mb.op(BuiltinOperator::MEAN, {in, ax}, {out}, tflite::ReducerOptionsT{});
    mb.output(out);
    return std::make_shared<Model>(mb.model());
  };
  EXPECT_NO_THROW(Executor{build({2, 4}, {1}, true)});
  EXPECT_THROW(Executor{build({2, 4}, {1}, false)}, Error);    // non-constant axis
  EXPECT_THROW(Executor{build({2, 4}, {3}, true)}, Error);     // axis out of range
  EXPECT_THROW(Executor{build({2, 4}, {-4}, true)}, Error);
  EXPECT_THROW(Executor{build({2, 3}, {1}, true)}, Error);     // wrong output shape
  EXPECT_THROW(Executor{build({2, 1, 4}, {2}, true)}, Error);
  EXPECT_THROW(Executor{build({2, 4}, {1}, true, DType::kInt32)}, Error);  // MEAN of int32
}

// ---- SOFTMAX / LOG_SOFTMAX / L2_NORMALIZATION --------------------------------------------------

template <typename OptionsT = std::nullptr_t>
std::vector<float> run_same_shape(BuiltinOperator op, const Shape& s, const std::vector<float>& x, OptionsT opts = nullptr) {
  ModelBuilder mb;
  const int in = mb.input(DType::kFloat32, s);
  const int out = mb.tensor(DType::kFloat32, s);
  mb.op(op, {in}, {out}, std::move(opts));
  mb.output(out);
  return test::from_bytes<float>(mb.run({host(s, x)})[0].data);
}

// Applies f to each row of the last axis.
std::vector<double> per_row(const Shape& s, const std::vector<float>& x,
                            const std::function<std::vector<double>(const std::vector<double>&)>& f) {
  const int64_t d = s.back();
  std::vector<double> out;
  for (int64_t r = 0; r < static_cast<int64_t>(x.size()) / d; ++r) {
    const auto y = f(std::vector<double>(x.begin() + r * d, x.begin() + (r + 1) * d));
    out.insert(out.end(), y.begin(), y.end());
  }
  return out;
}

TEST(ReduceSoftmax, MatchesReferenceForBetas) {
  const Shape s = {3, 4, 37};
  auto x = test::random_floats(num_elements(s), 21, -8.0f, 8.0f);
  for (int i = 0; i < 37; ++i) x[i] += 100.0f;  // needs the max subtraction
  for (float beta : {1.0f, 0.5f, 2.0f}) {
    tflite::SoftmaxOptionsT o;
    o.beta = beta;
    const auto want = per_row(s, x, [&](const std::vector<double>& v) {
      const double m = *std::max_element(v.begin(), v.end());
      double sum = 0;
      std::vector<double> e(v.size());
      // The exponent rounded as TFLite computes it in float; the rest exact.
      for (size_t i = 0; i < v.size(); ++i) sum += e[i] = std::exp(static_cast<float>(static_cast<float>(v[i] - m) * beta));
      for (double& t : e) t /= sum;
      return e;
    });
    expect_rel(run_same_shape(BuiltinOperator::SOFTMAX, s, x, o), want, 1e-6);
  }
}

TEST(ReduceSoftmax, LogSoftmax) {
  const Shape s = {5, 11};
  auto x = test::random_floats(num_elements(s), 22, -10.0f, 10.0f);
  x[3] = 90.0f;
  const auto want = per_row(s, x, [](const std::vector<double>& v) {
    const double m = *std::max_element(v.begin(), v.end());
    double sum = 0;
    for (double t : v) sum += std::exp(t - m);
    std::vector<double> r;
    for (double t : v) r.push_back(t - m - std::log(sum));
    return r;
  });
  expect_rel(run_same_shape(BuiltinOperator::LOG_SOFTMAX, s, x), want, 1e-6, 1e-6);
}

TEST(ReduceSoftmax, L2NormalizationWithEpsilon) {
  const Shape s = {4, 3, 8};
  auto x = test::random_floats(num_elements(s), 23, -2.0f, 2.0f);
  for (int i = 0; i < 8; ++i) x[i] = 0.0f;       // zero row stays zero
  for (int i = 8; i < 16; ++i) x[i] = 1e-8f;     // norm below epsilon: divide by 1e-6
  const auto want = per_row(s, x, [](const std::vector<double>& v) {
    double sum = 0;
    for (double t : v) sum += t * t;
    const double norm = std::max(std::sqrt(sum), double(1e-6f));
    std::vector<double> r;
    for (double t : v) r.push_back(t / norm);
    return r;
  });
  const auto got = run_same_shape(BuiltinOperator::L2_NORMALIZATION, s, x, tflite::L2NormOptionsT{});
  expect_rel(got, want, 3e-7);
  EXPECT_NEAR(got[8], 0.01f, 1e-8f);
}

TEST(ReduceSoftmax, RejectsBadInputs) {
  auto expect_error = [](BuiltinOperator op, DType dt, const Shape& in_s, const Shape& out_s) {
    ModelBuilder mb;
    const int in = mb.input(dt, in_s);
    const int out = mb.tensor(dt, out_s);
    mb.op(op, {in}, {out});
    mb.output(out);
    EXPECT_THROW(Executor(std::make_shared<Model>(mb.model())), Error) << tflite::EnumNameBuiltinOperator(op);
  };
  for (BuiltinOperator op : {BuiltinOperator::SOFTMAX, BuiltinOperator::LOG_SOFTMAX, BuiltinOperator::L2_NORMALIZATION}) {
    expect_error(op, DType::kFloat32, {2, 5}, {5, 2});
    expect_error(op, DType::kFloat32, {}, {});
    expect_error(op, DType::kInt32, {2, 5}, {2, 5});
  }
}

// ---- ARG_MAX / ARG_MIN --------------------------------------------------------------------------

template <typename T>
std::vector<int64_t> run_arg(BuiltinOperator op, DType dt, const Shape& s, const std::vector<T>& x, int axis, DType out_t) {
  ModelBuilder mb;
  const int in = mb.input(dt, s);
  const int ax = mb.constant_i32({1}, {axis});
  Shape os;
  const int rank = static_cast<int>(s.size());
  for (int i = 0; i < rank; ++i)
    if (i != (axis < 0 ? axis + rank : axis)) os.push_back(s[i]);
  const int out = mb.tensor(out_t, os);
  if (op == BuiltinOperator::ARG_MAX) {
    tflite::ArgMaxOptionsT o;
    o.output_type = static_cast<tflite::TensorType>(out_t);
    mb.op(op, {in, ax}, {out}, o);
  } else {
    tflite::ArgMinOptionsT o;
    o.output_type = static_cast<tflite::TensorType>(out_t);
    mb.op(op, {in, ax}, {out}, o);
  }
  mb.output(out);
  const auto r = mb.run({host(s, x, dt)});
  if (out_t == DType::kInt64) return test::from_bytes<int64_t>(r[0].data);
  const auto v = test::from_bytes<int32_t>(r[0].data);
  return std::vector<int64_t>(v.begin(), v.end());
}

template <typename T>
std::vector<int64_t> naive_arg(bool is_max, const Shape& s, const std::vector<T>& x, int axis) {
  const int rank = static_cast<int>(s.size());
  if (axis < 0) axis += rank;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (int i = axis + 1; i < rank; ++i) inner *= s[i];
  std::vector<int64_t> r;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      int64_t best = 0;
      for (int64_t k = 1; k < s[axis]; ++k) {
        const T v = x[(o * s[axis] + k) * inner + i], b = x[(o * s[axis] + best) * inner + i];
        if (is_max ? v > b : v < b) best = k;
      }
      r.push_back(best);
    }
  return r;
}

TEST(ReduceArg, ArgMaxArgMinOverAxesAndOutputTypes) {
  const Shape s = {2, 5, 3, 4};
  auto x = test::random_floats(num_elements(s), 31);
  x[0 * 12 + 1] = x[2 * 12 + 1] = 5.0f;  // a tie along axis 1: the first index wins
  for (BuiltinOperator op : {BuiltinOperator::ARG_MAX, BuiltinOperator::ARG_MIN}) {
    for (int axis : {0, 1, 2, 3, -1, -3}) {
      for (DType out_t : {DType::kInt32, DType::kInt64}) {
        SCOPED_TRACE(std::string(tflite::EnumNameBuiltinOperator(op)) + " axis " + std::to_string(axis));
        EXPECT_EQ(run_arg(op, DType::kFloat32, s, x, axis, out_t), naive_arg(op == BuiltinOperator::ARG_MAX, s, x, axis));
      }
    }
  }
  std::vector<int8_t> q = {3, -7, 12, 12, 0, -128};
  EXPECT_EQ(run_arg(BuiltinOperator::ARG_MAX, DType::kInt8, {1, 6}, q, 1, DType::kInt32), std::vector<int64_t>{2});
  EXPECT_EQ(run_arg(BuiltinOperator::ARG_MIN, DType::kInt8, {2, 3}, q, -1, DType::kInt32), (std::vector<int64_t>{1, 2}));
}

TEST(ReduceArg, RejectsBadInputs) {
  auto build = [](bool constant_axis, int axis, DType out_t, const Shape& out_s) {
    ModelBuilder mb;
    const int in = mb.input(DType::kFloat32, {2, 3});
    const int ax = constant_axis ? mb.constant_i32({1}, {axis}) : mb.input(DType::kInt32, {1});
    const int out = mb.tensor(out_t, out_s);
    mb.op(BuiltinOperator::ARG_MAX, {in, ax}, {out});
    mb.output(out);
    return std::make_shared<Model>(mb.model());
  };
  EXPECT_NO_THROW(Executor{build(true, 1, DType::kInt32, {2})});
  EXPECT_THROW(Executor{build(false, 1, DType::kInt32, {2})}, Error);
  EXPECT_THROW(Executor{build(true, 2, DType::kInt32, {2})}, Error);
  EXPECT_THROW(Executor{build(true, 1, DType::kFloat32, {2})}, Error);
  EXPECT_THROW(Executor{build(true, 1, DType::kInt32, {3})}, Error);
}

}  // namespace
}  // namespace qcal
