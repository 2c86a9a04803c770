// Reductions: SOFTMAX, LOG_SOFTMAX and L2_NORMALIZATION over the last axis; MEAN, SUM,
// REDUCE_PROD, REDUCE_MAX and REDUCE_MIN over a constant list of axes; ARG_MAX and ARG_MIN
// over one constant axis.
//
// MEAN and SUM accumulate in float, in input order, and MEAN multiplies by 1/count: for the
// spatial means of real models this is bit-identical to LiteRT (XNNPACK), checked tensor by
// tensor. Accumulation order is fixed, never split across threads, so results do not depend
// on ctx.threads.

// GCC 12 reports false -Wmaybe-uninitialized warnings inside Eigen's AVX-512 packet code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "qcal/kernel.h"

namespace qcal {
namespace {

using tflite::BuiltinOperator;

void check_constant_bytes(const OpContext& ctx, int input, const char* role) {
  const TensorData& t = ctx.in(input);
  if (t.constant && t.bytes != static_cast<size_t>(t.size()) * dtype_size(t.dtype))
    ctx.fail(std::string(role) + " holds " + std::to_string(t.bytes) + " bytes, expected " +
             std::to_string(t.size() * dtype_size(t.dtype)));
}

// The values of a constant int32/int64 axis tensor.
std::vector<int64_t> read_axes(const OpContext& ctx, int input) {
  // An empty axis list has no data, so the file cannot mark it constant.
  if (ctx.has_input(input) && ctx.in(input).size() == 0) return {};
  ctx.expect_constant(input, "the axis");
  const TensorData& t = ctx.in(input);
  if (t.dtype != DType::kInt32 && t.dtype != DType::kInt64)
    ctx.fail(std::string("the axis must be int32 or int64, is ") + dtype_name(t.dtype));
  check_constant_bytes(ctx, input, "the axis");
  std::vector<int64_t> axes(static_cast<size_t>(t.size()));
  for (size_t i = 0; i < axes.size(); ++i) axes[i] = t.dtype == DType::kInt32 ? t.as<int32_t>()[i] : t.as<int64_t>()[i];
  return axes;
}

int64_t normalize_axis(const OpContext& ctx, int64_t axis, int rank) {
  if (axis < -rank || axis >= rank)
    ctx.fail("axis " + std::to_string(axis) + " is out of range for a rank-" + std::to_string(rank) + " input");
  return axis < 0 ? axis + rank : axis;
}

Shape squeezed(const Shape& s) {
  Shape r;
  for (int32_t d : s)
    if (d != 1) r.push_back(d);
  return r;
}

// Rows of the last axis: [outer, depth].
struct Rows {
  int64_t outer = 0, depth = 0;
};
Rows last_axis_rows(const OpContext& ctx) {
  const TensorData& in = ctx.in(0);
  if (in.rank() < 1) ctx.fail("the input must have rank >= 1, has shape " + shape_str(in.shape));
  Rows r;
  r.depth = in.dim(-1);
  r.outer = r.depth ? in.size() / r.depth : 0;
  return r;
}

void prepare_float_same_shape(OpContext& ctx) {
  ctx.expect_io(1, 1, 1);
  ctx.expect_dtype(ctx.in(0), DType::kFloat32, "the input");
  ctx.expect_dtype(ctx.out(), DType::kFloat32, "the output");
  ctx.expect_shape(ctx.out(), ctx.in(0).shape, "the output");
  check_constant_bytes(ctx, 0, "the input");
}

// ---- SOFTMAX / LOG_SOFTMAX / L2_NORMALIZATION ----------------------------------------------

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

// out = exp((x - max) * beta) / sum, per row of the last axis (TFLite's reference).
class SoftmaxKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    prepare_float_same_shape(ctx);
    rows_ = last_axis_rows(ctx);
    beta_ = options_of<tflite::SoftmaxOptionsT>(*ctx.op).beta;
  }
  void eval(OpContext& ctx) const override {
    const float* in = ctx.in(0).as<float>();
    float* out = ctx.out().as<float>();
    const int64_t d = rows_.depth;
    for (int64_t r = 0; r < rows_.outer; ++r) {
      ConstArrayMap x(in + r * d, d);
      ArrayMap y(out + r * d, d);
      const float max = x.maxCoeff();
      y = ((x - max) * beta_).exp();
      double sum = 0;
      for (int64_t i = 0; i < d; ++i) sum += y[i];
      y /= static_cast<float>(sum);
    }
  }

 private:
  Rows rows_;
  float beta_ = 1.0f;
};

