// SQUEEZE and EXPAND_DIMS with a static output shape, written as RESHAPE: the same bytes, but
// LiteRT's XNNPACK delegate takes RESHAPE (float32 and int8 with one scale in and out) and
// neither of the others (its EXPAND_DIMS visitor refuses every type), so each one cut the
// delegated graph in two and ran on TFLite's kernels (a classifier's last SQUEEZE, the
// EXPAND_DIMS/SQUEEZE pairs around the 2-D convolutions of 1-D models).
#include "qcal/op_table.h"
#include "rewrite_util.h"

namespace qcal::rewrite {

int squeezes_as_reshape(Model& m, Subgraph& sg) {
  using B = tflite::BuiltinOperator;
  int rewritten = 0;
  for (Operator& op : sg.operators) {
    if ((op.builtin() != B::SQUEEZE && op.builtin() != B::EXPAND_DIMS) || op.inputs.empty() || op.inputs[0] < 0 ||
        op.outputs.size() != 1 || op.outputs[0] < 0)
      continue;
    const Tensor& out = sg.tensors[op.outputs[0]];
    const Tensor& in = sg.tensors[op.inputs[0]];
    bool dynamic = out.shape.empty() || out.dtype == DType::kString;
    for (int32_t d : out.shape_signature) dynamic = dynamic || d < 0;
    for (int32_t d : in.shape_signature) dynamic = dynamic || d < 0;
    if (dynamic || num_elements(out.shape) != num_elements(in.shape)) continue;
    const Shape target = out.shape;
    const DType dtype = out.dtype;
    // (adding a tensor invalidates `out` and `in`)
    const int shape = add_int32_constant(m, sg, out.name + "/shape", target);
    op.code = OpCode{static_cast<int32_t>(B::RESHAPE), "", 1};
    op.inputs = {op.inputs[0], shape};
    tflite::ReshapeOptionsT o;
    o.new_shape = target;
    op.options.Set(std::move(o));
    if (dtype != DType::kFloat32) op.code.version = quantized_op_version(op, sg);
    ++rewritten;
  }
  return rewritten;
}

}  // namespace qcal::rewrite
