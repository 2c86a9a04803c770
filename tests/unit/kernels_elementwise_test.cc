// Element-wise kernels against naive double-precision references written here.
#include <cmath>
#include <functional>
#include <limits>

#include "op_test_util.h"

namespace qcal {
namespace {

using test::host;
using test::ModelBuilder;
using tflite::ActivationFunctionType;
using tflite::BuiltinOperator;

// |got - want| <= rtol * |want| (+ a tiny absolute floor for exact zeros).
void expect_rel(const std::vector<float>& got, const std::vector<double>& want, double rtol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << "at element " << i;
      continue;
    }
    ASSERT_LE(std::abs(got[i] - want[i]), rtol * std::abs(want[i]) + 1e-30) << "at element " << i << ": got " << got[i]
                                                                            << ", want " << want[i];
  }
}

// numpy broadcasting, computed independently of the kernel: output shape, and for each
// output element the flat index into an input.
Shape naive_broadcast_shape(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int32_t da = i + a.size() >= r ? a[i + a.size() - r] : 1;
    const int32_t db = i + b.size() >= r ? b[i + b.size() - r] : 1;
    out[i] = std::max(da, db);
  }
  return out;
}
int64_t source_index(const Shape& in, const Shape& out, int64_t flat) {
  std::vector<int64_t> idx(out.size());
  for (size_t k = out.size(); k-- > 0;) {
    idx[k] = flat % out[k];
    flat /= out[k];
  }
  int64_t src = 0;
  const size_t off = out.size() - in.size();
  for (size_t k = 0; k < in.size(); ++k) src = src * in[k] + (in[k] == 1 ? 0 : idx[k + off]);
  return src;
}

double activate(double v, ActivationFunctionType act) {
  switch (act) {
    case ActivationFunctionType::RELU: return std::max(v, 0.0);
    case ActivationFunctionType::RELU6: return std::min(std::max(v, 0.0), 6.0);
    case ActivationFunctionType::RELU_N1_TO_1: return std::min(std::max(v, -1.0), 1.0);
    default: return v;
  }
}

template <typename OptionsT>
std::vector<float> run_binary(BuiltinOperator op, const Shape& sa, const std::vector<float>& a, const Shape& sb,
                              const std::vector<float>& b, OptionsT opts, int threads = 1, bool b_constant = false) {
  ModelBuilder mb;
  const int ia = mb.input(DType::kFloat32, sa);
  const int ib = b_constant ? mb.constant_f32(sb, b) : mb.input(DType::kFloat32, sb);
  const int out = mb.tensor(DType::kFloat32, naive_broadcast_shape(sa, sb));
  mb.op(op, {ia, ib}, {out}, std::move(opts));
  mb.output(out);
  std::vector<HostTensor> inputs = {host(sa, a)};
  if (!b_constant) inputs.push_back(host(sb, b));
  return test::from_bytes<float>(mb.run(inputs, threads)[0].data);
}

std::vector<double> naive_binary(const Shape& sa, const std::vector<float>& a, const Shape& sb, const std::vector<float>& b,
                                 const std::function<double(double, double)>& f) {
  const Shape so = naive_broadcast_shape(sa, sb);
  std::vector<double> want(num_elements(so));
  for (int64_t i = 0; i < static_cast<int64_t>(want.size()); ++i)
    want[i] = f(a[source_index(sa, so, i)], b[source_index(sb, so, i)]);
  return want;
}

// The broadcasting patterns that matter: same shape, per-channel, scalar, both sides
// broadcasting, input 0 broadcasting, and rank 6.
const std::vector<std::pair<Shape, Shape>> kShapePairs = {
    {{2, 3, 4, 5}, {2, 3, 4, 5}}, {{1, 4, 5, 7}, {7}},          {{1, 4, 5, 7}, {1, 1, 1, 7}},
    {{1, 4, 5, 7}, {}},           {{1, 4, 5, 7}, {1}},          {{3, 1, 5, 1}, {1, 4, 1, 6}},
    {{7}, {1, 4, 5, 7}},          {{2, 1, 3, 1, 2, 3}, {1, 2, 1, 4, 1, 3}}, {{4, 1}, {1, 5}},
    {{1, 1, 1, 1}, {2, 3}},       {{2, 30, 6}, {2, 1, 6}},      {{5, 1, 3}, {5, 700, 3}},
    {{3, 4, 1, 6}, {3, 1, 5, 6}},
};

