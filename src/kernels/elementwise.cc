// Element-wise kernels: binary arithmetic with numpy-style broadcasting (ADD, SUB, MUL, DIV,
// MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, PRELU) and unary activations/math (LOGISTIC, TANH,
// the RELU family, HARD_SWISH, EXP, LOG, ...), float32 with int32 variants of the cheap
// binary ops (shape arithmetic).
//
// Numerics follow TFLite's float kernels: one float operation per element, fused activations
// as a clamp after the op. Where TFLite's reference and XNNPACK (which LiteRT runs float
// models through) round differently, qcal follows XNNPACK: LOGISTIC and HARD_SWISH are
// bit-identical to LiteRT on the real models. TANH, EXP and LOG use Eigen's vectorized
// float functions (within a few ulp); GELU and ELU are evaluated in double.
// GCC 12 reports false -Wmaybe-uninitialized warnings inside Eigen's AVX-512 packet code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <type_traits>

#include "qcal/kernel.h"
#include "tiles.h"

namespace qcal {
namespace {

using tflite::ActivationFunctionType;
using tflite::BuiltinOperator;

// Elements per parallel tile. Element-wise results do not depend on the split, but tiles are
// fixed anyway so work is distributed the same way for any thread count.
constexpr int64_t kTile = 16384;


// ---- fused activations ------------------------------------------------------------------

template <typename T>
struct Clamp {
  T lo, hi;
};

// TFLite's CalculateActivationRange: the activations that are a clamp. TANH and SIGN_BIT are
// never fused into arithmetic by the converter; reject them rather than guess.
template <typename T>
Clamp<T> activation_clamp(const OpContext& ctx, ActivationFunctionType a) {
  constexpr bool kFloat = std::is_floating_point_v<T>;
  const T lowest = kFloat ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
  const T highest = kFloat ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
  switch (a) {
    case ActivationFunctionType::NONE: return {lowest, highest};
    case ActivationFunctionType::RELU: return {T(0), highest};
    case ActivationFunctionType::RELU_N1_TO_1: return {T(-1), T(1)};
    case ActivationFunctionType::RELU6: return {T(0), T(6)};
    default: break;
  }
  ctx.fail(std::string("fused activation ") + tflite::EnumNameActivationFunctionType(a) + " is not supported here");
}

// ---- broadcasting -------------------------------------------------------------------------

constexpr int kMaxBroadcastRank = 6;  // as TFLite's broadcasting kernels

// How two inputs map onto the output, with adjacent dimensions that broadcast the same way
// merged, so the common cases collapse to one or two loops: same shape -> one run of n;
// [1,H,W,C] op [C] -> H*W rows of C against one row; tensor op scalar -> one run with a
// scalar operand.
struct BroadcastPlan {
  int rank = 1;                           // merged dimensions, >= 1
  std::array<int64_t, kMaxBroadcastRank> dim{}, a_stride{}, b_stride{};  // stride 0: broadcast
  int64_t inner = 1;                      // dim[rank - 1]
  int64_t rows = 1;                       // product of the other dims
  enum Mode { kBoth, kScalarA, kScalarB } mode = kBoth;  // the innermost run
  // Short rows where one operand repeats the same row along dim[rank - 2] ([1,H,W,C] op
  // [1,1,1,C]): runs of rows are done as one long run against that row repeated, instead of
  // paying the loop overhead once per row of C elements.
  bool repeat_rows = false;
  bool repeat_a = false;  // which operand repeats
};

constexpr int64_t kRepeatElems = 1024;  // size of the repeated-row buffer

bool broadcast_shape(const Shape& a, const Shape& b, Shape& out) {
  const size_t r = std::max(a.size(), b.size());
  out.assign(r, 1);
  for (size_t i = 0; i < r; ++i) {
    const int32_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int32_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) return false;
    out[i] = da == 1 ? db : da;
  }
  return true;
}

BroadcastPlan make_plan(const Shape& a, const Shape& b, const Shape& out) {
  const size_t r = out.size();
  std::vector<int64_t> dims;
  std::vector<bool> a_full, b_full;
  for (size_t i = 0; i < r; ++i) {
    if (out[i] == 1) continue;  // size-1 output dims change no index
    const int32_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int32_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    const bool fa = da == out[i], fb = db == out[i];
    if (!dims.empty() && a_full.back() == fa && b_full.back() == fb) {
      dims.back() *= out[i];
    } else {
      dims.push_back(out[i]);
      a_full.push_back(fa);
      b_full.push_back(fb);
    }
  }
  if (dims.empty()) dims = {1}, a_full = {true}, b_full = {true};
  BroadcastPlan p;
  p.rank = static_cast<int>(dims.size());
  int64_t sa = 1, sb = 1;
  for (int k = p.rank - 1; k >= 0; --k) {
    p.dim[k] = dims[k];
    p.a_stride[k] = a_full[k] ? sa : 0;
    p.b_stride[k] = b_full[k] ? sb : 0;
    if (a_full[k]) sa *= dims[k];
    if (b_full[k]) sb *= dims[k];
  }
  p.inner = dims.back();
  p.rows = 1;
  for (int k = 0; k + 1 < p.rank; ++k) p.rows *= dims[k];
  p.mode = !a_full.back() ? BroadcastPlan::kScalarA : !b_full.back() ? BroadcastPlan::kScalarB : BroadcastPlan::kBoth;
  // Merged dims alternate patterns, so at dim[rank - 2] exactly one operand is broadcast.
  if (p.rank >= 2 && p.mode == BroadcastPlan::kBoth && p.inner * 2 <= kRepeatElems) {
    p.repeat_rows = true;
    p.repeat_a = p.a_stride[p.rank - 2] == 0;
  }
  return p;
}

// Applies f over output rows [r0, r1) of the plan.
template <typename T, class F>
void broadcast_rows(const BroadcastPlan& p, const T* a, const T* b, T* out, int64_t r0, int64_t r1, const F& f) {
  std::array<int64_t, kMaxBroadcastRank> idx{};
  int64_t ao = 0, bo = 0, rem = r0;
  for (int k = p.rank - 2; k >= 0; --k) {
    idx[k] = rem % p.dim[k];
    rem /= p.dim[k];
    ao += idx[k] * p.a_stride[k];
    bo += idx[k] * p.b_stride[k];
  }
  const int64_t n = p.inner;
  const int rd = p.rank - 2;  // the row dimension, when there is one
  alignas(64) T rep[kRepeatElems];
  const T* rep_src = nullptr;
  const int64_t rep_rows = kRepeatElems / n;
  for (int64_t r = r0; r < r1;) {
    T* __restrict o = out + r * n;
    const T* __restrict x = a + ao;
    const T* __restrict y = b + bo;
    int64_t rows = 1;
    if (p.repeat_rows) rows = std::min({r1 - r, p.dim[rd] - idx[rd], rep_rows});
    if (rows > 1) {
      const T* fixed = p.repeat_a ? x : y;
      if (fixed != rep_src) {
        for (int64_t k = 0; k < rep_rows; ++k) std::copy(fixed, fixed + n, rep + k * n);
        rep_src = fixed;
      }
      const int64_t m = rows * n;
      const T* __restrict rp = rep;
      if (p.repeat_a) {
        for (int64_t i = 0; i < m; ++i) o[i] = f(rp[i], y[i]);
      } else {
        for (int64_t i = 0; i < m; ++i) o[i] = f(x[i], rp[i]);
      }
      // Advance along the row dimension (never past its end), then carry.
      idx[rd] += rows;
      ao += rows * p.a_stride[rd];
      bo += rows * p.b_stride[rd];
      if (idx[rd] == p.dim[rd]) {
        ao -= p.a_stride[rd] * p.dim[rd];
        bo -= p.b_stride[rd] * p.dim[rd];
        idx[rd] = 0;
        for (int k = rd - 1; k >= 0; --k) {
          ao += p.a_stride[k];
          bo += p.b_stride[k];
          if (++idx[k] < p.dim[k]) break;
          ao -= p.a_stride[k] * p.dim[k];
          bo -= p.b_stride[k] * p.dim[k];
          idx[k] = 0;
        }
      }
      r += rows;
      continue;
    }
    switch (p.mode) {
      case BroadcastPlan::kBoth:
        for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
        break;
      case BroadcastPlan::kScalarA: {
        const T xs = *x;
        for (int64_t i = 0; i < n; ++i) o[i] = f(xs, y[i]);
        break;
      }
      case BroadcastPlan::kScalarB: {
        const T ys = *y;
        for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], ys);
        break;
      }
    }
    for (int k = p.rank - 2; k >= 0; --k) {  // next row: odometer over the outer dims
      ao += p.a_stride[k];
      bo += p.b_stride[k];
      if (++idx[k] < p.dim[k]) break;
      ao -= p.a_stride[k] * p.dim[k];
      bo -= p.b_stride[k] * p.dim[k];
      idx[k] = 0;
    }
    ++r;
  }
}

