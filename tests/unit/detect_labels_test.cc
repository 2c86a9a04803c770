// Box labels for --task detect (--labels FILE.csv): the CSV reader and its errors, mAP@0.5
// against labelled boxes (known answers worked out in the comments), and both models'
// mAP against the labels through AccuracyEvaluator.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>

#include "op_test_util.h"
#include "qcal/error.h"
#include "qcal/labels.h"
#include "qcal/report_writer.h"
#include "qcal/ssd.h"

namespace qcal {
namespace {

namespace fs = std::filesystem;

fs::path write_csv(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / ("qcal_detect_labels_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::string error_of(const std::string& name, const std::string& text) {
  const fs::path p = write_csv(name, text);
  try {
    read_box_label_csv(p);
  } catch (const Error& e) {
    fs::remove(p);
    return e.what();
  }
  fs::remove(p);
  return "(no error)";
}

TEST(DetectLabels, ReadsBoxesGroupedByFile) {
  const fs::path p = write_csv("ok.csv",
                               "file,class,ymin,xmin,ymax,xmax\n"
                               "a.jpg,0,0.1,0.2,0.5,0.6\n"
                               "# a comment\n\n"
                               "sub/b.jpg, 2 , 0, 0, 1, 1\n"
                               "./a.jpg,1,0.5,0.5,0.5,0.9\n");
  const Labels l = read_box_label_csv(p);
  fs::remove(p);
  ASSERT_TRUE(l.has_boxes());
  ASSERT_EQ(l.entries.size(), 2u);
  EXPECT_EQ(l.entries[0].file, "a.jpg");
  EXPECT_EQ(l.entries[0].label, 0);
  EXPECT_EQ(l.entries[1].file, "sub/b.jpg");
  EXPECT_EQ(l.entries[1].label, 1);
  ASSERT_EQ(l.boxes[0].size(), 2u);
  EXPECT_EQ(l.boxes[0][1].cls, 1);
  EXPECT_EQ(l.boxes[0][1].line, 6);
  EXPECT_FLOAT_EQ(l.boxes[0][0].box[1], 0.2f);
  EXPECT_FLOAT_EQ(l.boxes[0][0].box[3], 0.6f);
  ASSERT_EQ(l.boxes[1].size(), 1u);
  EXPECT_EQ(l.boxes[1][0].cls, 2);
}

TEST(DetectLabels, OneLineErrorsNameFileAndLine) {
  EXPECT_NE(error_of("f.csv", "a.jpg,0,0,0,1,1\na.jpg,0,0,0,1\n").find("f.csv line 2: expected 'file,class,ymin,xmin,ymax,xmax', got 5 fields"),
            std::string::npos);
  EXPECT_NE(error_of("r.csv", "a.jpg,0,0,0,1.5,1\n").find("r.csv line 1: ymax 1.5 is outside [0,1]"), std::string::npos);
  EXPECT_NE(error_of("n.csv", "a.jpg,0,0,0,1,1\nb.jpg,0,0,-0.1,1,1\n").find("n.csv line 2: xmin -0.1 is outside [0,1]"),
            std::string::npos);
  EXPECT_NE(error_of("o.csv", "a.jpg,0,0.6,0,0.5,1\n").find("o.csv line 1: ymin 0.6 > ymax 0.5"), std::string::npos);
  EXPECT_NE(error_of("x.csv", "a.jpg,0,0,0.7,1,0.2\n").find("x.csv line 1: xmin 0.7 > xmax 0.2"), std::string::npos);
  EXPECT_NE(error_of("c.csv", "a.jpg,0,0,0,1,1\nb.jpg,dog,0,0,1,1\n").find("c.csv line 2: class 'dog' is not a class index"),
            std::string::npos);
  EXPECT_NE(error_of("v.csv", "a.jpg,0,0,zero,1,1\n").find("v.csv line 1: xmin 'zero' is not a number"), std::string::npos);
  EXPECT_NE(error_of("e.csv", "file,class,ymin,xmin,ymax,xmax\n").find("no 'file,class,ymin,xmin,ymax,xmax' lines"),
            std::string::npos);
}

TEST(DetectLabels, Map50KnownAnswers) {
  // Three labelled boxes in sample 1, one class.
  const std::vector<BoxDetection> truth = {{{0.0f, 0.0f, 0.2f, 0.2f}, 0, 1, 1},
                                           {{0.5f, 0.5f, 0.7f, 0.7f}, 0, 1, 1},
                                           {{0.8f, 0.0f, 1.0f, 0.2f}, 0, 1, 1}};
  // Two found exactly: precision 1 at recall 1/3 and 2/3 -> AP = 2/3.
  std::vector<BoxDetection> found = {{{0.0f, 0.0f, 0.2f, 0.2f}, 0, 0.9f, 1}, {{0.5f, 0.5f, 0.7f, 0.7f}, 0, 0.8f, 1}};
  EXPECT_NEAR(map50(truth, found), 2.0 / 3.0, 1e-12);
  // A false positive with the highest score: precisions 0, 1/2, 2/3 at recalls 0, 1/3, 2/3;
  // AP = 1/3 * 2/3 + 1/3 * 2/3 = 4/9.
  found.push_back({{0.3f, 0.3f, 0.4f, 0.4f}, 0, 0.95f, 1});
  EXPECT_NEAR(map50(truth, found), 4.0 / 9.0, 1e-12);
  // The same box in another sample does not match; IoU 0.6 (0.12x0.2 inside 0.2x0.2) matches,
  // IoU 0.4 (0.08x0.2) does not.
  EXPECT_DOUBLE_EQ(map50(truth, {{{0.0f, 0.0f, 0.2f, 0.2f}, 0, 0.9f, 2}}), 0.0);
  EXPECT_NEAR(map50(truth, {{{0.0f, 0.0f, 0.12f, 0.2f}, 0, 0.9f, 1}}), 1.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(map50(truth, {{{0.0f, 0.0f, 0.08f, 0.2f}, 0, 0.9f, 1}}), 0.0);
  // Wrong class: no match; by class the mAP averages the classes in the truth.
  EXPECT_DOUBLE_EQ(map50(truth, {{{0.0f, 0.0f, 0.2f, 0.2f}, 1, 0.9f, 1}}), 0.0);
}

// TFLite_Detection_PostProcess outputs of one image: boxes [1,N,4], classes, scores, count.
std::vector<HostTensor> post_processed(const std::vector<std::array<float, 4>>& boxes, const std::vector<float>& classes) {
  std::vector<float> b, s;
  for (size_t i = 0; i < boxes.size(); ++i) b.insert(b.end(), boxes[i].begin(), boxes[i].end()), s.push_back(0.9f - 0.1f * i);
  const int n = static_cast<int>(boxes.size());
  return {test::host<float>({1, n, 4}, b), test::host<float>({1, n}, classes), test::host<float>({1, n}, s),
          test::host<float>({1}, {static_cast<float>(n)})};
}

TEST(DetectLabels, BothModelsAgainstLabels) {
  Labels l;
  l.source = "boxes.csv";
  l.entries = {{"a.jpg", 0, 1}};
  l.boxes = {{{0, {0.0f, 0.0f, 0.2f, 0.2f}, 1}, {0, {0.5f, 0.5f, 0.7f, 0.7f}, 2}, {1, {0.8f, 0.0f, 1.0f, 0.2f}, 3}}};
  AccuracyEvaluator a(Task::kDetect, 4);
  a.set_box_labels(std::make_shared<Labels>(l));
  // Float finds all three boxes with their classes; quantized finds the two class-0 boxes.
  // By class: class 0 AP 1 and 1 (float), class 1 AP 1 (float) and 0 (quantized).
  a.add(post_processed({{0.0f, 0.0f, 0.2f, 0.2f}, {0.5f, 0.5f, 0.7f, 0.7f}, {0.8f, 0.0f, 1.0f, 0.2f}}, {0, 0, 1}),
        post_processed({{0.0f, 0.0f, 0.2f, 0.2f}, {0.5f, 0.5f, 0.7f, 0.7f}}, {0, 0}), 0);
  // An unlabelled sample counts only against the float model.
  a.add(post_processed({{0.1f, 0.1f, 0.3f, 0.3f}}, {0}), post_processed({}, {}), -1);
  const auto r = a.result({});
  EXPECT_EQ(r["metric"], "map50_vs_labels");
  EXPECT_DOUBLE_EQ(r["float"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(r["quantized"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(r["drop"].get<double>(), 0.5);
  const auto& lb = r["labels"];
  EXPECT_EQ(lb["labelled_samples"].get<size_t>(), 1u);
  EXPECT_EQ(lb["unlabelled_samples"].get<size_t>(), 1u);
  EXPECT_EQ(lb["labelled_boxes"].get<size_t>(), 3u);
  EXPECT_FALSE(lb["class_agnostic"].get<bool>());
  EXPECT_EQ(lb["float_detections"].get<size_t>(), 3u);
  EXPECT_EQ(lb["quantized_detections"].get<size_t>(), 2u);
  // Against the float model (both samples): class 0 has 3 float boxes, the quantized model
  // finds 2 at precision 1 -> AP 2/3; class 1's box is missed -> AP 0; mAP 1/3.
  EXPECT_NEAR(r["map50_vs_float"].get<double>(), 1.0 / 3.0, 1e-12);
}

TEST(DetectLabels, ClassAgnosticWhenTheModelScoresOneClass) {
  // Raw SSD outputs with one score column: label classes are ignored.
  auto config = std::make_shared<SsdConfig>();
  config->anchors = {{0.25f, 0.25f, 1, 1}, {0.75f, 0.75f, 1, 1}};
  config->decode.xywh = true;
  config->source = "test";
  auto outputs = [](std::vector<float> logits) {
    return std::vector<HostTensor>{test::host<float>({1, 2, 4}, {0, 0, 0.5f, 0.5f, 0, 0, 0.5f, 0.5f}), test::host<float>({1, 2, 1}, logits)};
  };
  // The anchors decode to [0,0,0.5,0.5] and [0.5,0.5,1,1]; the labels give class 7 to both.
  Labels l;
  l.source = "boxes.csv";
  l.entries = {{"a.jpg", 0, 1}};
  l.boxes = {{{7, {0.0f, 0.0f, 0.5f, 0.5f}, 1}, {7, {0.5f, 0.5f, 1.0f, 1.0f}, 2}}};
  AccuracyEvaluator a(Task::kDetect, 2);
  a.set_ssd(config);
  a.set_box_labels(std::make_shared<Labels>(l));
  a.add(outputs({5, 5}), outputs({5, -5}), 0);  // the quantized model misses the second box
  const auto r = a.result({});
  EXPECT_TRUE(r["labels"]["class_agnostic"].get<bool>());
  EXPECT_NEAR(r["float"].get<double>(), 1.0, 1e-9);
  EXPECT_NEAR(r["quantized"].get<double>(), 0.5, 1e-9);
}

}  // namespace
}  // namespace qcal