TEST(ElementwiseBinary, ArithmeticWithActivationsAndBroadcasting) {
  struct Case {
    BuiltinOperator op;
    std::function<double(double, double)> f;
  };
  const std::vector<Case> cases = {
      {BuiltinOperator::ADD, [](double x, double y) { return x + y; }},
      {BuiltinOperator::SUB, [](double x, double y) { return x - y; }},
      {BuiltinOperator::MUL, [](double x, double y) { return x * y; }},
      {BuiltinOperator::DIV, [](double x, double y) { return x / y; }},
  };
  const ActivationFunctionType acts[] = {ActivationFunctionType::NONE, ActivationFunctionType::RELU,
                                         ActivationFunctionType::RELU6, ActivationFunctionType::RELU_N1_TO_1};
  uint32_t seed = 1;
  for (const Case& c : cases) {
    for (ActivationFunctionType act : acts) {
      for (const auto& [sa, sb] : kShapePairs) {
        SCOPED_TRACE(std::string(tflite::EnumNameBuiltinOperator(c.op)) + " " + tflite::EnumNameActivationFunctionType(act) +
                     " " + shape_str(sa) + " op " + shape_str(sb));
        const auto a = test::random_floats(num_elements(sa), seed++, -4.0f, 4.0f);
        auto b = test::random_floats(num_elements(sb), seed++, 0.5f, 4.0f);  // away from 0 for DIV
        for (size_t i = 0; i < b.size(); i += 2) b[i] = -b[i];
        std::vector<float> got;
        switch (c.op) {
          case BuiltinOperator::ADD: { tflite::AddOptionsT o; o.fused_activation_function = act; got = run_binary(c.op, sa, a, sb, b, o); break; }
          case BuiltinOperator::SUB: { tflite::SubOptionsT o; o.fused_activation_function = act; got = run_binary(c.op, sa, a, sb, b, o); break; }
          case BuiltinOperator::MUL: { tflite::MulOptionsT o; o.fused_activation_function = act; got = run_binary(c.op, sa, a, sb, b, o); break; }
          default: { tflite::DivOptionsT o; o.fused_activation_function = act; got = run_binary(c.op, sa, a, sb, b, o); break; }
        }
        // One float rounding of the exact result: within half an ulp.
        expect_rel(got, naive_binary(sa, a, sb, b, [&](double x, double y) { return activate(c.f(x, y), act); }), 6e-8);
      }
    }
  }
}

TEST(ElementwiseBinary, MaxMinSquaredDifferencePrelu) {
  struct Case {
    BuiltinOperator op;
    std::function<double(double, double)> f;
  };
  const std::vector<Case> cases = {
      {BuiltinOperator::MAXIMUM, [](double x, double y) { return std::max(x, y); }},
      {BuiltinOperator::MINIMUM, [](double x, double y) { return std::min(x, y); }},
      {BuiltinOperator::SQUARED_DIFFERENCE, [](double x, double y) { return (x - y) * (x - y); }},
      {BuiltinOperator::PRELU, [](double x, double alpha) { return x >= 0 ? x : x * alpha; }},
  };
  uint32_t seed = 100;
  for (const Case& c : cases) {
    for (const auto& [sa, sb] : kShapePairs) {
      SCOPED_TRACE(std::string(tflite::EnumNameBuiltinOperator(c.op)) + " " + shape_str(sa) + " op " + shape_str(sb));
      const auto a = test::random_floats(num_elements(sa), seed++, -3.0f, 3.0f);
      const auto b = test::random_floats(num_elements(sb), seed++, -1.0f, 1.0f);
      const auto got = run_binary(c.op, sa, a, sb, b, nullptr);
      // SQUARED_DIFFERENCE rounds twice (difference, then square).
      expect_rel(got, naive_binary(sa, a, sb, b, c.f), c.op == BuiltinOperator::SQUARED_DIFFERENCE ? 2.5e-7 : 6e-8);
    }
  }
}