template <typename T, class F>
void broadcast_apply(const OpContext& ctx, const BroadcastPlan& p, const T* a, const T* b, T* out, const F& f) {
  const int64_t rows_per_tile = std::max<int64_t>(1, kTile / std::max<int64_t>(1, p.inner));
  for_tiles(ctx, p.rows, rows_per_tile,
            [&](int64_t r0, int64_t r1) { broadcast_rows(p, a, b, out, r0, r1, f); });
}

// ---- binary ops ---------------------------------------------------------------------------

// Integer arithmetic wraps (as two's complement hardware does) instead of being undefined.
inline int32_t wrap(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v))); }

struct AddOp {
  static constexpr BuiltinOperator kOp = BuiltinOperator::ADD;
  static constexpr bool kInt32 = true;
  using Options = tflite::AddOptionsT;
  static float apply(float a, float b) { return a + b; }
  static int32_t apply(int32_t a, int32_t b) { return wrap(int64_t{a} + b); }
};
struct SubOp {
  static constexpr BuiltinOperator kOp = BuiltinOperator::SUB;
  static constexpr bool kInt32 = true;
  using Options = tflite::SubOptionsT;
  static float apply(float a, float b) { return a - b; }
  static int32_t apply(int32_t a, int32_t b) { return wrap(int64_t{a} - b); }
};
struct MulOp {
  static constexpr BuiltinOperator kOp = BuiltinOperator::MUL;
  static constexpr bool kInt32 = true;
  using Options = tflite::MulOptionsT;
  static float apply(float a, float b) { return a * b; }
  static int32_t apply(int32_t a, int32_t b) { return wrap(int64_t{a} * b); }
};
struct DivOp {
  static constexpr BuiltinOperator kOp = BuiltinOperator::DIV;
  static constexpr bool kInt32 = false;
  using Options = tflite::DivOptionsT;
  static float apply(float a, float b) { return a / b; }
  static int32_t apply(int32_t, int32_t) { return 0; }  // not registered for int32
};
struct MaximumOp {
  static constexpr BuiltinOperator kOp = BuiltinOperator::MAXIMUM;
  static constexpr bool kInt32 = true;
  using Options = void;
  template <typename T> static T apply(T a, T b) { return a > b ? a : b; }
};
struct MinimumOp {
  static constexpr BuiltinOperator kOp = BuiltinOperator::MINIMUM;
  static constexpr bool kInt32 = true;
  using Options = void;
  template <typename T> static T apply(T a, T b) { return a < b ? a : b; }
};
struct SquaredDifferenceOp {
  static constexpr BuiltinOperator kOp = BuiltinOperator::SQUARED_DIFFERENCE;
  static constexpr bool kInt32 = true;
  using Options = void;
  static float apply(float a, float b) { const float d = a - b; return d * d; }
  static int32_t apply(int32_t a, int32_t b) { const int64_t d = int64_t{a} - b; return wrap(d * d); }
};
// PRELU: x where x >= 0, else x * alpha, with alpha broadcast against x (TFLite's reference).
struct PreluOp {
  static constexpr BuiltinOperator kOp = BuiltinOperator::PRELU;
  static constexpr bool kInt32 = false;
  using Options = void;
  static float apply(float x, float alpha) { return x >= 0.0f ? x : x * alpha; }
  static int32_t apply(int32_t, int32_t) { return 0; }
};

