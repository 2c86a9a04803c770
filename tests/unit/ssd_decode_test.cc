// Raw SSD decoding: anchors (MediaPipe's SsdAnchorsCalculator), box decoding, NMS, and
// --task detect on raw outputs. Expected values are worked out by hand in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <unistd.h>

#include "op_test_util.h"
#include "qcal/error.h"
#include "qcal/npy.h"
#include "qcal/report_writer.h"
#include "qcal/ssd.h"

namespace qcal {
namespace {

// The anchor options of the mediapipe-face-short preset (checked against the key=value form
// in KeyValueSpecEqualsPreset).
SsdAnchorOptions face_short() { return ssd_preset_anchor_options("mediapipe-face-short"); }

// Runs stmt, expecting a qcal::Error whose message holds `text`.
#define EXPECT_ERROR_HAS(stmt, text)                                                         \
  do {                                                                                        \
    try {                                                                                     \
      stmt;                                                                                   \
      ADD_FAILURE() << "no error from " #stmt;                                                \
    } catch (const Error& e) {                                                                \
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();            \
    }                                                                                         \
  } while (0)

void expect_box(const SsdDetection& d, float ymin, float xmin, float ymax, float xmax) {
  EXPECT_NEAR(d.ymin, ymin, 1e-6);
  EXPECT_NEAR(d.xmin, xmin, 1e-6);
  EXPECT_NEAR(d.ymax, ymax, 1e-6);
  EXPECT_NEAR(d.xmax, xmax, 1e-5);
}

TEST(SsdAnchors, FaceShortRange) {
  // Stride 8: a 16x16 map, 2 anchors per cell (aspect 1 + the interpolated one) = 512;
  // strides 16,16,16 share an 8x8 map, 3 layers x 2 = 6 per cell = 384. Total 896.
  const std::vector<SsdAnchor> a = generate_ssd_anchors(face_short());
  ASSERT_EQ(a.size(), 896u);
  EXPECT_FLOAT_EQ(a[0].x_center, 0.5f / 16);  // (0 + 0.5) / 16 = 0.03125
  EXPECT_FLOAT_EQ(a[0].y_center, 0.03125f);
  EXPECT_FLOAT_EQ(a[0].w, 1.0f);  // fixed_anchor_size
  EXPECT_FLOAT_EQ(a[0].h, 1.0f);
  EXPECT_FLOAT_EQ(a[1].x_center, 0.03125f);  // the cell's second anchor
  EXPECT_FLOAT_EQ(a[2].x_center, 1.5f / 16);  // next cell along x
  EXPECT_FLOAT_EQ(a[2].y_center, 0.03125f);
  EXPECT_FLOAT_EQ(a[511].x_center, 15.5f / 16);
  EXPECT_FLOAT_EQ(a[511].y_center, 15.5f / 16);
  EXPECT_FLOAT_EQ(a[512].x_center, 0.5f / 8);  // first anchor of the 8x8 map = 0.0625
  EXPECT_FLOAT_EQ(a[517].x_center, 0.0625f);   // 6 anchors share the first cell
  EXPECT_FLOAT_EQ(a[518].x_center, 1.5f / 8);
  EXPECT_FLOAT_EQ(a[895].x_center, 7.5f / 8);  // 0.9375
  EXPECT_FLOAT_EQ(a[895].y_center, 0.9375f);
  EXPECT_FLOAT_EQ(a[895].w, 1.0f);
}

TEST(SsdAnchors, ScalesWithoutFixedSize) {
  SsdAnchorOptions o = face_short();
  o.fixed_anchor_size = false;
  const std::vector<SsdAnchor> a = generate_ssd_anchors(o);
  ASSERT_EQ(a.size(), 896u);
  // Layer 0: scale = min_scale = 0.1484375; aspect 1 -> w = h = scale.
  EXPECT_FLOAT_EQ(a[0].w, 0.1484375f);
  EXPECT_FLOAT_EQ(a[0].h, 0.1484375f);
  // Interpolated: sqrt(scale0 * scale1), scale1 = 0.1484375 + 0.6015625 / 3 = 0.3489583
  // -> sqrt(0.0517985) = 0.227593.
  EXPECT_NEAR(a[1].w, 0.227593f, 1e-5);
  // Last layer (index 3): scale 0.75, interpolated with 1.0: sqrt(0.75) = 0.866025.
  EXPECT_NEAR(a[894].w, 0.75f, 1e-6);
  EXPECT_NEAR(a[895].w, 0.866025f, 1e-5);
  // Aspect ratio 2: w = s * sqrt(2), h = s / sqrt(2).
  o.aspect_ratios = {2.0f};
  o.interpolated_scale_aspect_ratio = 0;
  const std::vector<SsdAnchor> b = generate_ssd_anchors(o);
  ASSERT_EQ(b.size(), 16u * 16 + 3u * 8 * 8);
  EXPECT_NEAR(b[0].w, 0.1484375f * std::sqrt(2.0f), 1e-6);
  EXPECT_NEAR(b[0].h, 0.1484375f / std::sqrt(2.0f), 1e-6);
}

TEST(SsdAnchors, FaceFullRangeAndErrors) {
  SsdFlags f;
  f.ssd_anchors = "mediapipe-face-full";
  const SsdConfig c = make_ssd_config(f);
  ASSERT_EQ(c.anchors.size(), 2304u);  // 192 / 4 = 48, 48 x 48, one anchor per cell
  EXPECT_FLOAT_EQ(c.anchors[0].x_center, 0.5f / 48);
  EXPECT_FLOAT_EQ(c.decode.x_scale, 192);
  EXPECT_FLOAT_EQ(c.decode.score_threshold, 0.6f);

  SsdAnchorOptions o = face_short();
  o.strides = {8, 16};
  EXPECT_ERROR_HAS(generate_ssd_anchors(o), "2 strides for 4 layers");
  f.ssd_anchors = "mediapipe-face-tiny";
  EXPECT_ERROR_HAS(make_ssd_config(f), "unknown preset");
  f.ssd_anchors = "num_layers=4,colour=red";
  EXPECT_ERROR_HAS(make_ssd_config(f), "unknown key 'colour'");
}

TEST(SsdAnchors, KeyValueSpecEqualsPreset) {
  SsdFlags preset, spec;
  preset.ssd_anchors = "mediapipe-face-short";
  spec.ssd_anchors = "num_layers=4,min_scale=0.1484375,max_scale=0.75,input_size=128,anchor_offset=0.5,"
                     "strides=8:16:16:16,aspect_ratios=1.0,fixed_anchor_size=true";
  spec.box_scale = 128;
  spec.box_order = "xywh";
  const SsdConfig a = make_ssd_config(preset), b = make_ssd_config(spec);
  ASSERT_EQ(a.anchors.size(), b.anchors.size());
  for (size_t i = 0; i < a.anchors.size(); ++i) EXPECT_FLOAT_EQ(a.anchors[i].x_center, b.anchors[i].x_center) << i;
  EXPECT_TRUE(b.decode.xywh);
  EXPECT_FLOAT_EQ(b.decode.h_scale, 128);
  EXPECT_FLOAT_EQ(a.decode.iou_threshold, 0.3f);
  EXPECT_TRUE(a.decode.weighted_nms);
  // A preset then overrides.
  preset.ssd_anchors = "mediapipe-face-short,input_size=256";
  EXPECT_EQ(make_ssd_config(preset).anchors.size(), 4u * 896);
}

TEST(SsdAnchors, LoadCsvAndNpy) {
  const auto dir = std::filesystem::temp_directory_path() / ("qcal_ssd_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream csv(dir / "a.csv");
    csv << "y_center,x_center,h,w\n0.1,0.2,0.3,0.4\n# comment\n0.5 0.6 0.7 0.8\n";
  }
  const std::vector<SsdAnchor> a = load_anchors(dir / "a.csv");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_FLOAT_EQ(a[0].y_center, 0.1f);
  EXPECT_FLOAT_EQ(a[1].w, 0.8f);
  write_npy(dir / "a.npy", test::host<float>({2, 4}, {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f}));
  const std::vector<SsdAnchor> b = load_anchors(dir / "a.npy");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_FLOAT_EQ(b[1].x_center, 0.6f);
  write_npy(dir / "bad.npy", test::host<float>({2, 3}, std::vector<float>(6)));
  EXPECT_ERROR_HAS(load_anchors(dir / "bad.npy"), "[N, 4]");
  {
    std::ofstream csv(dir / "bad.csv");
    csv << "0.1,0.2,0.3,0.4\n0.1,0.2\n";
  }
  EXPECT_ERROR_HAS(load_anchors(dir / "bad.csv"), "bad.csv:2");
  std::filesystem::remove_all(dir);
}

TEST(SsdDecode, HandMadeBoxMediaPipeStyle) {
  // Anchor centre (y 0.5, x 0.25), size 1; raw x, y, w, h = 12.8, -6.4, 32, 64 at scale 128:
  // x = 12.8/128 + 0.25 = 0.35, y = -6.4/128 + 0.5 = 0.45, w = 32/128 = 0.25, h = 0.5
  // -> ymin 0.2, xmin 0.225, ymax 0.7, xmax 0.475. Logit 0 -> score 0.5 (kept: >= 0.5);
  // the second anchor's logit -1 -> 0.269 (dropped).
  SsdDecodeOptions o;
  o.x_scale = o.y_scale = o.w_scale = o.h_scale = 128;
  o.xywh = true;
  const std::vector<SsdAnchor> anchors = {{0.5f, 0.25f, 1, 1}, {0.5f, 0.5f, 1, 1}};
  const float boxes[] = {12.8f, -6.4f, 32, 64, 99, 99, 0, 0, 0, 0, 0, 0};  // 6 values per anchor
  const float scores[] = {0, -1};
  const std::vector<SsdDetection> d = decode_ssd(boxes, 6, scores, 1, anchors, o);
  ASSERT_EQ(d.size(), 1u);
  expect_box(d[0], 0.2f, 0.225f, 0.7f, 0.475f);
  EXPECT_FLOAT_EQ(d[0].score, 0.5f);
}

TEST(SsdDecode, HandMadeBoxTfStyle) {
  // y, x, h, w with exponential sizes, scale 10, anchor (0.5, 0.5, h 0.2, w 0.4); raw
  // (1, -1, 0, 10 ln 2): y = 0.1*0.2 + 0.5 = 0.52, x = -0.1*0.4 + 0.5 = 0.46, h = 0.2,
  // w = 2 * 0.4 = 0.8 -> (0.42, 0.06, 0.62, 0.86). Raw scores, two classes: class 1 wins.
  SsdDecodeOptions o;
  o.x_scale = o.y_scale = o.w_scale = o.h_scale = 10;
  o.exp_size = true;
  o.sigmoid = false;
  o.score_threshold = 0.3f;
  const std::vector<SsdAnchor> anchors = {{0.5f, 0.5f, 0.2f, 0.4f}};
  const float boxes[] = {1, -1, 0, 10 * std::log(2.0f)};
  const float scores[] = {0.1f, 0.7f};
  const std::vector<SsdDetection> d = decode_ssd(boxes, 4, scores, 2, anchors, o);
  ASSERT_EQ(d.size(), 1u);
  expect_box(d[0], 0.42f, 0.06f, 0.62f, 0.86f);
  EXPECT_EQ(d[0].cls, 1);
  EXPECT_FLOAT_EQ(d[0].score, 0.7f);
}

TEST(SsdDecode, HardAndWeightedNms) {
  // A and B overlap by IoU 0.9 (> 0.3); C is apart.
  const SsdDetection A{0, 0, 1, 1, 0.9f, 0}, B{0, 0, 1, 0.9f, 0.6f, 0}, C{2, 2, 3, 3, 0.8f, 0};
  SsdDecodeOptions o;
  o.weighted_nms = false;
  std::vector<SsdDetection> d = ssd_nms({B, C, A}, o);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_FLOAT_EQ(d[0].score, 0.9f);
  EXPECT_FLOAT_EQ(d[0].xmax, 1.0f);
  EXPECT_FLOAT_EQ(d[1].score, 0.8f);
  // Weighted: A's cluster {A, B} averages by score: xmax = (0.9*1 + 0.6*0.9) / 1.5 = 0.96,
  // keeping A's score.
  o.weighted_nms = true;
  d = ssd_nms({B, C, A}, o);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NEAR(d[0].xmax, 0.96f, 1e-6);
  EXPECT_FLOAT_EQ(d[0].ymax, 1.0f);
  EXPECT_FLOAT_EQ(d[0].score, 0.9f);
  EXPECT_FLOAT_EQ(d[1].xmin, 2.0f);  // alone in its cluster: unchanged
  // A looser threshold keeps B as well; max_detections caps the list.
  o.iou_threshold = 0.95f;
  EXPECT_EQ(ssd_nms({B, C, A}, o).size(), 3u);
  o.max_detections = 1;
  EXPECT_EQ(ssd_nms({B, C, A}, o).size(), 1u);
}

TEST(SsdDecode, AccuracyOnRawOutputs) {
  // Two anchors, one class: boxes [1,2,4] (x, y, w, h offsets), logits [1,2,1].
  auto outputs = [](std::vector<float> logits) {
    return std::vector<HostTensor>{test::host<float>({1, 2, 4}, {0, 0, 0.5f, 0.5f, 0, 0, 0.5f, 0.5f}), test::host<float>({1, 2, 1}, logits)};
  };
  AccuracyEvaluator none(Task::kDetect, 2);
  EXPECT_ERROR_HAS(none.add(outputs({5, 5}), outputs({5, 5})), "--ssd-anchors");

  auto config = std::make_shared<SsdConfig>();
  config->anchors = {{0.25f, 0.25f, 1, 1}, {0.75f, 0.75f, 1, 1}};
  config->decode.xywh = true;
  config->source = "test";
  AccuracyEvaluator a(Task::kDetect, 2);
  a.set_ssd(config);
  a.add(outputs({5, 5}), outputs({5, -5}));  // the quantized model misses the second box
  const auto r = a.result({});
  EXPECT_EQ(r["float_detections"].get<size_t>(), 2u);
  EXPECT_EQ(r["quantized_detections"].get<size_t>(), 1u);
  EXPECT_NEAR(r["quantized"].get<double>(), 0.5, 1e-9);  // recall 1/2 at precision 1

  AccuracyEvaluator same(Task::kDetect, 2);
  same.set_ssd(config);
  same.add(outputs({5, 3}), outputs({5, 3}));
  EXPECT_DOUBLE_EQ(same.result({})["quantized"].get<double>(), 1.0);

  auto three = std::make_shared<SsdConfig>(*config);
  three->anchors.push_back({0.5f, 0.5f, 1, 1});
  AccuracyEvaluator wrong(Task::kDetect, 2);
  wrong.set_ssd(three);
  EXPECT_ERROR_HAS(wrong.add(outputs({5, 5}), outputs({5, 5})), "gives 3 anchors, the model's '' [1,2,4] has 2 boxes");
}

}  // namespace
}  // namespace qcal