TEST(ElementwiseBinary, PreluWithConstantPerChannelAlpha) {
  const Shape sx = {1, 6, 5, 8}, sa = {1, 1, 8};
  const auto x = test::random_floats(num_elements(sx), 7, -2.0f, 2.0f);
  const auto alpha = test::random_floats(num_elements(sa), 8, 0.0f, 0.5f);
  const auto got = run_binary(BuiltinOperator::PRELU, sx, x, sa, alpha, nullptr, 1, /*b_constant=*/true);
  expect_rel(got, naive_binary(sx, x, sa, alpha, [](double v, double a) { return v >= 0 ? v : v * a; }), 6e-8);
}

TEST(ElementwiseBinary, Int32ArithmeticWrapsAndClamps) {
  const Shape sa = {2, 3, 4}, sb = {3, 1};
  std::vector<int32_t> a(24), b = {3, -7, std::numeric_limits<int32_t>::max()};
  for (int i = 0; i < 24; ++i) a[i] = i * 37 - 400;
  struct Case {
    BuiltinOperator op;
    std::function<int64_t(int64_t, int64_t)> f;
  };
  const std::vector<Case> cases = {{BuiltinOperator::ADD, [](int64_t x, int64_t y) { return x + y; }},
                                   {BuiltinOperator::SUB, [](int64_t x, int64_t y) { return x - y; }},
                                   {BuiltinOperator::MUL, [](int64_t x, int64_t y) { return x * y; }},
                                   {BuiltinOperator::MAXIMUM, [](int64_t x, int64_t y) { return std::max(x, y); }},
                                   {BuiltinOperator::MINIMUM, [](int64_t x, int64_t y) { return std::min(x, y); }}};
  for (const Case& c : cases) {
    for (bool relu6 : {false, true}) {
      SCOPED_TRACE(std::string(tflite::EnumNameBuiltinOperator(c.op)) + (relu6 ? " RELU6" : ""));
      ModelBuilder mb;
      const int ia = mb.input(DType::kInt32, sa);
      const int ib = mb.input(DType::kInt32, sb);
      const int out = mb.tensor(DType::kInt32, {2, 3, 4});
      const auto act = relu6 ? ActivationFunctionType::RELU6 : ActivationFunctionType::NONE;
      if (c.op == BuiltinOperator::ADD) { tflite::AddOptionsT o; o.fused_activation_function = act; mb.op(c.op, {ia, ib}, {out}, o); }
      else if (c.op == BuiltinOperator::SUB) { tflite::SubOptionsT o; o.fused_activation_function = act; mb.op(c.op, {ia, ib}, {out}, o); }
      else if (c.op == BuiltinOperator::MUL) { tflite::MulOptionsT o; o.fused_activation_function = act; mb.op(c.op, {ia, ib}, {out}, o); }
      else if (relu6) continue;
      else mb.op(c.op, {ia, ib}, {out});
      mb.output(out);
      const auto got = test::from_bytes<int32_t>(mb.run({host(sa, a, DType::kInt32), host(sb, b, DType::kInt32)})[0].data);
      for (int64_t i = 0; i < 24; ++i) {
        int64_t v = static_cast<int32_t>(static_cast<uint32_t>(c.f(a[source_index(sa, {2, 3, 4}, i)], b[source_index(sb, {2, 3, 4}, i)])));
        if (relu6) v = std::min<int64_t>(std::max<int64_t>(v, 0), 6);
        ASSERT_EQ(got[i], v) << "at element " << i;
      }
    }
  }
}

