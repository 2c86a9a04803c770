// TFLite_Detection_PostProcess on hand-built anchors and scores whose answer is known by
// construction: overlapping boxes suppressed, score threshold inclusive, ties by index,
// background class skipped, both NMS variants, box decoding with scales.
#include <flatbuffers/flexbuffers.h>

#include <cmath>

#include "op_test_util.h"

namespace qcal {
namespace {

using test::host;
using test::ModelBuilder;

struct Params {
  int max_detections = 3, max_classes_per_detection = 1, detections_per_class = 100, num_classes = 2;
  bool regular = false;
  float score_threshold = 0.3f, iou_threshold = 0.5f;
  float y_scale = 1, x_scale = 1, h_scale = 1, w_scale = 1;
};

std::vector<uint8_t> options(const Params& p) {
  flexbuffers::Builder fbb;
  fbb.Map([&] {
    fbb.Int("max_detections", p.max_detections);
    fbb.Int("max_classes_per_detection", p.max_classes_per_detection);
    fbb.Int("detections_per_class", p.detections_per_class);
    fbb.Bool("use_regular_nms", p.regular);
    fbb.Float("nms_score_threshold", p.score_threshold);
    fbb.Float("nms_iou_threshold", p.iou_threshold);
    fbb.Int("num_classes", p.num_classes);
    fbb.Float("y_scale", p.y_scale);
    fbb.Float("x_scale", p.x_scale);
    fbb.Float("h_scale", p.h_scale);
    fbb.Float("w_scale", p.w_scale);
  });
  fbb.Finish();
  return fbb.GetBuffer();
}

struct Result {
  std::vector<float> boxes, classes, scores;
  float count = -1;
};

Result run(const Params& p, const std::vector<float>& enc, const std::vector<float>& scores, int num_scores,
           const std::vector<float>& anchors, int slots = -1) {
  const int n = static_cast<int>(anchors.size() / 4);
  if (slots < 0) slots = p.max_detections * p.max_classes_per_detection;
  ModelBuilder b;
  const int e = b.input(DType::kFloat32, {1, n, 4});
  const int s = b.input(DType::kFloat32, {1, n, num_scores});
  const int a = b.constant_f32({n, 4}, anchors);
  const int ob = b.tensor(DType::kFloat32, {1, slots, 4});
  const int oc = b.tensor(DType::kFloat32, {1, slots});
  const int os = b.tensor(DType::kFloat32, {1, slots});
  const int on = b.tensor(DType::kFloat32, {1});
  b.custom_op("TFLite_Detection_PostProcess", {e, s, a}, {ob, oc, os, on}, options(p));
  for (int t : {ob, oc, os, on}) b.output(t);
  const auto r = b.run({host({1, n, 4}, enc), host({1, n, num_scores}, scores)});
  return {test::from_bytes<float>(r[0].data), test::from_bytes<float>(r[1].data), test::from_bytes<float>(r[2].data),
          test::from_bytes<float>(r[3].data)[0]};
}

// Six anchors (ycenter, xcenter, h, w); zero encodings decode to the anchors themselves.
// A1 overlaps A0 (IoU ~0.9), A5 is A2's box, A3 scores below the threshold.
const std::vector<float> kAnchors = {
    0.50f, 0.50f, 0.2f, 0.2f,  // A0
    0.51f, 0.50f, 0.2f, 0.2f,  // A1
    0.20f, 0.20f, 0.1f, 0.1f,  // A2
    0.80f, 0.80f, 0.1f, 0.1f,  // A3
    0.20f, 0.80f, 0.1f, 0.1f,  // A4
    0.20f, 0.20f, 0.1f, 0.1f,  // A5
};
// Per anchor: background, class 0, class 1.
const std::vector<float> kScores = {
    0.0f, 0.9f, 0.1f,   // A0
    0.0f, 0.8f, 0.3f,   // A1: class 1 exactly at the threshold (kept: score >= threshold)
    0.0f, 0.2f, 0.7f,   // A2
    0.0f, 0.05f, 0.1f,  // A3
    0.0f, 0.6f, 0.6f,   // A4: tie between its classes
    0.0f, 0.7f, 0.0f,   // A5: ties A2's best score, same box
};

std::vector<float> box_of(int a) {
  const float* p = &kAnchors[4 * a];
  return {p[0] - p[2] / 2, p[1] - p[3] / 2, p[0] + p[2] / 2, p[1] + p[3] / 2};
}

void expect_detection(const Result& r, int slot, int anchor, float cls, float score) {
  const std::vector<float> want = box_of(anchor);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(r.boxes[slot * 4 + k], want[k], 1e-6f) << "slot " << slot;
  EXPECT_EQ(r.classes[slot], cls) << "slot " << slot;
  EXPECT_FLOAT_EQ(r.scores[slot], score) << "slot " << slot;
}

void expect_empty(const Result& r, int slot) {
  for (int k = 0; k < 4; ++k) EXPECT_EQ(r.boxes[slot * 4 + k], 0.0f);
  EXPECT_EQ(r.classes[slot], 0.0f);
  EXPECT_EQ(r.scores[slot], 0.0f);
}

const std::vector<float> kZeroEnc(24, 0.0f);

TEST(DetectionPostProcess, FastNmsSuppressesOverlapsAndBreaksTiesByIndex) {
  Params p;
  p.max_detections = 5;
  const Result r = run(p, kZeroEnc, kScores, 3, kAnchors);
  // Best scores: A0 .9, A1 .8, A2 .7, A5 .7, A4 .6 (A3 below threshold). A1 is suppressed by
  // A0, A5 (tied with A2, later index) by A2.
  EXPECT_EQ(r.count, 3);
  expect_detection(r, 0, 0, 0, 0.9f);
  expect_detection(r, 1, 2, 1, 0.7f);
  expect_detection(r, 2, 4, 0, 0.6f);  // tied classes: the lower one
  expect_empty(r, 3);
  expect_empty(r, 4);
}

TEST(DetectionPostProcess, FastNmsSeveralClassesPerDetection) {
  Params p;
  p.max_detections = 2;
  p.max_classes_per_detection = 2;
  const Result r = run(p, kZeroEnc, kScores, 3, kAnchors);
  EXPECT_EQ(r.count, 2);  // max_detections caps the anchors
  expect_detection(r, 0, 0, 0, 0.9f);
  expect_detection(r, 1, 0, 1, 0.1f);  // second class of the same anchor, whatever its score
  expect_detection(r, 2, 2, 1, 0.7f);
  expect_detection(r, 3, 2, 0, 0.2f);
}

TEST(DetectionPostProcess, RegularNmsPerClassThenMerged) {
  Params p;
  p.regular = true;
  p.max_detections = 4;
  const Result r = run(p, kZeroEnc, kScores, 3, kAnchors);
  // Class 0 keeps A0 .9, A5 .7, A4 .6 (A1 suppressed by A0); class 1 keeps A2 .7, A4 .6,
  // A1 .3. Best four, ties in merge order (class 0 first): A0c0, A5c0, A2c1, A4c0.
  EXPECT_EQ(r.count, 4);
  expect_detection(r, 0, 0, 0, 0.9f);
  expect_detection(r, 1, 5, 0, 0.7f);
  expect_detection(r, 2, 2, 1, 0.7f);
  expect_detection(r, 3, 4, 0, 0.6f);

  p.max_detections = 8;
  p.detections_per_class = 2;  // class 0: A0, A5; class 1: A2, A4
  const Result q = run(p, kZeroEnc, kScores, 3, kAnchors);
  EXPECT_EQ(q.count, 4);
  expect_detection(q, 0, 0, 0, 0.9f);
  expect_detection(q, 1, 5, 0, 0.7f);
  expect_detection(q, 2, 2, 1, 0.7f);
  expect_detection(q, 3, 4, 1, 0.6f);
  for (int s = 4; s < 8; ++s) expect_empty(q, s);
}

TEST(DetectionPostProcess, DecodesWithScalesAndNoBackgroundClass) {
  Params p;
  p.num_classes = 1;
  p.max_detections = 1;
  p.y_scale = 10, p.x_scale = 10, p.h_scale = 5, p.w_scale = 5;
  // Anchor (0.5, 0.4, 0.2, 0.4); encoding (1, -2, 5 ln 2, 0): centre (0.52, 0.32), size
  // (0.4, 0.4).
  const Result r = run(p, {1.0f, -2.0f, 5.0f * std::log(2.0f), 0.0f}, {0.9f}, 1, {0.5f, 0.4f, 0.2f, 0.4f});
  EXPECT_EQ(r.count, 1);
  const std::vector<float> want = {0.32f, 0.12f, 0.72f, 0.52f};
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(r.boxes[k], want[k], 1e-6f);
  EXPECT_EQ(r.classes[0], 0.0f);  // no background: class 0 is the first column
  EXPECT_FLOAT_EQ(r.scores[0], 0.9f);
}

TEST(DetectionPostProcess, NothingAboveThreshold) {
  Params p;
  p.score_threshold = 0.95f;
  const Result r = run(p, kZeroEnc, kScores, 3, kAnchors);
  EXPECT_EQ(r.count, 0);
  for (int s = 0; s < 3; ++s) expect_empty(r, s);
}

TEST(DetectionPostProcess, RejectsBadOptionsAndShapes) {
  Params p;
  p.iou_threshold = 0.0f;
  EXPECT_THROW(run(p, kZeroEnc, kScores, 3, kAnchors), Error);
  p = Params{};
  p.num_classes = 1;  // 3 score columns is neither 1 nor 1 + background
  EXPECT_THROW(run(p, kZeroEnc, kScores, 3, kAnchors), Error);
  p = Params{};
  EXPECT_THROW(run(p, kZeroEnc, kScores, 3, kAnchors, 2), Error);  // outputs sized for 2 slots, not 3
  // A negative anchor height decodes to ymin > ymax: an error at run time, as in TFLite.
  std::vector<float> bad = kAnchors;
  bad[2] = -0.2f;
  EXPECT_THROW(run(Params{}, kZeroEnc, kScores, 3, bad), Error);
}

}  // namespace
}  // namespace qcal