// out = (x - max) - log(sum(exp(x - max))), per row of the last axis.
class LogSoftmaxKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    prepare_float_same_shape(ctx);
    rows_ = last_axis_rows(ctx);
  }
  void eval(OpContext& ctx) const override {
    const float* in = ctx.in(0).as<float>();
    float* out = ctx.out().as<float>();
    const int64_t d = rows_.depth;
    for (int64_t r = 0; r < rows_.outer; ++r) {
      ConstArrayMap x(in + r * d, d);
      ArrayMap y(out + r * d, d);
      const float max = x.maxCoeff();
      y = (x - max).exp();
      double sum = 0;
      for (int64_t i = 0; i < d; ++i) sum += y[i];
      const float log_sum = static_cast<float>(std::log(sum));
      y = (x - max) - log_sum;
    }
  }

 private:
  Rows rows_;
};

// out = x / max(sqrt(sum(x^2)), 1e-6) per row of the last axis (TFLite's epsilon).
class L2NormalizationKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    prepare_float_same_shape(ctx);
    rows_ = last_axis_rows(ctx);
    const auto act = options_of<tflite::L2NormOptionsT>(*ctx.op).fused_activation_function;
    if (act != tflite::ActivationFunctionType::NONE)  // TFLite rejects these too
      ctx.fail(std::string("fused activation ") + tflite::EnumNameActivationFunctionType(act) + " is not supported");
  }
  void eval(OpContext& ctx) const override {
    const float* in = ctx.in(0).as<float>();
    float* out = ctx.out().as<float>();
    const int64_t d = rows_.depth;
    for (int64_t r = 0; r < rows_.outer; ++r) {
      const float* x = in + r * d;
      double sum = 0;
      for (int64_t i = 0; i < d; ++i) sum += static_cast<double>(x[i]) * x[i];
      const float norm = std::max(static_cast<float>(std::sqrt(sum)), 1e-6f);
      for (int64_t i = 0; i < d; ++i) out[r * d + i] = x[i] / norm;
    }
  }

 private:
  Rows rows_;
};

// ---- MEAN / SUM / REDUCE_PROD / REDUCE_MAX / REDUCE_MIN ------------------------------------

enum class Reduce { kSum, kMean, kProd, kMax, kMin };

// The input viewed as groups of adjacent dimensions that are all reduced or all kept (size-1
// dimensions dropped). The input is walked in order; the last group is the contiguous inner
// run, and the other groups are an odometer giving the output offset of each run.
struct ReducePlan {
  std::vector<int64_t> outer_dim, outer_out_stride;  // stride 0 for reduced groups
  int64_t inner = 1;
  bool inner_reduced = false;
  int64_t positions = 1;  // product of outer_dim
  int64_t count = 1;      // input elements per output element
};

ReducePlan make_reduce_plan(const Shape& shape, const std::vector<bool>& reduced) {
  std::vector<int64_t> dims;
  std::vector<bool> red;
  ReducePlan p;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (reduced[i]) p.count *= shape[i];
    if (shape[i] == 1) continue;
    if (!dims.empty() && red.back() == reduced[i]) {
      dims.back() *= shape[i];
    } else {
      dims.push_back(shape[i]);
      red.push_back(reduced[i]);
    }
  }
  if (dims.empty()) dims = {1}, red = {false};
  p.inner = dims.back();
  p.inner_reduced = red.back();
  int64_t stride = p.inner_reduced ? 1 : p.inner;
  const size_t n_outer = dims.size() - 1;
  p.outer_dim.resize(n_outer);
  p.outer_out_stride.resize(n_outer);
  for (size_t k = n_outer; k-- > 0;) {
    p.outer_dim[k] = dims[k];
    p.outer_out_stride[k] = red[k] ? 0 : stride;
    if (!red[k]) stride *= dims[k];
    p.positions *= dims[k];
  }
  return p;
}

// Accumulator type and combine/identity per reduction and element type.
template <Reduce R, typename T>
struct Reducer {
  static constexpr bool kFloat = std::is_floating_point_v<T>;
  static constexpr bool kAdd = R == Reduce::kSum || R == Reduce::kMean;
  // T itself for floats and for max/min; wrapping unsigned arithmetic for integer sums and
  // products (what int32 hardware arithmetic gives, without the undefined behaviour).
  using Acc = std::conditional_t<kFloat || R == Reduce::kMax || R == Reduce::kMin, T, uint64_t>;
  static Acc identity() {
    if constexpr (kAdd) return Acc(0);
    else if constexpr (R == Reduce::kProd) return Acc(1);
    else if constexpr (R == Reduce::kMax) return std::numeric_limits<T>::lowest();  // as TFLite
    else return std::numeric_limits<T>::max();
  }
  static Acc combine(Acc a, T x) {
    if constexpr (kAdd) return a + static_cast<Acc>(x);
    else if constexpr (R == Reduce::kProd) return a * static_cast<Acc>(x);
    else if constexpr (R == Reduce::kMax) return x > a ? x : a;
    else return x < a ? x : a;
  }
  static T finish(Acc a, int64_t count) {
    if constexpr (R == Reduce::kMean) return a * (1.0f / static_cast<float>(count));  // XNNPACK's scale
    else return static_cast<T>(a);
  }
};

