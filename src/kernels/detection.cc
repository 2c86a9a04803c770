// TFLite_Detection_PostProcess: SSD box decoding plus non-max suppression, following
// TFLite's detection_postprocess.cc.
//
// Inputs: box_encodings [1, N, >=4] (y, x, h, w relative to the anchor), class_predictions
// [1, N, num_classes (+1 background)], anchors [N, 4] (ycenter, xcenter, h, w). Float32, or
// uint8/int8 with quantization (dequantized first, as TFLite does for uint8).
// Outputs (float32): boxes [1, D, 4] (ymin, xmin, ymax, xmax), classes [1, D], scores
// [1, D], num_detections [1], with D = max_detections * max_classes_per_detection.
//
// Fast NMS (default): each anchor keeps its top max_classes_per_detection classes; one NMS
// over the anchors' best scores. Regular NMS (use_regular_nms): NMS per class (at most
// detections_per_class each), merged into the best max_detections.
// Scores below nms_score_threshold are dropped (score >= threshold kept); a candidate is
// suppressed when its IoU with a selected box is > nms_iou_threshold. Candidates are
// ordered by descending score, ties by ascending anchor index (TFLite's stable sort); where
// TFLite uses an unstable partial sort (classes within an anchor, the regular variant's
// merge) ties here keep the lower class / earlier candidate first.
// Output slots past the detections are zero (TFLite leaves them untouched in the fast
// variant and zeroes them in the regular one).
#include <flatbuffers/flexbuffers.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "qcal/kernel.h"

namespace qcal {
namespace {

struct Box {
  float ymin, xmin, ymax, xmax;
};

float iou(const Box& a, const Box& b) {
  const float area_a = (a.ymax - a.ymin) * (a.xmax - a.xmin);
  const float area_b = (b.ymax - b.ymin) * (b.xmax - b.xmin);
  if (area_a <= 0 || area_b <= 0) return 0.0f;
  const float ih = std::max(std::min(a.ymax, b.ymax) - std::max(a.ymin, b.ymin), 0.0f);
  const float iw = std::max(std::min(a.xmax, b.xmax) - std::max(a.xmin, b.xmin), 0.0f);
  const float inter = ih * iw;
  return inter / (area_a + area_b - inter);
}

class DetectionPostProcessKernel : public OpKernel {
 public:
  void prepare(OpContext& ctx) override {
    ctx.expect_io(3, 3, 4);
    parse_options(ctx);
    const TensorData& boxes = ctx.in(0);
    const TensorData& scores = ctx.in(1);
    const TensorData& anchors = ctx.in(2);
    ctx.expect_rank(boxes, 3, "box_encodings");
    ctx.expect_rank(scores, 3, "class_predictions");
    ctx.expect_rank(anchors, 2, "anchors");
    check_input_type(ctx, boxes, "box_encodings");
    check_input_type(ctx, scores, "class_predictions");
    check_input_type(ctx, anchors, "anchors");
    num_boxes_ = boxes.dim(1);
    if (boxes.dim(0) != 1 || scores.dim(0) != 1) ctx.fail("only batch size 1 is supported");
    if (boxes.dim(2) < 4) ctx.fail("box_encodings must have at least 4 values per box, has " + shape_str(boxes.shape));
    if (scores.dim(1) != num_boxes_ || anchors.dim(0) != num_boxes_ || anchors.dim(1) != 4)
      ctx.fail("box_encodings " + shape_str(boxes.shape) + ", class_predictions " + shape_str(scores.shape) +
               " and anchors " + shape_str(anchors.shape) + " disagree on the number of boxes");
    classes_with_background_ = scores.dim(2);
    label_offset_ = classes_with_background_ - num_classes_;
    if (label_offset_ != 0 && label_offset_ != 1)
      ctx.fail("class_predictions has " + std::to_string(classes_with_background_) + " classes, num_classes is " +
               std::to_string(num_classes_) + " (expected equal, or one more for the background class)");

    const int64_t d = static_cast<int64_t>(max_detections_) * max_classes_per_detection_;
    const char* roles[4] = {"detection_boxes", "detection_classes", "detection_scores", "num_detections"};
    const int64_t want[4] = {d * 4, d, d, 1};
    for (int i = 0; i < 4; ++i) {
      ctx.expect_dtype(ctx.out(i), DType::kFloat32, roles[i]);
      if (ctx.out(i).size() != want[i])
        ctx.fail(std::string(roles[i]) + " has shape " + shape_str(ctx.out(i).shape) + ", expected " + std::to_string(want[i]) +
                 " elements (max_detections * max_classes_per_detection = " + std::to_string(d) + ")");
    }
  }