// One kernel class per binary op (instantiated per Op): checks dtypes and the broadcast
// shape, precomputes the loop plan, and applies Op plus the fused activation.
template <class Op>
class BinaryKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(2, 2, 1);
    const TensorData& a = ctx.in(0);
    const TensorData& b = ctx.in(1);
    const TensorData& o = ctx.out();
    const bool is_int = a.dtype == DType::kInt32 && Op::kInt32;
    if (a.dtype != DType::kFloat32 && !is_int)
      ctx.fail(std::string("input 0 must be float32") + (Op::kInt32 ? " or int32" : "") + ", is " + dtype_name(a.dtype));
    ctx.expect_dtype(b, a.dtype, "input 1");
    ctx.expect_dtype(o, a.dtype, "the output");
    if (a.rank() > kMaxBroadcastRank || b.rank() > kMaxBroadcastRank)
      ctx.fail("inputs of rank above " + std::to_string(kMaxBroadcastRank) + " are not supported (" +
               shape_str(a.shape) + ", " + shape_str(b.shape) + ")");
    Shape want;
    if (!broadcast_shape(a.shape, b.shape, want))
      ctx.fail("input shapes " + shape_str(a.shape) + " and " + shape_str(b.shape) + " do not broadcast");
    ctx.expect_shape(o, want, "the output");
    for (int i = 0; i < 2; ++i) {
      const TensorData& t = ctx.in(i);
      if (t.constant && t.bytes != static_cast<size_t>(t.size()) * dtype_size(t.dtype))
        ctx.fail("constant input " + std::to_string(i) + " holds " + std::to_string(t.bytes) + " bytes, expected " +
                 std::to_string(t.size() * dtype_size(t.dtype)));
    }
    ActivationFunctionType act = ActivationFunctionType::NONE;
    if constexpr (!std::is_void_v<typename Op::Options>) act = options_of<typename Op::Options>(*ctx.op).fused_activation_function;
    int_ = is_int;
    fclamp_ = activation_clamp<float>(ctx, act);
    iclamp_ = activation_clamp<int32_t>(ctx, act);
    plan_ = make_plan(a.shape, b.shape, o.shape);
  }

  void eval(OpContext& ctx) const override {
    if (ctx.out().size() == 0) return;
    if (int_) {
      const Clamp<int32_t> c = iclamp_;
      broadcast_apply(ctx, plan_, ctx.in(0).as<int32_t>(), ctx.in(1).as<int32_t>(), ctx.out().as<int32_t>(),
                      [c](int32_t x, int32_t y) { return std::min(std::max(Op::apply(x, y), c.lo), c.hi); });
    } else {
      const Clamp<float> c = fclamp_;
      broadcast_apply(ctx, plan_, ctx.in(0).as<float>(), ctx.in(1).as<float>(), ctx.out().as<float>(),
                      [c](float x, float y) { return std::min(std::max(Op::apply(x, y), c.lo), c.hi); });
    }
  }

 private:
  BroadcastPlan plan_;
  bool int_ = false;
  Clamp<float> fclamp_{};
  Clamp<int32_t> iclamp_{};
};