TEST(ElementwiseBinary, ThreadsGiveIdenticalResults) {
  const Shape sa = {1, 64, 64, 24}, sb = {1, 1, 1, 24};
  {  // tiles that start mid-row-run, against the naive result
    const Shape s1 = {3, 700, 24}, s2 = {3, 1, 24};
    const auto x = test::random_floats(num_elements(s1), 13), y = test::random_floats(num_elements(s2), 14);
    expect_rel(run_binary(BuiltinOperator::SUB, s1, x, s2, y, tflite::SubOptionsT{}, 2),
               naive_binary(s1, x, s2, y, [](double u, double v) { return u - v; }), 6e-8);
    expect_rel(run_binary(BuiltinOperator::SUB, s2, y, s1, x, tflite::SubOptionsT{}, 2),
               naive_binary(s2, y, s1, x, [](double u, double v) { return u - v; }), 6e-8);
  }
  const auto a = test::random_floats(num_elements(sa), 11);
  const auto b = test::random_floats(num_elements(sb), 12);
  tflite::MulOptionsT o;
  const auto one = run_binary(BuiltinOperator::MUL, sa, a, sb, b, o, 1);
  const auto two = run_binary(BuiltinOperator::MUL, sa, a, sb, b, o, 2);
  ASSERT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0);
  const auto same1 = run_binary(BuiltinOperator::ADD, sa, a, sa, a, tflite::AddOptionsT{}, 1);
  const auto same2 = run_binary(BuiltinOperator::ADD, sa, a, sa, a, tflite::AddOptionsT{}, 2);
  ASSERT_EQ(std::memcmp(same1.data(), same2.data(), same1.size() * sizeof(float)), 0);
  expect_rel(same2, naive_binary(sa, a, sa, a, [](double x, double y) { return x + y; }), 0);
}

TEST(ElementwiseBinary, AllConstantInputsAreFolded) {
  ModelBuilder mb;
  const int x = mb.input(DType::kFloat32, {3});
  const int c1 = mb.constant_f32({3}, {1, 2, 3});
  const int c2 = mb.constant_f32({1}, {10});
  const int t = mb.tensor(DType::kFloat32, {3});
  const int out = mb.tensor(DType::kFloat32, {3});
  mb.op(BuiltinOperator::MUL, {c1, c2}, {t}, tflite::MulOptionsT{});
  mb.op(BuiltinOperator::ADD, {x, t}, {out}, tflite::AddOptionsT{});
  mb.output(out);
  const auto got = test::from_bytes<float>(mb.run({host<float>({3}, {0.5f, 0.25f, 0.125f})})[0].data);
  EXPECT_EQ(got, (std::vector<float>{10.5f, 20.25f, 30.125f}));
}

void expect_binary_error(const Shape& sa, const Shape& sb, const Shape& so, DType ta = DType::kFloat32,
                         DType tb = DType::kFloat32, ActivationFunctionType act = ActivationFunctionType::NONE,
                         BuiltinOperator op = BuiltinOperator::ADD) {
  ModelBuilder mb;
  const int ia = mb.input(ta, sa);
  const int ib = mb.input(tb, sb);
  const int out = mb.tensor(ta, so);
  if (op == BuiltinOperator::DIV) {
    mb.op(op, {ia, ib}, {out}, tflite::DivOptionsT{});
  } else {
    tflite::AddOptionsT o;
    o.fused_activation_function = act;
    mb.op(op, {ia, ib}, {out}, o);
  }
  mb.output(out);
  EXPECT_THROW(Executor(std::make_shared<Model>(mb.model())), Error);
}

TEST(ElementwiseBinary, RejectsBadInputs) {
  expect_binary_error({2, 3}, {4}, {2, 3});                  // incompatible broadcast
  expect_binary_error({1, 4, 4, 3}, {1, 1, 4, 2}, {1, 4, 4, 3});
  expect_binary_error({2, 3}, {3}, {2, 4});                  // wrong output shape
  expect_binary_error({2, 3}, {3}, {3});
  expect_binary_error({2, 3}, {3}, {2, 3}, DType::kFloat32, DType::kInt32);  // mixed types
  expect_binary_error({2, 3}, {3}, {2, 3}, DType::kInt8, DType::kInt8);      // unquantized int8
  expect_binary_error({2, 3}, {3}, {2, 3}, DType::kFloat32, DType::kFloat32, ActivationFunctionType::TANH);
  expect_binary_error({2, 3}, {3}, {2, 3}, DType::kInt32, DType::kInt32, ActivationFunctionType::NONE, BuiltinOperator::DIV);
  expect_binary_error({1, 1, 1, 1, 1, 1, 2}, {2}, {1, 1, 1, 1, 1, 1, 2});  // rank 7

  ModelBuilder mb;  // one input only
  const int ia = mb.input(DType::kFloat32, {2});
  const int out = mb.tensor(DType::kFloat32, {2});
  mb.op(BuiltinOperator::ADD, {ia}, {out});
  mb.output(out);
  EXPECT_THROW(Executor(std::make_shared<Model>(mb.model())), Error);
}