  void eval(OpContext& ctx) const override {
    const std::vector<Box> boxes = decode(ctx);
    for (const Box& b : boxes)
      if (b.ymin > b.ymax || b.xmin > b.xmax) ctx.fail("a decoded box has min > max (negative anchor size?)");
    const std::vector<float> scores = to_float(ctx.in(1));

    float* out_boxes = ctx.out(0).as<float>();
    float* out_classes = ctx.out(1).as<float>();
    float* out_scores = ctx.out(2).as<float>();
    std::memset(out_boxes, 0, ctx.out(0).bytes);
    std::memset(out_classes, 0, ctx.out(1).bytes);
    std::memset(out_scores, 0, ctx.out(2).bytes);
    auto put = [&](int64_t slot, int anchor, int cls, float score) {
      const Box& b = boxes[anchor];
      out_boxes[slot * 4 + 0] = b.ymin;
      out_boxes[slot * 4 + 1] = b.xmin;
      out_boxes[slot * 4 + 2] = b.ymax;
      out_boxes[slot * 4 + 3] = b.xmax;
      out_classes[slot] = static_cast<float>(cls);
      out_scores[slot] = score;
    };
    const int stride = classes_with_background_;
    int count = 0;

    if (!regular_nms_) {
      const int per_anchor = std::min(max_classes_per_detection_, num_classes_);
      std::vector<int> top(static_cast<size_t>(num_boxes_) * per_anchor);
      std::vector<float> best(num_boxes_);
      std::vector<int> order(num_classes_);
      for (int a = 0; a < num_boxes_; ++a) {
        const float* s = scores.data() + static_cast<size_t>(a) * stride + label_offset_;
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + per_anchor, order.end(),
                          [&](int i, int j) { return s[i] > s[j] || (s[i] == s[j] && i < j); });
        std::copy(order.begin(), order.begin() + per_anchor, top.begin() + static_cast<size_t>(a) * per_anchor);
        best[a] = s[order[0]];
      }
      for (int a : nms(boxes, best, max_detections_)) {
        const float* s = scores.data() + static_cast<size_t>(a) * stride + label_offset_;
        for (int c = 0; c < per_anchor; ++c) {
          const int cls = top[static_cast<size_t>(a) * per_anchor + c];
          put(static_cast<int64_t>(count) * max_classes_per_detection_ + c, a, cls, s[cls]);
        }
        ++count;
      }
    } else {
      // Candidates so far, best first: (score, anchor, class).
      struct Cand { float score; int anchor, cls; };
      std::vector<Cand> kept;
      std::vector<float> class_scores(num_boxes_);
      for (int c = 0; c < num_classes_; ++c) {
        for (int a = 0; a < num_boxes_; ++a) class_scores[a] = scores[static_cast<size_t>(a) * stride + c + label_offset_];
        for (int a : nms(boxes, class_scores, detections_per_class_)) kept.push_back({class_scores[a], a, c});
        std::stable_sort(kept.begin(), kept.end(), [](const Cand& x, const Cand& y) { return x.score > y.score; });
        if (static_cast<int>(kept.size()) > max_detections_) kept.resize(max_detections_);
      }
      for (const Cand& k : kept) put(count++, k.anchor, k.cls, k.score);
    }
    ctx.out(3).as<float>()[0] = static_cast<float>(count);
  }

 private:
  void parse_options(OpContext& ctx) {
    const std::vector<uint8_t>& opt = ctx.op->custom_options;
    if (opt.empty()) ctx.fail("has no custom options (max_detections, num_classes, ...)");
    if (ctx.op->custom_options_format != tflite::CustomOptionsFormat::FLEXBUFFERS ||
        !flexbuffers::VerifyBuffer(opt.data(), opt.size()))
      ctx.fail("custom options are not a valid flexbuffer");
    const flexbuffers::Reference root = flexbuffers::GetRoot(opt.data(), opt.size());
    if (!root.IsMap()) ctx.fail("custom options are not a flexbuffer map");
    const flexbuffers::Map m = root.AsMap();
    max_detections_ = m["max_detections"].AsInt32();
    max_classes_per_detection_ = m["max_classes_per_detection"].AsInt32();
    detections_per_class_ = m["detections_per_class"].IsNull() ? 100 : m["detections_per_class"].AsInt32();
    regular_nms_ = m["use_regular_nms"].IsNull() ? false : m["use_regular_nms"].AsBool();
    score_threshold_ = m["nms_score_threshold"].AsFloat();
    iou_threshold_ = m["nms_iou_threshold"].AsFloat();
    num_classes_ = m["num_classes"].AsInt32();
    y_scale_ = m["y_scale"].AsFloat();
    x_scale_ = m["x_scale"].AsFloat();
    h_scale_ = m["h_scale"].AsFloat();
    w_scale_ = m["w_scale"].AsFloat();
    if (max_detections_ < 0) ctx.fail("max_detections must be >= 0, is " + std::to_string(max_detections_));
    if (max_classes_per_detection_ <= 0)
      ctx.fail("max_classes_per_detection must be positive, is " + std::to_string(max_classes_per_detection_));
    if (regular_nms_ && detections_per_class_ <= 0)
      ctx.fail("detections_per_class must be positive, is " + std::to_string(detections_per_class_));
    if (num_classes_ <= 0) ctx.fail("num_classes must be positive, is " + std::to_string(num_classes_));
    if (!(iou_threshold_ > 0.0f && iou_threshold_ <= 1.0f))
      ctx.fail("nms_iou_threshold must be in (0, 1], is " + std::to_string(iou_threshold_));
  }

