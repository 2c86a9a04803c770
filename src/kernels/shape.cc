// Data-movement ops: reshapes, concatenation and splitting, slicing, padding, transposes,
// gathers and depth/space rearrangements.
//
// These kernels never look at element values (except CONCATENATION's float activation), so
// they work on bytes with the element size of the tensor's dtype and serve every type that
// has a fixed element size. Each is registered in the float table and in the int8 table;
// in the int8 table the quantized tensors they move between must share scale and zero point,
// as TFLite requires for these ops (a byte copy cannot requantize).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "qcal/kernel.h"

namespace qcal {
namespace {

using BOp = tflite::BuiltinOperator;

// ---- helpers ------------------------------------------------------------------------------

size_t element_size(const OpContext& ctx, const TensorData& t, const char* role) {
  const size_t s = dtype_size(t.dtype);
  if (s == 0) ctx.fail(std::string(role) + " has type " + dtype_name(t.dtype) + ", which this op does not support");
  return s;
}

int64_t product(const Shape& s, int begin, int end) {
  int64_t p = 1;
  for (int i = begin; i < end; ++i) p *= s[i];
  return p;
}

std::string str(int64_t v) { return std::to_string(v); }

// The values of a constant int32/int64 tensor (shape arguments: axes, sizes, paddings).
std::vector<int64_t> constant_ints(const OpContext& ctx, int input, const char* role) {
  ctx.expect_constant(input, role);
  const TensorData& t = ctx.in(input);
  const int64_t n = t.size();
  std::vector<int64_t> v(static_cast<size_t>(n));
  if (t.dtype == DType::kInt32) {
    if (t.bytes < static_cast<size_t>(n) * 4) ctx.fail(std::string(role) + " has too little data");
    for (int64_t i = 0; i < n; ++i) v[i] = t.as<int32_t>()[i];
  } else if (t.dtype == DType::kInt64) {
    if (t.bytes < static_cast<size_t>(n) * 8) ctx.fail(std::string(role) + " has too little data");
    for (int64_t i = 0; i < n; ++i) v[i] = t.as<int64_t>()[i];
  } else {
    ctx.fail(std::string(role) + " must be int32 or int64, is " + dtype_name(t.dtype));
  }
  return v;
}

// A scalar (or one-element) constant axis, normalized to [0, rank).
int constant_axis(const OpContext& ctx, int input, int rank, const char* role) {
  const std::vector<int64_t> v = constant_ints(ctx, input, role);
  if (v.size() != 1) ctx.fail(std::string(role) + " must have one element, has " + str(v.size()));
  const int64_t a = v[0] < 0 ? v[0] + rank : v[0];
  if (a < 0 || a >= rank) ctx.fail(std::string(role) + " " + str(v[0]) + " is out of range for rank " + str(rank));
  return static_cast<int>(a);
}

int normalize_axis(const OpContext& ctx, int64_t axis, int rank, const char* what) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) ctx.fail(std::string(what) + " " + str(axis) + " is out of range for rank " + str(rank));
  return static_cast<int>(a);
}

bool same_quantization(const Quantization* a, const Quantization* b) {
  const bool qa = a && a->has_scale(), qb = b && b->has_scale();
  if (!qa || !qb) return qa == qb;
  auto zp = [](const Quantization* q) { return q->zero_point.empty() ? std::vector<int64_t>{0} : q->zero_point; };
  return a->scale == b->scale && zp(a) == zp(b);
}

// Copies `out[i_0, ..., i_{n-1}] = in[base + sum_k i_k * step_k]` for an index space of
// dims `count`; the output is written contiguously. Steps are in elements and may be
// negative. Used by SLICE, STRIDED_SLICE and TRANSPOSE.
void strided_copy(const uint8_t* in, uint8_t* out, size_t esize, int64_t base, std::vector<int64_t> count,
                  std::vector<int64_t> step) {
  // Drop unit dims and merge neighbours that are contiguous in the input, so the innermost
  // loop is as long as possible (a plain slice becomes one memcpy per row).
  std::vector<int64_t> c, s;
  for (size_t k = 0; k < count.size(); ++k) {
    if (count[k] == 0) return;
    if (count[k] == 1) continue;
    if (!c.empty() && s.back() == step[k] * count[k]) {
      c.back() *= count[k];
      s.back() = step[k];
    } else {
      c.push_back(count[k]);
      s.push_back(step[k]);
    }
  }
  if (c.empty()) {
    std::memcpy(out, in + base * static_cast<int64_t>(esize), esize);
    return;
  }
  const int n = static_cast<int>(c.size());
  const int64_t inner = c[n - 1], inner_step = s[n - 1];
  std::vector<int64_t> idx(n, 0);
  int64_t offset = base;  // input element offset of the current row
  const int64_t e = static_cast<int64_t>(esize);
  for (;;) {
    const uint8_t* src = in + offset * e;
    if (inner_step == 1) {
      std::memcpy(out, src, inner * esize);
    } else {
      switch (esize) {
        case 1: for (int64_t i = 0; i < inner; ++i) out[i] = src[i * inner_step]; break;
        case 2: for (int64_t i = 0; i < inner; ++i) std::memcpy(out + 2 * i, src + 2 * i * inner_step, 2); break;
        case 4: for (int64_t i = 0; i < inner; ++i) std::memcpy(out + 4 * i, src + 4 * i * inner_step, 4); break;
        case 8: for (int64_t i = 0; i < inner; ++i) std::memcpy(out + 8 * i, src + 8 * i * inner_step, 8); break;
        default: for (int64_t i = 0; i < inner; ++i) std::memcpy(out + e * i, src + e * i * inner_step, esize); break;
      }
    }
    out += inner * e;
    // Odometer over the outer dims.
    int k = n - 2;
    for (; k >= 0; --k) {
      offset += s[k];
      if (++idx[k] < c[k]) break;
      offset -= s[k] * c[k];
      idx[k] = 0;
    }
    if (k < 0) return;
  }
}