// ---- unary ---------------------------------------------------------------------------------

template <typename OptionsT = std::nullptr_t>
std::vector<float> run_unary(BuiltinOperator op, const Shape& s, const std::vector<float>& x, OptionsT opts = nullptr,
                             int threads = 1) {
  ModelBuilder mb;
  const int in = mb.input(DType::kFloat32, s);
  const int out = mb.tensor(DType::kFloat32, s);
  mb.op(op, {in}, {out}, std::move(opts));
  mb.output(out);
  return test::from_bytes<float>(mb.run({host(s, x)}, threads)[0].data);
}

std::vector<double> naive_unary(const std::vector<float>& x, const std::function<double(double)>& f) {
  std::vector<double> r(x.size());
  for (size_t i = 0; i < x.size(); ++i) r[i] = f(x[i]);
  return r;
}

TEST(ElementwiseUnary, MatchesReferenceFunctions) {
  struct Case {
    BuiltinOperator op;
    float lo, hi;
    double rtol;
    std::function<double(double)> f;
  };
  const std::vector<Case> cases = {
      {BuiltinOperator::LOGISTIC, -20, 20, 1e-6, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }},
      {BuiltinOperator::TANH, -10, 10, 1e-6, [](double v) { return std::tanh(v); }},
      {BuiltinOperator::RELU, -3, 3, 0, [](double v) { return std::max(v, 0.0); }},
      {BuiltinOperator::RELU6, -3, 9, 0, [](double v) { return std::min(std::max(v, 0.0), 6.0); }},
      {BuiltinOperator::RELU_N1_TO_1, -3, 3, 0, [](double v) { return std::min(std::max(v, -1.0), 1.0); }},
      {BuiltinOperator::RELU_0_TO_1, -3, 3, 0, [](double v) { return std::min(std::max(v, 0.0), 1.0); }},
      {BuiltinOperator::EXP, -20, 20, 1e-6, [](double v) { return std::exp(v); }},
      {BuiltinOperator::LOG, 1e-3f, 100, 1e-6, [](double v) { return std::log(v); }},
      {BuiltinOperator::NEG, -3, 3, 0, [](double v) { return -v; }},
      {BuiltinOperator::ABS, -3, 3, 0, [](double v) { return std::abs(v); }},
      {BuiltinOperator::SQRT, 0, 100, 6e-8, [](double v) { return std::sqrt(v); }},
      {BuiltinOperator::RSQRT, 1e-3f, 100, 1.2e-7, [](double v) { return 1.0 / std::sqrt(v); }},
      {BuiltinOperator::SQUARE, -3, 3, 6e-8, [](double v) { return v * v; }},
      {BuiltinOperator::ELU, -5, 5, 1e-6, [](double v) { return v < 0 ? std::expm1(v) : v; }},
  };
  uint32_t seed = 300;
  for (const Case& c : cases) {
    SCOPED_TRACE(tflite::EnumNameBuiltinOperator(c.op));
    // 1000 elements: a vectorized body plus a remainder.
    const Shape s = {2, 10, 50};
    auto x = test::random_floats(num_elements(s), seed++, c.lo, c.hi);
    if (c.lo < 0) x[0] = 0.0f, x[1] = -1e-5f, x[2] = 1e-5f;
    expect_rel(run_unary(c.op, s, x), naive_unary(x, c.f), c.rtol);
  }
}

