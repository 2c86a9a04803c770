// The op table is the one source of truth for what an int8 model may contain: every op it
// quantizes must have an integer kernel in qcal's executor (and, checked by
// interop.op_table_has_litert_proof, a single-op model run in LiteRT).
#include <gtest/gtest.h>

#include "qcal/kernel.h"
#include "qcal/op_table.h"

namespace qcal {
namespace {

using B = tflite::BuiltinOperator;

TEST(OpTable, EveryInt8OpHasAnIntegerKernel) {
  const KernelRegistry& registry = KernelRegistry::global();
  int int8_ops = 0;
  for (const auto& [code, info] : op_quant_table()) {
    if (!info->int8) continue;
    ++int8_ops;
    OpCode op{code, "", 1};
    // QUANTIZE and DEQUANTIZE convert between the worlds: float-table kernels of every type.
    const bool conversion = code == static_cast<int32_t>(B::QUANTIZE) || code == static_cast<int32_t>(B::DEQUANTIZE);
    EXPECT_NE(registry.find(op, conversion ? Numerics::kFloat : Numerics::kInt8), nullptr)
        << info->name << " is int8 in the op table but qcal has no integer kernel for it";
  }
  EXPECT_GT(int8_ops, 20);
}

TEST(OpTable, OpsWithoutProvenInt8KernelsStayFloat) {
  // LiteRT refused these at the versions qcal used to write (NEG v2, PRELU v2), or qcal has
  // no integer kernel for them: they must never be written as int8.
  for (B op : {B::NEG, B::ABS, B::RSQRT, B::REDUCE_MAX, B::REDUCE_MIN, B::BATCH_MATMUL, B::MIRROR_PAD,
               B::L2_NORMALIZATION, B::LOG_SOFTMAX, B::BATCH_TO_SPACE_ND, B::SPACE_TO_BATCH_ND})
    EXPECT_FALSE(op_quant_info(OpCode{static_cast<int32_t>(op), "", 1}).int8) << tflite::EnumNameBuiltinOperator(op);
  EXPECT_EQ(op_quant_info(OpCode{static_cast<int32_t>(B::PRELU), "", 1}).int8_version, 1);
}

TEST(OpTable, ConversionVersionsFollowTheirInputType) {
  Subgraph sg;
  for (DType d : {DType::kFloat32, DType::kInt8, DType::kUInt8, DType::kInt8}) {
    Tensor t;
    t.dtype = d;
    sg.tensors.push_back(t);
  }
  Operator q;
  q.code = OpCode{static_cast<int32_t>(B::QUANTIZE), "", 1};
  q.inputs = {0};
  q.outputs = {1};
  EXPECT_EQ(quantized_op_version(q, sg), 1);  // float -> int8
  q.inputs = {1};
  q.outputs = {2};
  EXPECT_EQ(quantized_op_version(q, sg), 2);  // int8 -> uint8
  Operator d = q;
  d.code.builtin = static_cast<int32_t>(B::DEQUANTIZE);
  d.inputs = {3};
  EXPECT_EQ(quantized_op_version(d, sg), 2);
  d.inputs = {2};
  EXPECT_EQ(quantized_op_version(d, sg), 1);
}

}  // namespace
}  // namespace qcal
