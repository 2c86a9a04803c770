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

// RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR on int8 (one scale in and out): up- and
// downscaling, x2 (segmentation decoders), channel counts below and above XNNPACK's
// 8/16-channel tiles, and 1-pixel outputs.
template <typename OptionsT>
void resize(ModelBuilder& b, tflite::BuiltinOperator op, const Shape& in, int oh, int ow, Quantization q, bool align_corners,
            bool half_pixel) {
  const int x = b.input(DType::kInt8, in, q);
  const int size = b.constant_i32({2}, {oh, ow});
  const int y = b.tensor(DType::kInt8, {in[0], oh, ow, in[3]}, q);
  OptionsT o;
  o.align_corners = align_corners;
  o.half_pixel_centers = half_pixel;
  b.op(op, {x, size}, {y}, o);
  b.output(y);
}
void bilinear(ModelBuilder& b, const Shape& in, int oh, int ow, bool align_corners, bool half_pixel) {
  resize<tflite::ResizeBilinearOptionsT>(b, B::RESIZE_BILINEAR, in, oh, ow, q8(0.02f, 10), align_corners, half_pixel);
}
void nearest(ModelBuilder& b, const Shape& in, int oh, int ow, bool align_corners, bool half_pixel) {
  resize<tflite::ResizeNearestNeighborOptionsT>(b, B::RESIZE_NEAREST_NEIGHBOR, in, oh, ow, q8(0.05f, -7), align_corners,
                                                half_pixel);
}
const bool kResize = register_op_model("resize_bilinear_int8", [](ModelBuilder& b) { bilinear(b, {1, 5, 7, 3}, 12, 9, false, false); });
const bool kResizeHalf = register_op_model("resize_bilinear_half_pixel_int8", [](ModelBuilder& b) { bilinear(b, {1, 5, 7, 3}, 12, 9, false, true); });
const bool kResizeAlign = register_op_model("resize_bilinear_align_corners_int8", [](ModelBuilder& b) { bilinear(b, {1, 5, 7, 3}, 12, 9, true, false); });
const bool kResizeX2 = register_op_model("resize_bilinear_x2_half_pixel_int8", [](ModelBuilder& b) { bilinear(b, {1, 8, 8, 24}, 16, 16, false, true); });
const bool kResizeX2Align = register_op_model("resize_bilinear_x2_align_corners_int8", [](ModelBuilder& b) { bilinear(b, {2, 6, 5, 16}, 11, 9, true, false); });
const bool kResizeDown = register_op_model("resize_bilinear_down_int8", [](ModelBuilder& b) { bilinear(b, {1, 17, 13, 5}, 7, 6, false, false); });
const bool kResizeDownHalf = register_op_model("resize_bilinear_down_half_pixel_int8", [](ModelBuilder& b) { bilinear(b, {1, 17, 13, 9}, 7, 6, false, true); });
const bool kResizeOnePixel = register_op_model("resize_bilinear_one_pixel_align_corners_int8", [](ModelBuilder& b) { bilinear(b, {1, 4, 6, 3}, 1, 5, true, false); });
const bool kNearest = register_op_model("resize_nearest_int8", [](ModelBuilder& b) { nearest(b, {1, 5, 7, 3}, 12, 9, false, false); });
const bool kNearestHalf = register_op_model("resize_nearest_half_pixel_int8", [](ModelBuilder& b) { nearest(b, {1, 5, 7, 3}, 12, 9, false, true); });
const bool kNearestAlign = register_op_model("resize_nearest_align_corners_int8", [](ModelBuilder& b) { nearest(b, {1, 5, 7, 3}, 12, 9, true, false); });
const bool kNearestBoth = register_op_model("resize_nearest_align_corners_half_pixel_int8", [](ModelBuilder& b) { nearest(b, {1, 5, 7, 3}, 12, 9, true, true); });
const bool kNearestDown = register_op_model("resize_nearest_down_int8", [](ModelBuilder& b) { nearest(b, {2, 17, 13, 16}, 7, 6, false, false); });
const bool kNearestX2 = register_op_model("resize_nearest_x2_int8", [](ModelBuilder& b) { nearest(b, {1, 8, 8, 24}, 16, 16, false, true); });

}  // namespace
}  // namespace qcal::test