template <Reduce R, typename T>
void run_reduce(const ReducePlan& p, const T* in, T* out, int64_t out_size) {
  using Rd = Reducer<R, T>;
  using Acc = typename Rd::Acc;
  // Accumulate in the output itself when the types agree (it never aliases the input).
  std::vector<Acc> buffer;
  Acc* acc_data;
  if constexpr (std::is_same_v<Acc, T>) {
    acc_data = out;
  } else {
    buffer.resize(static_cast<size_t>(out_size));
    acc_data = buffer.data();
  }
  std::fill(acc_data, acc_data + out_size, Rd::identity());
  const size_t n_outer = p.outer_dim.size();
  std::vector<int64_t> idx(n_outer, 0);
  int64_t off = 0;
  const int64_t n = p.inner;
  for (int64_t pos = 0; pos < p.positions; ++pos) {
    const T* __restrict x = in + pos * n;
    Acc* __restrict a = acc_data + off;
    if (p.inner_reduced) {  // strictly sequential, so the order is input order
      Acc acc0 = a[0];
      for (int64_t i = 0; i < n; ++i) acc0 = Rd::combine(acc0, x[i]);
      a[0] = acc0;
    } else {
      for (int64_t i = 0; i < n; ++i) a[i] = Rd::combine(a[i], x[i]);
    }
    for (size_t k = n_outer; k-- > 0;) {
      off += p.outer_out_stride[k];
      if (++idx[k] < p.outer_dim[k]) break;
      off -= p.outer_out_stride[k] * p.outer_dim[k];
      idx[k] = 0;
    }
  }
  for (int64_t i = 0; i < out_size; ++i) out[i] = Rd::finish(acc_data[i], p.count);
}

template <Reduce R>
class ReduceKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(2, 2, 1);
    const TensorData& in = ctx.in(0);
    const DType t = in.dtype;
    const bool int_ok = R != Reduce::kMean && (t == DType::kInt32 || t == DType::kInt64);
    if (t != DType::kFloat32 && !int_ok)
      ctx.fail(std::string("the input must be float32") + (R != Reduce::kMean ? ", int32 or int64" : "") + ", is " +
               dtype_name(t));
    ctx.expect_dtype(ctx.out(), t, "the output");
    check_constant_bytes(ctx, 0, "the input");
    const int rank = in.rank();
    std::vector<bool> reduced(rank, false);
    for (int64_t a : read_axes(ctx, 1)) reduced[normalize_axis(ctx, a, rank)] = true;
    const bool keep_dims = options_of<tflite::ReducerOptionsT>(*ctx.op).keep_dims;
    Shape want;
    for (int i = 0; i < rank; ++i) {
      if (!reduced[i]) want.push_back(in.shape[i]);
      else if (keep_dims) want.push_back(1);
    }
    // Size-1 dimensions do not change the layout; converters sometimes write [1] for [].
    if (ctx.out().shape != want && squeezed(ctx.out().shape) != squeezed(want))
      ctx.fail("the output has shape " + shape_str(ctx.out().shape) + ", expected " + shape_str(want) +
               " (input " + shape_str(in.shape) + (keep_dims ? ", keep_dims" : "") + ")");
    plan_ = make_reduce_plan(in.shape, reduced);
  }
  void eval(OpContext& ctx) const override {
    const TensorData& in = ctx.in(0);
    TensorData& out = ctx.out();
    switch (in.dtype) {
      case DType::kFloat32: run_reduce<R>(plan_, in.as<float>(), out.as<float>(), out.size()); break;
      case DType::kInt32:
        if constexpr (R != Reduce::kMean) run_reduce<R>(plan_, in.as<int32_t>(), out.as<int32_t>(), out.size());
        break;
      case DType::kInt64:
        if constexpr (R != Reduce::kMean) run_reduce<R>(plan_, in.as<int64_t>(), out.as<int64_t>(), out.size());
        break;
      default: break;  // rejected in prepare
    }
  }

 private:
  ReducePlan plan_;
};

// ---- ARG_MAX / ARG_MIN ----------------------------------------------------------------------