// ---- unary ops ----------------------------------------------------------------------------

// Where qcal reproduces XNNPACK's float sequences bit for bit, a * b + c must stay two
// roundings. GCC contracts such pairs into FMAs by default (even in ISO C++ mode), so those
// functions turn contraction off; clang only contracts within one expression, which the
// code avoids by giving every operation its own statement.
#if defined(__GNUC__) && !defined(__clang__)
#define QCAL_NO_FP_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define QCAL_NO_FP_CONTRACT
#endif

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

// Each unary op is a struct with setup(ctx) (reads options) and run(in, out, n) over a
// contiguous piece; UnaryKernel<Op> does the checks and the tiling.
struct NoOptions {
  void setup(const OpContext&) {}
};

struct LogisticOp : NoOptions {
  // XNNPACK's float sigmoid (the rr2-p5-div scheme LiteRT runs): e = exp(-|x|) from a
  // range reduction by ln2 in two parts and a degree-5 polynomial, f = e / (1 + e), flushed
  // to 0 where it would be denormal, and 1 - f for x >= 0. Every operation rounded
  // separately, as in wasm SIMD: bit-identical to LiteRT on the real models, and within
  // 2 ulp of the true sigmoid with full relative accuracy in the lower tail.
  QCAL_NO_FP_CONTRACT void run(const float* __restrict in, float* __restrict out, int64_t n) const {
    const float kMagic = 0x1.8000FEp23f, kMinusLog2e = -0x1.715476p+0f;
    const float kLn2Hi = 0x1.62E400p-1f, kLn2Lo = 0x1.7F7D1Cp-20f;
    const float c5 = -0x1.0F9F9Cp-7f, c4 = 0x1.573A1Ap-5f, c3 = -0x1.555A80p-3f, c2 = 0x1.FFFDC6p-2f,
                c1 = -0x1.FFFFF6p-1f;
    const float kDenormCutoff = 0x1.5D589Ep+6f;  // e^-z is denormal beyond this
    // Builtins only (no calls) so nothing needs inlining across the optimize attribute.
    for (int64_t i = 0; i < n; ++i) {
      const float x = in[i];
      const float z = __builtin_fabsf(x);
      float k = z * kMinusLog2e;
      k = k + kMagic;  // round(-z / ln2) in the low mantissa bits
      const float scale = __builtin_bit_cast(float, __builtin_bit_cast(uint32_t, k) << 23);  // 2^k
      k = k - kMagic;
      float t = k * kLn2Hi;
      t = t + z;
      const float t_lo = k * kLn2Lo;
      t = t_lo + t;  // t = z + k ln2, the reduced argument: e^-z = 2^k e^-t
      float p = t * c5;
      p = p + c4;
      p = t * p;
      p = p + c3;
      p = t * p;
      p = p + c2;
      p = t * p;
      p = p + c1;
      t = t * scale;
      float e = t * p;
      e = e + scale;  // e^-z
      const float d = e + 1.0f;
      float f = e / d;
      f = z > kDenormCutoff ? 0.0f : f;
      const float one_minus_f = 1.0f - f;
      out[i] = __builtin_signbit(x) ? f : one_minus_f;
    }
  }
};
struct TanhOp : NoOptions {
  void run(const float* in, float* out, int64_t n) const { ArrayMap(out, n) = ConstArrayMap(in, n).tanh(); }
};
struct ExpOp : NoOptions {
  void run(const float* in, float* out, int64_t n) const { ArrayMap(out, n) = ConstArrayMap(in, n).exp(); }
};
struct LogOp : NoOptions {
  void run(const float* in, float* out, int64_t n) const { ArrayMap(out, n) = ConstArrayMap(in, n).log(); }
};
// SQRT and RSQRT use std::sqrt: Eigen's AVX-512 sqrt (EIGEN_FAST_MATH) is an rsqrt14 +
// Newton approximation, not the correctly rounded result TFLite gets.
struct SqrtOp : NoOptions {
  void run(const float* in, float* out, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) out[i] = std::sqrt(in[i]);
  }
};
struct RsqrtOp : NoOptions {
  void run(const float* in, float* out, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) out[i] = 1.0f / std::sqrt(in[i]);
  }
};
// Plain element-wise maps, left to the compiler's auto-vectorizer.
template <class F>
void map_loop(const float* __restrict in, float* __restrict out, int64_t n, const F& f) {
  for (int64_t i = 0; i < n; ++i) out[i] = f(in[i]);
}
struct ReluOp : NoOptions {
  void run(const float* in, float* out, int64_t n) const { map_loop(in, out, n, [](float x) { return std::max(x, 0.0f); }); }
};
struct Relu6Op : NoOptions {
  void run(const float* in, float* out, int64_t n) const {
    map_loop(in, out, n, [](float x) { return std::min(std::max(x, 0.0f), 6.0f); });
  }
};
struct ReluN1To1Op : NoOptions {
  void run(const float* in, float* out, int64_t n) const {
    map_loop(in, out, n, [](float x) { return std::min(std::max(x, -1.0f), 1.0f); });
  }
};
struct Relu0To1Op : NoOptions {
  void run(const float* in, float* out, int64_t n) const {
    map_loop(in, out, n, [](float x) { return std::min(std::max(x, 0.0f), 1.0f); });
  }
};
struct HardSwishOp : NoOptions {
  // x * relu6(x + 3) / 6, evaluated as x * clamp(x * (1/6) + 1/2, 0, 1) with each operation
  // rounded separately (XNNPACK's scheme): bit-identical to LiteRT on the real models.
  QCAL_NO_FP_CONTRACT void run(const float* __restrict in, float* __restrict out, int64_t n) const {
    const float kSixth = 1.0f / 6.0f;
    for (int64_t i = 0; i < n; ++i) {
      const float x = in[i];
      float t = x * kSixth;
      t = t + 0.5f;
      t = t > 0.0f ? t : 0.0f;
      t = t < 1.0f ? t : 1.0f;
      out[i] = x * t;
    }
  }
};
struct NegOp : NoOptions {
  void run(const float* in, float* out, int64_t n) const { map_loop(in, out, n, [](float x) { return -x; }); }
};
struct AbsOp : NoOptions {
  void run(const float* in, float* out, int64_t n) const { map_loop(in, out, n, [](float x) { return std::abs(x); }); }
};
struct SquareOp : NoOptions {
  void run(const float* in, float* out, int64_t n) const { map_loop(in, out, n, [](float x) { return x * x; }); }
};
struct LeakyReluOp {
  float alpha = 0.0f;
  void setup(const OpContext& ctx) { alpha = options_of<tflite::LeakyReluOptionsT>(*ctx.op).alpha; }
  void run(const float* in, float* out, int64_t n) const {
    const float a = alpha;
    map_loop(in, out, n, [a](float x) { return x > 0.0f ? x : x * a; });
  }
};
struct EluOp : NoOptions {
  void run(const float* in, float* out, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) out[i] = in[i] < 0.0f ? std::expm1(in[i]) : in[i];
  }
};
struct GeluOp {
  bool approximate = false;
  void setup(const OpContext& ctx) { approximate = options_of<tflite::GeluOptionsT>(*ctx.op).approximate; }
  // TFLite's formulas (the erfc form of the exact GELU, which is stable for x << 0),
  // evaluated in double and rounded once.
  void run(const float* in, float* out, int64_t n) const {
    constexpr double kSqrt2OverPi = 0.79788456080286535588;
    constexpr double kSqrtHalf = 0.70710678118654752440;
    for (int64_t i = 0; i < n; ++i) {
      const double x = in[i];
      out[i] = static_cast<float>(approximate ? 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)))
                                              : 0.5 * x * std::erfc(-x * kSqrtHalf));
    }
  }
};