TEST(ElementwiseUnary, LogisticTailsAndLargeInputs) {
  const std::vector<float> x = {-100.0f, -87.0f, -30.0f, -16.5f, -9.0f, -1e-3f, 0.0f, 1e-3f, 9.0f, 16.5f, 30.0f, 100.0f};
  const auto got = run_unary(BuiltinOperator::LOGISTIC, {12}, x);
  // Relative accuracy in the lower tail (the exp(x) regime), saturation to 1 in the upper.
  expect_rel(std::vector<float>(got.begin() + 1, got.end()),
             naive_unary(std::vector<float>(x.begin() + 1, x.end()), [](double v) { return 1.0 / (1.0 + std::exp(-v)); }),
             1e-6);
  EXPECT_GE(got[0], 0.0f);
  EXPECT_LT(got[0], 1e-40f);
  EXPECT_EQ(got[11], 1.0f);
}

TEST(ElementwiseUnary, HardSwishIsXnnpackSequence) {
  const Shape s = {3, 111};
  const auto x = test::random_floats(num_elements(s), 31, -5.0f, 5.0f);
  const auto got = run_unary(BuiltinOperator::HARD_SWISH, s, x);
  for (size_t i = 0; i < x.size(); ++i) {
    // x * clamp(x * (1/6) + 1/2, 0, 1), each step rounded to float (volatile: no FMA).
    volatile float t = x[i] * (1.0f / 6.0f);
    volatile float u = t + 0.5f;
    const float c = std::min(std::max(static_cast<float>(u), 0.0f), 1.0f);
    ASSERT_EQ(got[i], x[i] * c) << "x=" << x[i];
    // and close to the mathematical x * relu6(x + 3) / 6
    const double v = x[i];
    ASSERT_NEAR(got[i], v * std::min(std::max(v + 3, 0.0), 6.0) / 6, 1e-6);
  }
}

TEST(ElementwiseUnary, LeakyReluAlphaAndGelu) {
  const Shape s = {4, 33};
  const auto x = test::random_floats(num_elements(s), 41, -6.0f, 6.0f);
  tflite::LeakyReluOptionsT lo;
  lo.alpha = 0.2f;
  expect_rel(run_unary(BuiltinOperator::LEAKY_RELU, s, x, lo), naive_unary(x, [](double v) { return v > 0 ? v : v * double(0.2f); }), 6e-8);

  tflite::GeluOptionsT exact, approx;
  approx.approximate = true;
  expect_rel(run_unary(BuiltinOperator::GELU, s, x, exact),
             naive_unary(x, [](double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); }), 1e-6);
  expect_rel(run_unary(BuiltinOperator::GELU, s, x, approx), naive_unary(x, [](double v) {
               return 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
             }), 1e-6);
}

TEST(ElementwiseUnary, ThreadsGiveIdenticalResults) {
  const Shape s = {1, 128, 128, 4};
  const auto x = test::random_floats(num_elements(s), 51, -8.0f, 8.0f);
  for (BuiltinOperator op : {BuiltinOperator::LOGISTIC, BuiltinOperator::HARD_SWISH, BuiltinOperator::TANH}) {
    const auto one = run_unary(op, s, x, nullptr, 1);
    const auto two = run_unary(op, s, x, nullptr, 2);
    ASSERT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0) << tflite::EnumNameBuiltinOperator(op);
  }
}

TEST(ElementwiseUnary, RejectsBadInputs) {
  auto expect_error = [](DType in_t, const Shape& in_s, DType out_t, const Shape& out_s) {
    ModelBuilder mb;
    const int in = mb.input(in_t, in_s);
    const int out = mb.tensor(out_t, out_s);
    mb.op(BuiltinOperator::LOGISTIC, {in}, {out});
    mb.output(out);
    EXPECT_THROW(Executor(std::make_shared<Model>(mb.model())), Error);
  };
  expect_error(DType::kFloat32, {2, 3}, DType::kFloat32, {3, 2});
  expect_error(DType::kFloat32, {2, 3}, DType::kFloat32, {6});
  expect_error(DType::kInt32, {2, 3}, DType::kInt32, {2, 3});
  expect_error(DType::kFloat32, {2, 3}, DType::kFloat16, {2, 3});
}

}  // namespace
}  // namespace qcal