template <bool kMax>
class ArgKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(2, 2, 1);
    const TensorData& in = ctx.in(0);
    switch (in.dtype) {
      case DType::kFloat32: case DType::kInt32: case DType::kInt64: case DType::kUInt8: case DType::kInt8:
      case DType::kInt16: case DType::kBool: break;
      default: ctx.fail(std::string("input type ") + dtype_name(in.dtype) + " is not supported");
    }
    check_constant_bytes(ctx, 0, "the input");
    const DType ot = ctx.out().dtype;
    if (ot != DType::kInt32 && ot != DType::kInt64)
      ctx.fail(std::string("the output must be int32 or int64, is ") + dtype_name(ot));
    const int rank = in.rank();
    if (rank < 1) ctx.fail("the input must have rank >= 1");
    const std::vector<int64_t> axes = read_axes(ctx, 1);
    if (axes.size() != 1) ctx.fail("the axis must hold exactly one value, has " + std::to_string(axes.size()));
    const int axis = static_cast<int>(normalize_axis(ctx, axes[0], rank));
    Shape want;
    for (int i = 0; i < rank; ++i)
      if (i != axis) want.push_back(in.shape[i]);
    ctx.expect_shape(ctx.out(), want, "the output");
    outer_ = inner_ = 1;
    for (int i = 0; i < axis; ++i) outer_ *= in.shape[i];
    for (int i = axis + 1; i < rank; ++i) inner_ *= in.shape[i];
    n_ = in.shape[axis];
  }
  void eval(OpContext& ctx) const override {
    const TensorData& in = ctx.in(0);
    switch (in.dtype) {
      case DType::kFloat32: return run(ctx, in.as<float>());
      case DType::kInt32: return run(ctx, in.as<int32_t>());
      case DType::kInt64: return run(ctx, in.as<int64_t>());
      case DType::kUInt8: return run(ctx, in.as<uint8_t>());
      case DType::kInt8: return run(ctx, in.as<int8_t>());
      case DType::kInt16: return run(ctx, in.as<int16_t>());
      case DType::kBool: return run(ctx, in.as<uint8_t>());
      default: return;
    }
  }

 private:
  // First index of the extreme value (strict comparison, as TFLite).
  template <typename T>
  void run(OpContext& ctx, const T* x) const {
    std::vector<T> best(static_cast<size_t>(inner_));
    std::vector<int64_t> arg(static_cast<size_t>(inner_));
    TensorData& out = ctx.out();
    for (int64_t o = 0; o < outer_; ++o) {
      const T* base = x + o * n_ * inner_;
      std::fill(arg.begin(), arg.end(), 0);
      if (n_ > 0) std::copy(base, base + inner_, best.begin());
      for (int64_t k = 1; k < n_; ++k) {
        const T* row = base + k * inner_;
        for (int64_t i = 0; i < inner_; ++i) {
          const bool better = kMax ? row[i] > best[i] : row[i] < best[i];
          if (better) best[i] = row[i], arg[i] = k;
        }
      }
      for (int64_t i = 0; i < inner_; ++i) {
        if (out.dtype == DType::kInt32) out.as<int32_t>()[o * inner_ + i] = static_cast<int32_t>(arg[i]);
        else out.as<int64_t>()[o * inner_ + i] = arg[i];
      }
    }
  }

  int64_t outer_ = 1, n_ = 1, inner_ = 1;
};

}  // namespace

void register_reduce_kernels(KernelRegistry& r) {
  r.add_builtin(BuiltinOperator::SOFTMAX, make_factory<SoftmaxKernel>());
  r.add_builtin(BuiltinOperator::LOG_SOFTMAX, make_factory<LogSoftmaxKernel>());
  r.add_builtin(BuiltinOperator::L2_NORMALIZATION, make_factory<L2NormalizationKernel>());
  r.add_builtin(BuiltinOperator::MEAN, make_factory<ReduceKernel<Reduce::kMean>>());
  r.add_builtin(BuiltinOperator::SUM, make_factory<ReduceKernel<Reduce::kSum>>());
  r.add_builtin(BuiltinOperator::REDUCE_PROD, make_factory<ReduceKernel<Reduce::kProd>>());
  r.add_builtin(BuiltinOperator::REDUCE_MAX, make_factory<ReduceKernel<Reduce::kMax>>());
  r.add_builtin(BuiltinOperator::REDUCE_MIN, make_factory<ReduceKernel<Reduce::kMin>>());
  r.add_builtin(BuiltinOperator::ARG_MAX, make_factory<ArgKernel<true>>());
  r.add_builtin(BuiltinOperator::ARG_MIN, make_factory<ArgKernel<false>>());
}

}  // namespace qcal
