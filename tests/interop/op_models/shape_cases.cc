// Ops that move int8 values without arithmetic (one scale in and out) and int8 resize.
#include "op_models.h"

namespace qcal::test {
namespace {

using B = tflite::BuiltinOperator;

const bool kPad = register_op_model("pad_int8", [](ModelBuilder& b) {
  const int x = b.input(DType::kInt8, {1, 5, 6, 3}, q8(0.05f, -3));
  const int pads = b.constant_i32({4, 2}, {0, 0, 1, 2, 2, 1, 0, 0});
  const int y = b.tensor(DType::kInt8, {1, 8, 9, 3}, q8(0.05f, -3));
  b.op(B::PAD, {x, pads}, {y});
  b.output(y);
});

const bool kConcat = register_op_model("concatenation_int8", [](ModelBuilder& b) {
  const int x = b.input(DType::kInt8, {1, 4, 4, 3}, q8(0.1f, 5));
  const int z = b.input(DType::kInt8, {1, 4, 4, 5}, q8(0.1f, 5));
  const int y = b.tensor(DType::kInt8, {1, 4, 4, 8}, q8(0.1f, 5));
  tflite::ConcatenationOptionsT o;
  o.axis = 3;
  b.op(B::CONCATENATION, {x, z}, {y}, o);
  b.output(y);
});

const bool kReshape = register_op_model("reshape_int8", [](ModelBuilder& b) {
  const int x = b.input(DType::kInt8, {1, 4, 4, 3}, q8(0.1f, 5));
  const int shape = b.constant_i32({2}, {1, 48});
  const int y = b.tensor(DType::kInt8, {1, 48}, q8(0.1f, 5));
  b.op(B::RESHAPE, {x, shape}, {y});
  b.output(y);
});

void resize(ModelBuilder& b, bool align_corners, bool half_pixel) {
  const int x = b.input(DType::kInt8, {1, 5, 7, 3}, q8(0.02f, 10));
  const int size = b.constant_i32({2}, {12, 9});
  const int y = b.tensor(DType::kInt8, {1, 12, 9, 3}, q8(0.02f, 10));
  tflite::ResizeBilinearOptionsT o;
  o.align_corners = align_corners;
  o.half_pixel_centers = half_pixel;
  b.op(B::RESIZE_BILINEAR, {x, size}, {y}, o);
  b.output(y);
}
const bool kResize = register_op_model("resize_bilinear_int8", [](ModelBuilder& b) { resize(b, false, false); });
const bool kResizeHalf = register_op_model("resize_bilinear_half_pixel_int8", [](ModelBuilder& b) { resize(b, false, true); });
const bool kResizeAlign = register_op_model("resize_bilinear_align_corners_int8", [](ModelBuilder& b) { resize(b, true, false); });

}  // namespace
}  // namespace qcal::test
