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

// Data movement that MediaPipe-style graphs put between int8 ops; each keeps one scale.
const Quantization kMove = q8(0.07f, -9);
const bool kSqueeze = register_op_model("squeeze_int8", [](ModelBuilder& b) {
  const int x = b.input(DType::kInt8, {1, 1, 6, 5}, kMove);
  const int y = b.tensor(DType::kInt8, {1, 6, 5}, kMove);
  tflite::SqueezeOptionsT o;
  o.squeeze_dims = {1};
  b.op(B::SQUEEZE, {x}, {y}, o);
  b.output(y);
});
const bool kExpandDims = register_op_model("expand_dims_int8", [](ModelBuilder& b) {
  const int x = b.input(DType::kInt8, {2, 7}, kMove);
  const int axis = b.constant_i32({1}, {1});
  const int y = b.tensor(DType::kInt8, {2, 1, 7}, kMove);
  b.op(B::EXPAND_DIMS, {x, axis}, {y}, tflite::ExpandDimsOptionsT{});
  b.output(y);
});
const bool kTranspose = register_op_model("transpose_int8", [](ModelBuilder& b) {
  const int x = b.input(DType::kInt8, {1, 4, 5, 6}, kMove);
  const int perm = b.constant_i32({4}, {0, 3, 1, 2});
  const int y = b.tensor(DType::kInt8, {1, 6, 4, 5}, kMove);
  b.op(B::TRANSPOSE, {x, perm}, {y}, tflite::TransposeOptionsT{});
  b.output(y);
});
const bool kSlice = register_op_model("slice_int8", [](ModelBuilder& b) {
  const int x = b.input(DType::kInt8, {1, 6, 7, 5}, kMove);
  const int begin = b.constant_i32({4}, {0, 1, 2, 1});
  const int size = b.constant_i32({4}, {1, 4, -1, 3});
  const int y = b.tensor(DType::kInt8, {1, 4, 5, 3}, kMove);
  b.op(B::SLICE, {x, begin, size}, {y}, tflite::SliceOptionsT{});
  b.output(y);
});
const bool kStridedSlice = register_op_model("strided_slice_int8", [](ModelBuilder& b) {
  const int x = b.input(DType::kInt8, {1, 8, 9, 6}, kMove);
  const int begin = b.constant_i32({4}, {0, 1, 0, 2});
  const int end = b.constant_i32({4}, {1, 8, 9, 6});
  const int strides = b.constant_i32({4}, {1, 2, 3, 1});
  const int y = b.tensor(DType::kInt8, {1, 4, 3, 4}, kMove);
  b.op(B::STRIDED_SLICE, {x, begin, end, strides}, {y}, tflite::StridedSliceOptionsT{});
  b.output(y);
});
const bool kSplit = register_op_model("split_int8", [](ModelBuilder& b) {
  const int axis = b.constant_i32({}, {3});
  const int x = b.input(DType::kInt8, {1, 3, 4, 6}, kMove);
  const int y0 = b.tensor(DType::kInt8, {1, 3, 4, 3}, kMove);
  const int y1 = b.tensor(DType::kInt8, {1, 3, 4, 3}, kMove);
  tflite::SplitOptionsT o;
  o.num_splits = 2;
  b.op(B::SPLIT, {axis, x}, {y0, y1}, o);
  b.output(y0);
  b.output(y1);
});
const bool kSplitV = register_op_model("split_v_int8", [](ModelBuilder& b) {
  const int x = b.input(DType::kInt8, {1, 5, 4, 3}, kMove);
  const int sizes = b.constant_i32({2}, {2, 3});
  const int axis = b.constant_i32({}, {1});
  const int y0 = b.tensor(DType::kInt8, {1, 2, 4, 3}, kMove);
  const int y1 = b.tensor(DType::kInt8, {1, 3, 4, 3}, kMove);
  tflite::SplitVOptionsT o;
  o.num_splits = 2;
  b.op(B::SPLIT_V, {x, sizes, axis}, {y0, y1}, o);
  b.output(y0);
  b.output(y1);
});
const bool kPack = register_op_model("pack_int8", [](ModelBuilder& b) {
  const int x0 = b.input(DType::kInt8, {3, 4}, kMove);
  const int x1 = b.input(DType::kInt8, {3, 4}, kMove);
  const int y = b.tensor(DType::kInt8, {3, 2, 4}, kMove);
  tflite::PackOptionsT o;
  o.values_count = 2;
  o.axis = 1;
  b.op(B::PACK, {x0, x1}, {y}, o);
  b.output(y);
});
const bool kUnpack = register_op_model("unpack_int8", [](ModelBuilder& b) {
  const int x = b.input(DType::kInt8, {2, 3, 5}, kMove);
  std::vector<int> ys;
  for (int k = 0; k < 3; ++k) ys.push_back(b.tensor(DType::kInt8, {2, 5}, kMove));
  tflite::UnpackOptionsT o;
  o.num = 3;
  o.axis = 1;
  b.op(B::UNPACK, {x}, {ys[0], ys[1], ys[2]}, o);
  for (int y : ys) b.output(y);
});
const bool kGather = register_op_model("gather_int8", [](ModelBuilder& b) {
  const int x = b.input(DType::kInt8, {1, 6, 4}, kMove);
  const int idx = b.constant_i32({3}, {5, 0, 2});
  const int y = b.tensor(DType::kInt8, {1, 3, 4}, kMove);
  tflite::GatherOptionsT o;
  o.axis = 1;
  b.op(B::GATHER, {x, idx}, {y}, o);
  b.output(y);
});
const bool kPadV2 = register_op_model("padv2_int8", [](ModelBuilder& b) {
  const int x = b.input(DType::kInt8, {1, 4, 5, 2}, kMove);
  const int pads = b.constant_i32({4, 2}, {0, 0, 2, 1, 0, 3, 0, 0});
  const int value = b.constant(DType::kInt8, {}, {static_cast<uint8_t>(int8_t{-20})}, kMove);
  const int y = b.tensor(DType::kInt8, {1, 7, 8, 2}, kMove);
  b.op(B::PADV2, {x, pads, value}, {y}, tflite::PadV2OptionsT{});
  b.output(y);
});
template <typename OptionsT>
void depth_space(ModelBuilder& b, tflite::BuiltinOperator op, const Shape& in, const Shape& out) {
  const int x = b.input(DType::kInt8, in, kMove);
  const int y = b.tensor(DType::kInt8, out, kMove);
  OptionsT o;
  o.block_size = 2;
  b.op(op, {x}, {y}, o);
  b.output(y);
}
const bool kSpaceToDepth = register_op_model("space_to_depth_int8", [](ModelBuilder& b) {
  depth_space<tflite::SpaceToDepthOptionsT>(b, B::SPACE_TO_DEPTH, {1, 6, 4, 3}, {1, 3, 2, 12});
});
const bool kDepthToSpace = register_op_model("depth_to_space_int8", [](ModelBuilder& b) {
  depth_space<tflite::DepthToSpaceOptionsT>(b, B::DEPTH_TO_SPACE, {1, 3, 2, 12}, {1, 6, 4, 3});
});

}  // namespace
}  // namespace qcal::test