  static void check_input_type(OpContext& ctx, const TensorData& t, const char* role) {
    const bool quantized = (t.dtype == DType::kUInt8 || t.dtype == DType::kInt8) && t.quant && t.quant->has_scale();
    if (t.dtype != DType::kFloat32 && !quantized)
      ctx.fail(std::string(role) + " must be float32 or quantized uint8/int8, is " + dtype_name(t.dtype));
    if (t.bytes < static_cast<size_t>(t.size()) * dtype_size(t.dtype)) ctx.fail(std::string(role) + " has too little data");
  }

  static std::vector<float> to_float(const TensorData& t) {
    std::vector<float> v(static_cast<size_t>(t.size()));
    if (t.dtype == DType::kFloat32) {
      std::memcpy(v.data(), t.data, v.size() * 4);
    } else {
      const float scale = t.scale(), zp = static_cast<float>(t.zero_point());
      for (size_t i = 0; i < v.size(); ++i) {
        const float q = t.dtype == DType::kUInt8 ? t.as<uint8_t>()[i] : t.as<int8_t>()[i];
        v[i] = (q - zp) * scale;
      }
    }
    return v;
  }

  // CenterSize -> corners, in double as TFLite does.
  std::vector<Box> decode(const OpContext& ctx) const {
    const std::vector<float> enc = to_float(ctx.in(0));
    const std::vector<float> anc = to_float(ctx.in(2));
    const int per_box = ctx.in(0).dim(2);
    std::vector<Box> out(num_boxes_);
    for (int i = 0; i < num_boxes_; ++i) {
      const float* e = enc.data() + static_cast<size_t>(i) * per_box;  // y, x, h, w
      const float* a = anc.data() + static_cast<size_t>(i) * 4;        // ycenter, xcenter, h, w
      const float yc = static_cast<float>(double{e[0]} / double{y_scale_} * double{a[2]} + double{a[0]});
      const float xc = static_cast<float>(double{e[1]} / double{x_scale_} * double{a[3]} + double{a[1]});
      const float hh = static_cast<float>(0.5 * std::exp(double{e[2]} / double{h_scale_}) * double{a[2]});
      const float hw = static_cast<float>(0.5 * std::exp(double{e[3]} / double{w_scale_}) * double{a[3]});
      out[i] = {yc - hh, xc - hw, yc + hh, xc + hw};
    }
    return out;
  }

  // Greedy NMS over one score per box: boxes with score >= threshold, best first (ties by
  // index), each suppressing later ones it overlaps by IoU > threshold. Returns at most
  // `limit` box indices in selection order.
  std::vector<int> nms(const std::vector<Box>& boxes, const std::vector<float>& scores, int limit) const {
    std::vector<int> cand;
    for (int i = 0; i < static_cast<int>(scores.size()); ++i)
      if (scores[i] >= score_threshold_) cand.push_back(i);
    std::stable_sort(cand.begin(), cand.end(), [&](int i, int j) { return scores[i] > scores[j]; });
    std::vector<int> selected;
    std::vector<char> active(cand.size(), 1);
    for (size_t i = 0; i < cand.size() && static_cast<int>(selected.size()) < limit; ++i) {
      if (!active[i]) continue;
      selected.push_back(cand[i]);
      for (size_t j = i + 1; j < cand.size(); ++j)
        if (active[j] && iou(boxes[cand[i]], boxes[cand[j]]) > iou_threshold_) active[j] = 0;
    }
    return selected;
  }

  int max_detections_ = 0, max_classes_per_detection_ = 1, detections_per_class_ = 100, num_classes_ = 0;
  bool regular_nms_ = false;
  float score_threshold_ = 0, iou_threshold_ = 0, y_scale_ = 1, x_scale_ = 1, h_scale_ = 1, w_scale_ = 1;
  int num_boxes_ = 0, classes_with_background_ = 0, label_offset_ = 0;
};

}  // namespace

void register_detection_kernels(KernelRegistry& r) {
  r.add_custom("TFLite_Detection_PostProcess", make_factory<DetectionPostProcessKernel>(), Numerics::kFloat);
}

}  // namespace qcal