// Row-major strides (in elements) of a shape.
std::vector<int64_t> strides_of(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

// Base of every kernel here: knows whether it serves the int8 table and checks that the
// tensors it moves data between agree on type (and quantization, for the int8 table).
class MoveKernel : public OpKernel {
 public:
  explicit MoveKernel(bool quantized) : quantized_(quantized) {}

 protected:
  size_t expect_same_type(const OpContext& ctx, const TensorData& in, const TensorData& out, const char* in_role,
                          const char* out_role = "output") const {
    if (in.dtype != out.dtype)
      ctx.fail(std::string(in_role) + " is " + dtype_name(in.dtype) + " but " + out_role + " is " + dtype_name(out.dtype));
    if (quantized_ && !same_quantization(in.quant, out.quant))
      ctx.fail(std::string(in_role) + " and " + out_role +
               " must share scale and zero point (this op moves quantized values without requantizing)");
    return element_size(ctx, in, in_role);
  }
  void expect_shape(const OpContext& ctx, const TensorData& t, const Shape& want, const char* role) const {
    if (t.shape != want) ctx.fail(std::string(role) + " has shape " + shape_str(t.shape) + ", expected " + shape_str(want));
  }
  // Inputs that are constants point at the model's buffer, whose size the reader checked;
  // still, never copy more than is there.
  void expect_bytes(const OpContext& ctx, const TensorData& t, size_t esize, const char* role) const {
    if (t.bytes < static_cast<size_t>(t.size()) * esize) ctx.fail(std::string(role) + " has too little data for its shape");
  }

  bool quantized_;
};

// ---- RESHAPE, SQUEEZE, EXPAND_DIMS: same bytes, new shape ----------------------------------

// The output shape is the file's (shapes are static); the op is a copy.
class ReshapeKernel : public MoveKernel {
 public:
  using MoveKernel::MoveKernel;
  void prepare(OpContext& ctx) override {
    check_io(ctx);
    const size_t es = expect_same_type(ctx, ctx.in(0), ctx.out(), "input");
    expect_bytes(ctx, ctx.in(0), es, "input");
    if (ctx.in(0).size() != ctx.out().size())
      ctx.fail("input " + shape_str(ctx.in(0).shape) + " and output " + shape_str(ctx.out().shape) +
               " have different element counts");
    check_shape(ctx);
  }
  void eval(OpContext& ctx) const override { std::memcpy(ctx.out().data, ctx.in(0).data, ctx.out().bytes); }

 protected:
  virtual void check_io(OpContext& ctx) { ctx.expect_io(1, 2, 1); }
  virtual void check_shape(OpContext& ctx) {}
};

class SqueezeKernel : public ReshapeKernel {
 public:
  using ReshapeKernel::ReshapeKernel;

 protected:
  void check_io(OpContext& ctx) override { ctx.expect_io(1, 1, 1); }
  void check_shape(OpContext& ctx) override {
    const auto& dims = options_of<tflite::SqueezeOptionsT>(*ctx.op).squeeze_dims;
    const Shape& in = ctx.in(0).shape;
    const int rank = static_cast<int>(in.size());
    std::vector<bool> drop(rank, false);
    if (dims.empty()) {
      for (int i = 0; i < rank; ++i) drop[i] = in[i] == 1;
    } else {
      for (int32_t d : dims) {
        const int a = normalize_axis(ctx, d, rank, "squeeze dim");
        if (in[a] != 1) ctx.fail("squeeze dim " + str(d) + " has size " + str(in[a]) + ", not 1");
        drop[a] = true;
      }
    }
    Shape want;
    for (int i = 0; i < rank; ++i)
      if (!drop[i]) want.push_back(in[i]);
    expect_shape(ctx, ctx.out(), want, "output");
  }
};

class ExpandDimsKernel : public ReshapeKernel {
 public:
  using ReshapeKernel::ReshapeKernel;

 protected:
  void check_io(OpContext& ctx) override { ctx.expect_io(2, 2, 1); }
  void check_shape(OpContext& ctx) override {
    if (!ctx.in(1).constant) return;  // the element-count check is all we can do
    const Shape& in = ctx.in(0).shape;
    const int a = constant_axis(ctx, 1, static_cast<int>(in.size()) + 1, "axis");
    Shape want = in;
    want.insert(want.begin() + a, 1);
    expect_shape(ctx, ctx.out(), want, "output");
  }
};

// ---- CONCATENATION ------------------------------------------------------------------------

void apply_activation(float* p, int64_t n, tflite::ActivationFunctionType act) {
  using A = tflite::ActivationFunctionType;
  switch (act) {
    case A::NONE: break;
    case A::RELU: for (int64_t i = 0; i < n; ++i) p[i] = std::max(p[i], 0.0f); break;
    case A::RELU_N1_TO_1: for (int64_t i = 0; i < n; ++i) p[i] = std::min(std::max(p[i], -1.0f), 1.0f); break;
    case A::RELU6: for (int64_t i = 0; i < n; ++i) p[i] = std::min(std::max(p[i], 0.0f), 6.0f); break;
    case A::TANH: for (int64_t i = 0; i < n; ++i) p[i] = std::tanh(p[i]); break;
    case A::SIGN_BIT: for (int64_t i = 0; i < n; ++i) p[i] = std::signbit(p[i]) ? 1.0f : 0.0f; break;
  }
}

bool known_activation(tflite::ActivationFunctionType act) {
  return static_cast<int>(act) >= 0 && static_cast<int>(act) <= static_cast<int>(tflite::ActivationFunctionType::SIGN_BIT);
}

class ConcatenationKernel : public MoveKernel {
 public:
  using MoveKernel::MoveKernel;
  void prepare(OpContext& ctx) override {
    const int n = ctx.num_inputs();
    ctx.expect_io(1, n, 1);
    const auto& opt = options_of<tflite::ConcatenationOptionsT>(*ctx.op);
    const TensorData& out = ctx.out();
    const int rank = out.rank();
    if (rank == 0) ctx.fail("output must have rank >= 1");
    axis_ = normalize_axis(ctx, opt.axis, rank, "axis");
    act_ = opt.fused_activation_function;
    if (!known_activation(act_)) ctx.fail("unknown fused activation " + str(static_cast<int>(act_)));
    if (act_ != tflite::ActivationFunctionType::NONE && out.dtype != DType::kFloat32)
      ctx.fail("a fused activation is only supported for float32 outputs");
    int64_t sum = 0;
    rescale_.clear();
    for (int i = 0; i < n; ++i) {
      if (!ctx.has_input(i)) ctx.fail("input " + str(i) + " is absent");
      const TensorData& in = ctx.in(i);
      const std::string role = "input " + str(i);
      rescale_.push_back(legacy_rescale(ctx, in, out, role.c_str()));
      esize_ = rescale_.back().active ? 1 : expect_same_type(ctx, in, out, role.c_str());
      expect_bytes(ctx, in, esize_, role.c_str());
      if (in.rank() != rank) ctx.fail(role + " has shape " + shape_str(in.shape) + ", output " + shape_str(out.shape));
      for (int d = 0; d < rank; ++d)
        if (d != axis_ && in.shape[d] != out.shape[d])
          ctx.fail(role + " has shape " + shape_str(in.shape) + ", incompatible with output " + shape_str(out.shape) +
                   " on axis " + str(axis_));
      sum += in.shape[axis_];
    }
    if (sum != out.shape[axis_])
      ctx.fail("inputs add up to " + str(sum) + " along axis " + str(axis_) + ", output has " + str(out.shape[axis_]));
    outer_ = product(out.shape, 0, axis_);
    inner_ = product(out.shape, axis_ + 1, rank);
  }

  // TFLite's uint8 concatenation requantizes inputs whose scale or zero point differ from the
  // output's (ConcatenationWithScaling, float arithmetic on the uint8 codes); int8 forbids it.
  // Ops lowered from uint8 (legacy_uint8, codes shifted by -128) keep that behaviour.
  struct Rescale {
    bool active = false;
    float scale = 0.0f, bias = 0.0f;
    int32_t out_zp = 0;  // uint8 zero point
    void run(const int8_t* in, size_t n, int8_t* out) const {
      for (size_t j = 0; j < n; ++j) {
        const float x = static_cast<float>(in[j] + 128) * scale + bias;
        const int32_t v = static_cast<int32_t>(std::round(x)) + out_zp;
        out[j] = static_cast<int8_t>(std::clamp(v, 0, 255) - 128);
      }
    }
  };
  Rescale legacy_rescale(const OpContext& ctx, const TensorData& in, const TensorData& out, const char* role) const {
    Rescale r;
    if (!quantized_ || !ctx.op->legacy_uint8 || same_quantization(in.quant, out.quant)) return r;
    if (in.dtype != DType::kInt8 || out.dtype != DType::kInt8 || !in.quant || !out.quant || in.quant->per_axis() ||
        out.quant->per_axis() || !(in.scale() > 0.0f) || !(out.scale() > 0.0f))
      ctx.fail(std::string(role) + " and output: a uint8 concatenation can only rescale per-tensor quantized inputs");
    r.active = true;
    r.scale = in.scale() * (1.0f / out.scale());
    r.bias = -static_cast<float>(in.zero_point() + 128) * r.scale;
    r.out_zp = out.zero_point() + 128;
    return r;
  }
  void eval(OpContext& ctx) const override {
    uint8_t* dst = ctx.out().data;
    const int n = ctx.num_inputs();
    for (int64_t o = 0; o < outer_; ++o)
      for (int i = 0; i < n; ++i) {
        const TensorData& in = ctx.in(i);
        const size_t chunk = static_cast<size_t>(in.shape[axis_] * inner_) * esize_;
        if (rescale_[i].active) rescale_[i].run(reinterpret_cast<const int8_t*>(in.data + o * chunk), chunk, reinterpret_cast<int8_t*>(dst));
        else std::memcpy(dst, in.data + o * chunk, chunk);
        dst += chunk;
      }
    if (act_ != tflite::ActivationFunctionType::NONE) apply_activation(ctx.out().as<float>(), ctx.out().size(), act_);
  }

 private:
  int axis_ = 0;
  int64_t outer_ = 1, inner_ = 1;
  size_t esize_ = 4;
  std::vector<Rescale> rescale_;  // per input
  tflite::ActivationFunctionType act_ = tflite::ActivationFunctionType::NONE;
};

// ---- SPLIT, SPLIT_V, UNPACK: one input cut along an axis ----------------------------------

// Shared by the three: the outputs' sizes along `axis_` and a copy loop.
class CutKernel : public MoveKernel {
 public:
  using MoveKernel::MoveKernel;
  void eval(OpContext& ctx) const override {
    const uint8_t* src = ctx.in(data_).data;
    for (int64_t o = 0; o < outer_; ++o)
      for (size_t k = 0; k < sizes_.size(); ++k) {
        const size_t chunk = static_cast<size_t>(sizes_[k] * inner_) * esize_;
        std::memcpy(ctx.out(static_cast<int>(k)).data + o * chunk, src, chunk);
        src += chunk;
      }
  }

 protected:
  // Checks the outputs against the input cut into `sizes` along `axis`; with `drop_axis`
  // (UNPACK) the outputs lack that axis.
  void setup(OpContext& ctx, int data, int axis, std::vector<int64_t> sizes, bool drop_axis) {
    data_ = data;
    axis_ = axis;
    sizes_ = std::move(sizes);
    const TensorData& in = ctx.in(data);
    if (static_cast<size_t>(ctx.outputs.size()) != sizes_.size())
      ctx.fail("has " + str(ctx.outputs.size()) + " outputs, expected " + str(sizes_.size()));
    for (size_t k = 0; k < sizes_.size(); ++k) {
      const std::string role = "output " + str(k);
      esize_ = expect_same_type(ctx, in, ctx.out(static_cast<int>(k)), "input", role.c_str());
      Shape want = in.shape;
      if (drop_axis) want.erase(want.begin() + axis);
      else want[axis] = static_cast<int32_t>(sizes_[k]);
      expect_shape(ctx, ctx.out(static_cast<int>(k)), want, role.c_str());
    }
    expect_bytes(ctx, in, esize_, "input");
    outer_ = product(in.shape, 0, axis);
    inner_ = product(in.shape, axis + 1, in.rank());
  }

  int data_ = 0, axis_ = 0;
  std::vector<int64_t> sizes_;
  int64_t outer_ = 1, inner_ = 1;
  size_t esize_ = 4;
};

// SPLIT: inputs (axis, value); num_splits equal parts.
class SplitKernel : public CutKernel {
 public:
  using CutKernel::CutKernel;
  void prepare(OpContext& ctx) override {
    ctx.expect_io(2, 2, -1);
    const TensorData& in = ctx.in(1);
    const int axis = constant_axis(ctx, 0, in.rank(), "axis");
    const int n = options_of<tflite::SplitOptionsT>(*ctx.op).num_splits;
    if (n <= 0) ctx.fail("num_splits must be positive, is " + str(n));
    if (in.shape[axis] % n != 0) ctx.fail("axis size " + str(in.shape[axis]) + " is not divisible by num_splits " + str(n));
    setup(ctx, 1, axis, std::vector<int64_t>(n, in.shape[axis] / n), false);
  }
};

// SPLIT_V: inputs (value, size_splits, axis); one size may be -1 (the rest).
class SplitVKernel : public CutKernel {
 public:
  using CutKernel::CutKernel;
  void prepare(OpContext& ctx) override {
    ctx.expect_io(3, 3, -1);
    const TensorData& in = ctx.in(0);
    const int axis = constant_axis(ctx, 2, in.rank(), "axis");
    std::vector<int64_t> sizes = constant_ints(ctx, 1, "size_splits");
    const int n = options_of<tflite::SplitVOptionsT>(*ctx.op).num_splits;
    if (n != static_cast<int>(sizes.size()))
      ctx.fail("num_splits is " + str(n) + " but size_splits has " + str(sizes.size()) + " elements");
    int64_t known = 0;
    int unknown = -1;
    for (size_t k = 0; k < sizes.size(); ++k) {
      if (sizes[k] == -1) {
        if (unknown >= 0) ctx.fail("size_splits has more than one -1");
        unknown = static_cast<int>(k);
      } else if (sizes[k] < 0) {
        ctx.fail("size_splits has a negative size " + str(sizes[k]));
      } else {
        known += sizes[k];
      }
    }
    if (unknown >= 0) {
      if (known > in.shape[axis]) ctx.fail("size_splits add up to more than the axis size " + str(in.shape[axis]));
      sizes[unknown] = in.shape[axis] - known;
    } else if (known != in.shape[axis]) {
      ctx.fail("size_splits add up to " + str(known) + ", the axis has size " + str(in.shape[axis]));
    }
    setup(ctx, 0, axis, std::move(sizes), false);
  }
};

class UnpackKernel : public CutKernel {
 public:
  using CutKernel::CutKernel;
  void prepare(OpContext& ctx) override {
    ctx.expect_io(1, 1, -1);
    const auto& opt = options_of<tflite::UnpackOptionsT>(*ctx.op);
    const TensorData& in = ctx.in(0);
    if (in.rank() == 0) ctx.fail("input must have rank >= 1");
    const int axis = normalize_axis(ctx, opt.axis, in.rank(), "axis");
    if (opt.num != in.shape[axis]) ctx.fail("num is " + str(opt.num) + " but the axis has size " + str(in.shape[axis]));
    setup(ctx, 0, axis, std::vector<int64_t>(in.shape[axis], 1), true);
  }
};

// ---- PACK ---------------------------------------------------------------------------------

class PackKernel : public MoveKernel {
 public:
  using MoveKernel::MoveKernel;
  void prepare(OpContext& ctx) override {
    const int n = ctx.num_inputs();
    ctx.expect_io(1, n, 1);
    const auto& opt = options_of<tflite::PackOptionsT>(*ctx.op);
    if (opt.values_count != n) ctx.fail("values_count is " + str(opt.values_count) + " but the op has " + str(n) + " inputs");
    const Shape& s0 = ctx.in(0).shape;
    const int axis = normalize_axis(ctx, opt.axis, static_cast<int>(s0.size()) + 1, "axis");
    for (int i = 0; i < n; ++i) {
      if (!ctx.has_input(i)) ctx.fail("input " + str(i) + " is absent");
      const std::string role = "input " + str(i);
      esize_ = expect_same_type(ctx, ctx.in(i), ctx.out(), role.c_str());
      expect_shape(ctx, ctx.in(i), s0, role.c_str());
      expect_bytes(ctx, ctx.in(i), esize_, role.c_str());
    }
    Shape want = s0;
    want.insert(want.begin() + axis, n);
    expect_shape(ctx, ctx.out(), want, "output");
    outer_ = product(s0, 0, axis);
    chunk_ = static_cast<size_t>(product(s0, axis, static_cast<int>(s0.size()))) * esize_;
  }
  void eval(OpContext& ctx) const override {
    uint8_t* dst = ctx.out().data;
    for (int64_t o = 0; o < outer_; ++o)
      for (int i = 0; i < ctx.num_inputs(); ++i) {
        std::memcpy(dst, ctx.in(i).data + o * chunk_, chunk_);
        dst += chunk_;
      }
  }

 private:
  int64_t outer_ = 1;
  size_t chunk_ = 0, esize_ = 4;
};

// ---- SLICE, STRIDED_SLICE, TRANSPOSE: strided reads -------------------------------------

// Shared: a precomputed strided_copy.
class GatherCopyKernel : public MoveKernel {
 public:
  using MoveKernel::MoveKernel;
  void eval(OpContext& ctx) const override { strided_copy(ctx.in(0).data, ctx.out().data, esize_, base_, count_, step_); }

 protected:
  size_t esize_ = 4;
  int64_t base_ = 0;
  std::vector<int64_t> count_, step_;
};

class SliceKernel : public GatherCopyKernel {
 public:
  using GatherCopyKernel::GatherCopyKernel;
  void prepare(OpContext& ctx) override {
    ctx.expect_io(3, 3, 1);
    const TensorData& in = ctx.in(0);
    esize_ = expect_same_type(ctx, in, ctx.out(), "input");
    expect_bytes(ctx, in, esize_, "input");
    const std::vector<int64_t> begin = constant_ints(ctx, 1, "begin"), size = constant_ints(ctx, 2, "size");
    const int rank = in.rank();
    if (static_cast<int>(begin.size()) != rank || static_cast<int>(size.size()) != rank)
      ctx.fail("begin and size must have " + str(rank) + " elements (the input's rank)");
    const std::vector<int64_t> stride = strides_of(in.shape);
    Shape want(rank);
    count_.assign(rank, 0);
    step_ = stride;
    base_ = 0;
    for (int d = 0; d < rank; ++d) {
      const int64_t b = begin[d], dim = in.shape[d];
      const int64_t s = size[d] == -1 ? dim - b : size[d];
      if (b < 0 || s < 0 || b + s > dim)
        ctx.fail("slice [" + str(b) + ", " + str(b) + "+" + str(size[d]) + ") is out of range for axis " + str(d) +
                 " of size " + str(dim));
      want[d] = static_cast<int32_t>(s);
      count_[d] = s;
      base_ += b * stride[d];
    }
    expect_shape(ctx, ctx.out(), want, "output");
  }
};

// STRIDED_SLICE, following TFLite's strided_slice.cc: ellipsis and new axes are first
// expanded into an "effective" input shape (new axes as size-1 dims), then each effective
// axis gets a start and an end by TFLite's StridedSliceStartForAxis/EndForAxis rules
// (negative indices wrap once, then clamp; masks override after clamping; a shrink axis
// takes one element; with `offset`, end = begin + end).
class StridedSliceKernel : public GatherCopyKernel {
 public:
  using GatherCopyKernel::GatherCopyKernel;
  void prepare(OpContext& ctx) override {
    ctx.expect_io(4, 4, 1);
    const TensorData& in = ctx.in(0);
    esize_ = expect_same_type(ctx, in, ctx.out(), "input");
    expect_bytes(ctx, in, esize_, "input");
    const auto& opt = options_of<tflite::StridedSliceOptionsT>(*ctx.op);
    const std::vector<int64_t> begin = constant_ints(ctx, 1, "begin"), end = constant_ints(ctx, 2, "end"),
                               strides = constant_ints(ctx, 3, "strides");
    const int n = static_cast<int>(begin.size());
    if (static_cast<int>(end.size()) != n || static_cast<int>(strides.size()) != n)
      ctx.fail("begin, end and strides must have the same length");
    if (n > 31) ctx.fail("too many slice specs");
    if (__builtin_popcount(static_cast<uint32_t>(opt.ellipsis_mask)) > 1) ctx.fail("ellipsis_mask has more than one bit set");
    const int input_rank = in.rank();

    // Effective dims: the input's plus one per new axis (a new_axis bit on the ellipsis
    // position has no effect).
    int num_add_axis = 0;
    for (int i = 0; i < n; ++i)
      if (!(opt.ellipsis_mask & (1 << i)) && (opt.new_axis_mask & (1 << i))) ++num_add_axis;
    const int eff_dims = input_rank + num_add_axis;
    if (eff_dims > 31) ctx.fail("too many dimensions");

    // Where the ellipsis expands to, and which effective dims are new axes.
    uint32_t eff_ellipsis = 0, eff_new_axis = 0;
    int ellipsis_start = eff_dims, expanded = 0;
    for (int i = 0; i < eff_dims;) {
      if (opt.ellipsis_mask & (1 << i)) {
        ellipsis_start = i;
        const int ellipsis_end = std::max(i + 1, std::min(i + 1 + num_add_axis + input_rank - n, eff_dims));
        expanded = ellipsis_end - ellipsis_start - 1;
        for (; i < ellipsis_end; ++i) eff_ellipsis |= 1u << i;
        continue;
      }
      if (i - expanded >= 0 && (opt.new_axis_mask & (1 << (i - expanded)))) eff_new_axis |= 1u << i;
      ++i;
    }

    // Per effective dim: size, begin/end/stride, masks.
    Shape eff_shape(eff_dims);
    std::vector<int64_t> b(eff_dims, 0), e(eff_dims, 0), st(eff_dims, 1);
    std::vector<bool> bmask(eff_dims, false), emask(eff_dims, false), shrink(eff_dims, false);
    int added_axes = 0, added_ellipsis = 0;
    for (int i = 0; i < eff_dims; ++i) {
      auto input_dim = [&](int k) -> int32_t {
        if (k < 0 || k >= input_rank) ctx.fail("slice specs do not match the input's rank " + str(input_rank));
        return in.shape[k];
      };
      if (eff_ellipsis & (1u << i)) {
        added_ellipsis = std::max(0, i - ellipsis_start);
        bmask[i] = emask[i] = true;
        eff_shape[i] = input_dim(i - added_axes);
      } else if (eff_new_axis & (1u << i)) {
        b[i] = 0, e[i] = 1;
        eff_shape[i] = 1;
        ++added_axes;
      } else if (i >= n + expanded) {
        bmask[i] = emask[i] = true;
        eff_shape[i] = input_dim(i - added_axes);
      } else {
        const int k = i - added_ellipsis;
        if (k < 0 || k >= n) ctx.fail("slice specs do not match the input's rank " + str(input_rank));
        b[i] = begin[k], e[i] = end[k], st[i] = strides[k];
        bmask[i] = opt.begin_mask & (1 << k);
        emask[i] = opt.end_mask & (1 << k);
        shrink[i] = opt.shrink_axis_mask & (1 << k);
        eff_shape[i] = input_dim(i - added_axes);
      }
    }
    if (added_axes != num_add_axis) ctx.fail("ellipsis and new-axis masks are inconsistent");

    // Start/stop per effective dim, then the output shape (shrunk dims removed).
    const std::vector<int64_t> eff_stride = strides_of(eff_shape);
    Shape want;
    count_.assign(eff_dims, 0);
    step_.assign(eff_dims, 0);
    base_ = 0;
    for (int i = 0; i < eff_dims; ++i) {
      const int64_t size = eff_shape[i], stride = st[i];
      if (stride == 0) ctx.fail("stride " + str(i) + " is zero");
      auto clamp = [&](int64_t v) { return stride > 0 ? std::clamp<int64_t>(v, 0, size) : std::clamp<int64_t>(v, -1, size - 1); };
      int64_t start = b[i];
      if (start < 0) start += size;
      start = clamp(start);
      if (bmask[i]) start = stride > 0 ? 0 : size - 1;
      int64_t stop;
      if (shrink[i]) {
        if (start < 0 || start >= size) ctx.fail("shrink-axis index " + str(b[i]) + " is out of range for size " + str(size));
        stop = start + 1;
      } else {
        stop = e[i];
        if (opt.offset) stop += start;
        if (stop < 0) stop += size;
        stop = clamp(stop);
        if (emask[i]) stop = stride > 0 ? size : -1;
      }
      const int64_t span = stop - start;
      const int64_t count = (stride > 0 ? span > 0 : span < 0) ? (std::abs(span) + std::abs(stride) - 1) / std::abs(stride) : 0;
      if (!shrink[i]) want.push_back(static_cast<int32_t>(count));
      count_[i] = shrink[i] ? 1 : count;
      step_[i] = stride * eff_stride[i];
      if (count_[i] > 0) base_ += start * eff_stride[i];
    }
    expect_shape(ctx, ctx.out(), want, "output");
  }
};

class TransposeKernel : public GatherCopyKernel {
 public:
  using GatherCopyKernel::GatherCopyKernel;
  void prepare(OpContext& ctx) override {
    ctx.expect_io(2, 2, 1);
    const TensorData& in = ctx.in(0);
    esize_ = expect_same_type(ctx, in, ctx.out(), "input");
    expect_bytes(ctx, in, esize_, "input");
    const std::vector<int64_t> perm = constant_ints(ctx, 1, "perm");
    const int rank = in.rank();
    if (static_cast<int>(perm.size()) != rank) ctx.fail("perm has " + str(perm.size()) + " elements, the input rank is " + str(rank));
    if (rank > 6) ctx.fail("rank " + str(rank) + " is above the supported 6");
    const std::vector<int64_t> stride = strides_of(in.shape);
    std::vector<bool> seen(rank, false);
    Shape want(rank);
    count_.assign(rank, 0);
    step_.assign(rank, 0);
    base_ = 0;
    for (int d = 0; d < rank; ++d) {
      const int p = normalize_axis(ctx, perm[d], rank, "perm entry");
      if (seen[p]) ctx.fail("perm is not a permutation");
      seen[p] = true;
      want[d] = in.shape[p];
      count_[d] = in.shape[p];
      step_[d] = stride[p];
    }
    expect_shape(ctx, ctx.out(), want, "output");
  }
};

// ---- PAD, PADV2 ---------------------------------------------------------------------------

// Rows: everything after the last padded axis is contiguous in both tensors, so the op is
// a loop over output rows, each either all padding or [pad | input row | pad].
class PadKernel : public MoveKernel {
 public:
  PadKernel(bool quantized, bool v2) : MoveKernel(quantized), v2_(v2) {}
  void prepare(OpContext& ctx) override {
    if (v2_) ctx.expect_io(2, 3, 1);
    else ctx.expect_io(2, 2, 1);
    const TensorData& in = ctx.in(0);
    const TensorData& out = ctx.out();
    esize_ = expect_same_type(ctx, in, out, "input");
    expect_bytes(ctx, in, esize_, "input");
    const int rank = in.rank();
    const std::vector<int64_t> pads = constant_ints(ctx, 1, "paddings");
    if (ctx.in(1).shape != Shape{rank, 2}) ctx.fail("paddings must have shape [" + str(rank) + ",2], has " + shape_str(ctx.in(1).shape));
    Shape want(rank);
    before_.assign(rank, 0);
    for (int d = 0; d < rank; ++d) {
      if (pads[2 * d] < 0 || pads[2 * d + 1] < 0) ctx.fail("negative padding on axis " + str(d));
      before_[d] = pads[2 * d];
      want[d] = static_cast<int32_t>(in.shape[d] + pads[2 * d] + pads[2 * d + 1]);
    }
    expect_shape(ctx, out, want, "output");

    // The pad element: PADV2's constant, the zero point for quantized tensors, else zero.
    value_.assign(esize_, 0);
    has_value_input_ = v2_ && ctx.has_input(2);
    if (has_value_input_) {
      const TensorData& v = ctx.in(2);
      if (v.dtype != in.dtype) ctx.fail("constant_values is " + std::string(dtype_name(v.dtype)) + ", input is " + dtype_name(in.dtype));
      if (v.size() != 1) ctx.fail("constant_values must have one element, has shape " + shape_str(v.shape));
      if (quantized_ && v.quant && v.quant->has_scale() && !same_quantization(v.quant, out.quant))
        ctx.fail("constant_values must share the output's scale and zero point");
    } else if (quantized_) {
      const int32_t zp = out.zero_point();
      switch (out.dtype) {
        case DType::kInt8: { const int8_t z = static_cast<int8_t>(zp); std::memcpy(value_.data(), &z, 1); break; }
        case DType::kUInt8: { const uint8_t z = static_cast<uint8_t>(zp); std::memcpy(value_.data(), &z, 1); break; }
        case DType::kInt16: { const int16_t z = static_cast<int16_t>(zp); std::memcpy(value_.data(), &z, 2); break; }
        default: break;
      }
    }

    // Collapse the trailing unpadded axes into the row.
    int last = rank - 1;
    while (last > 0 && pads[2 * last] == 0 && pads[2 * last + 1] == 0) --last;
    rank_ = std::max(last + 1, 1);
    in_shape_.assign(in.shape.begin(), in.shape.begin() + std::min(rank_, rank));
    out_shape_.assign(out.shape.begin(), out.shape.begin() + std::min(rank_, rank));
    if (rank == 0) in_shape_ = out_shape_ = Shape{1}, before_ = {0};
    const int64_t tail = product(in.shape, rank_, rank);
    in_shape_.back() = static_cast<int32_t>(in_shape_.back() * tail);
    out_shape_.back() = static_cast<int32_t>(out_shape_.back() * tail);
    before_.resize(rank_);
    before_.back() *= tail;
  }

  void eval(OpContext& ctx) const override {
    std::vector<uint8_t> value = value_;
    if (has_value_input_) std::memcpy(value.data(), ctx.in(2).data, esize_);
    const uint8_t* src = ctx.in(0).data;
    uint8_t* dst = ctx.out().data;
    const int n = rank_;
    const int64_t row_out = out_shape_[n - 1], row_in = in_shape_[n - 1], left = before_[n - 1];
    const int64_t right = row_out - row_in - left;
    std::vector<int64_t> idx(n, 0);  // output index over the outer dims
    const int64_t rows = product(out_shape_, 0, n - 1);
    for (int64_t r = 0; r < rows; ++r) {
      bool inside = true;
      for (int k = 0; k < n - 1; ++k)
        if (idx[k] < before_[k] || idx[k] >= before_[k] + in_shape_[k]) inside = false;
      if (inside) {
        fill(dst, left, value);
        std::memcpy(dst + left * esize_, src, row_in * esize_);
        src += row_in * esize_;
        fill(dst + (left + row_in) * esize_, right, value);
      } else {
        fill(dst, row_out, value);
      }
      dst += row_out * esize_;
      for (int k = n - 2; k >= 0; --k) {
        if (++idx[k] < out_shape_[k]) break;
        idx[k] = 0;
      }
    }
  }

 private:
  void fill(uint8_t* p, int64_t n, const std::vector<uint8_t>& v) const {
    if (n <= 0) return;
    if (std::all_of(v.begin(), v.end(), [](uint8_t b) { return b == 0; })) {
      std::memset(p, 0, n * esize_);
    } else if (esize_ == 1) {
      std::memset(p, v[0], n);
    } else {
      for (int64_t i = 0; i < n; ++i) std::memcpy(p + i * esize_, v.data(), esize_);
    }
  }

  bool v2_;
  bool has_value_input_ = false;
  size_t esize_ = 4;
  int rank_ = 1;
  Shape in_shape_, out_shape_;
  std::vector<int64_t> before_;
  std::vector<uint8_t> value_;
};

// ---- GATHER -------------------------------------------------------------------------------

// output = params[batch..., outer..., indices[batch..., coords...], inner...]; TFLite's
// reference Gather with batch_dims.
class GatherKernel : public MoveKernel {
 public:
  using MoveKernel::MoveKernel;
  void prepare(OpContext& ctx) override {
    ctx.expect_io(2, 2, 1);
    const TensorData& params = ctx.in(0);
    const TensorData& idx = ctx.in(1);
    esize_ = expect_same_type(ctx, params, ctx.out(), "params");
    expect_bytes(ctx, params, esize_, "params");
    if (idx.dtype != DType::kInt32 && idx.dtype != DType::kInt64 && idx.dtype != DType::kInt16)
      ctx.fail(std::string("indices must be int16, int32 or int64, is ") + dtype_name(idx.dtype));
    expect_bytes(ctx, idx, dtype_size(idx.dtype), "indices");
    const auto& opt = options_of<tflite::GatherOptionsT>(*ctx.op);
    const int prank = params.rank(), irank = idx.rank();
    if (prank == 0) ctx.fail("params must have rank >= 1");
    const int axis = normalize_axis(ctx, opt.axis, prank, "axis");
    int batch_dims = opt.batch_dims < 0 ? opt.batch_dims + irank : opt.batch_dims;
    if (batch_dims < 0 || batch_dims > irank) ctx.fail("batch_dims " + str(opt.batch_dims) + " is out of range for indices rank " + str(irank));
    if (batch_dims > axis) ctx.fail("batch_dims " + str(batch_dims) + " must not exceed axis " + str(axis));
    for (int d = 0; d < batch_dims; ++d)
      if (params.shape[d] != idx.shape[d]) ctx.fail("params and indices differ in batch dim " + str(d));
    Shape want(params.shape.begin(), params.shape.begin() + axis);
    want.insert(want.end(), idx.shape.begin() + batch_dims, idx.shape.end());
    want.insert(want.end(), params.shape.begin() + axis + 1, params.shape.end());
    expect_shape(ctx, ctx.out(), want, "output");
    batch_ = product(params.shape, 0, batch_dims);
    outer_ = product(params.shape, batch_dims, axis);
    axis_size_ = params.shape[axis];
    inner_bytes_ = static_cast<size_t>(product(params.shape, axis + 1, prank)) * esize_;
    coords_ = product(idx.shape, batch_dims, irank);
  }
  void eval(OpContext& ctx) const override {
    const TensorData& idx = ctx.in(1);
    auto index = [&](int64_t i) -> int64_t {
      switch (idx.dtype) {
        case DType::kInt16: return idx.as<int16_t>()[i];
        case DType::kInt32: return idx.as<int32_t>()[i];
        default: return idx.as<int64_t>()[i];
      }
    };
    const uint8_t* src = ctx.in(0).data;
    uint8_t* dst = ctx.out().data;
    for (int64_t b = 0; b < batch_; ++b)
      for (int64_t o = 0; o < outer_; ++o) {
        const uint8_t* slab = src + (b * outer_ + o) * axis_size_ * inner_bytes_;
        for (int64_t c = 0; c < coords_; ++c) {
          const int64_t k = index(b * coords_ + c);
          if (k < 0 || k >= axis_size_)
            ctx.fail("index " + str(k) + " is out of range [0, " + str(axis_size_) + ")");
          std::memcpy(dst, slab + k * inner_bytes_, inner_bytes_);
          dst += inner_bytes_;
        }
      }
  }

 private:
  size_t esize_ = 4, inner_bytes_ = 0;
  int64_t batch_ = 1, outer_ = 1, axis_size_ = 0, coords_ = 0;
};

// ---- DEPTH_TO_SPACE, SPACE_TO_DEPTH -------------------------------------------------------

// DEPTH_TO_SPACE in TFLite's (DCR) order: out[b, y, x, c] =
// in[b, y / bs, x / bs, ((y % bs) * bs + x % bs) * out_depth + c]. SPACE_TO_DEPTH is the inverse.
class DepthSpaceKernel : public MoveKernel {
 public:
  DepthSpaceKernel(bool quantized, bool to_space) : MoveKernel(quantized), to_space_(to_space) {}
  void prepare(OpContext& ctx) override {
    ctx.expect_io(1, 1, 1);
    const TensorData& in = ctx.in(0);
    esize_ = expect_same_type(ctx, in, ctx.out(), "input");
    expect_bytes(ctx, in, esize_, "input");
    ctx.expect_rank(in, 4, "input");
    bs_ = to_space_ ? options_of<tflite::DepthToSpaceOptionsT>(*ctx.op).block_size
                    : options_of<tflite::SpaceToDepthOptionsT>(*ctx.op).block_size;
    if (bs_ < 1) ctx.fail("block_size must be >= 1, is " + str(bs_));
    const int32_t n = in.shape[0], h = in.shape[1], w = in.shape[2], c = in.shape[3];
    Shape want;
    if (to_space_) {
      if (c % (bs_ * bs_) != 0) ctx.fail("input depth " + str(c) + " is not divisible by block_size^2 = " + str(bs_ * bs_));
      want = {n, h * bs_, w * bs_, c / (bs_ * bs_)};
    } else {
      if (h % bs_ != 0 || w % bs_ != 0) ctx.fail("input height and width must be divisible by block_size " + str(bs_));
      want = {n, h / bs_, w / bs_, c * bs_ * bs_};
    }
    expect_shape(ctx, ctx.out(), want, "output");
  }
  void eval(OpContext& ctx) const override {
    // Both directions move runs of `depth` elements (the smaller depth) between the
    // space-side tensor [n, H, W, depth] and the depth-side tensor [n, H/bs, W/bs, bs*bs*depth].
    const TensorData& space = to_space_ ? ctx.out() : ctx.in(0);
    const Shape& s = space.shape;
    const int64_t n = s[0], H = s[1], W = s[2], depth = s[3];
    const size_t run = static_cast<size_t>(depth) * esize_;
    const uint8_t* src = ctx.in(0).data;
    uint8_t* dst = ctx.out().data;
    const int64_t dh = H / bs_, dw = W / bs_;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const int64_t space_off = ((b * H + y) * W + x) * run;
          const int64_t depth_off = (((b * dh + y / bs_) * dw + x / bs_) * bs_ * bs_ + (y % bs_) * bs_ + x % bs_) * run;
          if (to_space_) std::memcpy(dst + space_off, src + depth_off, run);
          else std::memcpy(dst + depth_off, src + space_off, run);
        }
  }

 private:
  bool to_space_;
  int32_t bs_ = 1;
  size_t esize_ = 4;
};