template <class Op>
class UnaryKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(1, 1, 1);
    ctx.expect_dtype(ctx.in(0), DType::kFloat32, "the input");
    ctx.expect_dtype(ctx.out(), DType::kFloat32, "the output");
    ctx.expect_shape(ctx.out(), ctx.in(0).shape, "the output");
    const TensorData& t = ctx.in(0);
    if (t.constant && t.bytes != static_cast<size_t>(t.size()) * sizeof(float))
      ctx.fail("constant input holds " + std::to_string(t.bytes) + " bytes, expected " + std::to_string(t.size() * sizeof(float)));
    op_.setup(ctx);
  }
  void eval(OpContext& ctx) const override {
    const float* in = ctx.in(0).as<float>();
    float* out = ctx.out().as<float>();
    for_tiles(ctx, ctx.out().size(), kTile, [&](int64_t b, int64_t e) { op_.run(in + b, out + b, e - b); });
  }

 private:
  Op op_;
};

}  // namespace

void register_elementwise_kernels(KernelRegistry& r) {
  auto binary = [&r]<class Op>(Op) { r.add_builtin(Op::kOp, make_factory<BinaryKernel<Op>>()); };
  binary(AddOp{});
  binary(SubOp{});
  binary(MulOp{});
  binary(DivOp{});
  binary(MaximumOp{});
  binary(MinimumOp{});
  binary(SquaredDifferenceOp{});
  binary(PreluOp{});

  r.add_builtin(BuiltinOperator::LOGISTIC, make_factory<UnaryKernel<LogisticOp>>());
  r.add_builtin(BuiltinOperator::TANH, make_factory<UnaryKernel<TanhOp>>());
  r.add_builtin(BuiltinOperator::RELU, make_factory<UnaryKernel<ReluOp>>());
  r.add_builtin(BuiltinOperator::RELU6, make_factory<UnaryKernel<Relu6Op>>());
  r.add_builtin(BuiltinOperator::RELU_N1_TO_1, make_factory<UnaryKernel<ReluN1To1Op>>());
  r.add_builtin(BuiltinOperator::RELU_0_TO_1, make_factory<UnaryKernel<Relu0To1Op>>());
  r.add_builtin(BuiltinOperator::LEAKY_RELU, make_factory<UnaryKernel<LeakyReluOp>>());
  r.add_builtin(BuiltinOperator::HARD_SWISH, make_factory<UnaryKernel<HardSwishOp>>());
  r.add_builtin(BuiltinOperator::EXP, make_factory<UnaryKernel<ExpOp>>());
  r.add_builtin(BuiltinOperator::LOG, make_factory<UnaryKernel<LogOp>>());
  r.add_builtin(BuiltinOperator::NEG, make_factory<UnaryKernel<NegOp>>());
  r.add_builtin(BuiltinOperator::ABS, make_factory<UnaryKernel<AbsOp>>());
  r.add_builtin(BuiltinOperator::SQRT, make_factory<UnaryKernel<SqrtOp>>());
  r.add_builtin(BuiltinOperator::RSQRT, make_factory<UnaryKernel<RsqrtOp>>());
  r.add_builtin(BuiltinOperator::SQUARE, make_factory<UnaryKernel<SquareOp>>());
  r.add_builtin(BuiltinOperator::ELU, make_factory<UnaryKernel<EluOp>>());
  r.add_builtin(BuiltinOperator::GELU, make_factory<UnaryKernel<GeluOp>>());
}

}  // namespace qcal