// ---- registration -------------------------------------------------------------------------

template <typename K, typename... Args>
void add_both(KernelRegistry& r, BOp op, Args... args) {
  r.add_builtin(op, [=] { return std::make_unique<K>(false, args...); }, Numerics::kFloat);
  r.add_builtin(op, [=] { return std::make_unique<K>(true, args...); }, Numerics::kInt8);
}

}  // namespace

void register_shape_kernels(KernelRegistry& r) {
  add_both<ReshapeKernel>(r, BOp::RESHAPE);
  add_both<SqueezeKernel>(r, BOp::SQUEEZE);
  add_both<ExpandDimsKernel>(r, BOp::EXPAND_DIMS);
  add_both<ConcatenationKernel>(r, BOp::CONCATENATION);
  add_both<SplitKernel>(r, BOp::SPLIT);
  add_both<SplitVKernel>(r, BOp::SPLIT_V);
  add_both<SliceKernel>(r, BOp::SLICE);
  add_both<StridedSliceKernel>(r, BOp::STRIDED_SLICE);
  add_both<PadKernel>(r, BOp::PAD, false);
  add_both<PadKernel>(r, BOp::PADV2, true);
  add_both<TransposeKernel>(r, BOp::TRANSPOSE);
  add_both<PackKernel>(r, BOp::PACK);
  add_both<UnpackKernel>(r, BOp::UNPACK);
  add_both<GatherKernel>(r, BOp::GATHER);
  add_both<DepthSpaceKernel>(r, BOp::DEPTH_TO_SPACE, true);
  add_both<DepthSpaceKernel>(r, BOp::SPACE_TO_DEPTH, false);
}

}  // namespace qcal
