// Report building blocks: error statistics, task accuracy, and the report files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "op_test_util.h"
#include "qcal/error.h"
#include "qcal/report_writer.h"

namespace qcal {
namespace {

HostTensor floats(const Shape& shape, const std::vector<float>& v) { return test::host(shape, v); }

TEST(ErrorStats, KnownValues) {
  const std::vector<float> ref = {1, 2, 3, 4};
  const std::vector<float> test = {1, 2, 3, 5};
  ErrorStats s;
  s.add(ref.data(), test.data(), 4, 1.5f, 3.5f);
  EXPECT_NEAR(s.sqnr_db(), 10 * std::log10(30.0 / 1.0), 1e-9);
  EXPECT_NEAR(s.mse(), 0.25, 1e-12);
  EXPECT_EQ(s.max_abs, 1.0);
  EXPECT_NEAR(s.clip_fraction(), 0.5, 1e-12);  // 1 and 4 lie outside [1.5, 3.5]
  EXPECT_NEAR(s.cosine(), 34.0 / std::sqrt(30.0 * 39.0), 1e-12);
  ErrorStats same;
  same.add(ref.data(), ref.data(), 4);
  EXPECT_TRUE(std::isinf(same.sqnr_db()));
  EXPECT_DOUBLE_EQ(same.cosine(), 1.0);
}

TEST(Accuracy, ClassifyAgreement) {
  AccuracyEvaluator a(Task::kClassify, 224);
  a.add({floats({1, 4}, {0.1f, 0.7f, 0.1f, 0.1f})}, {floats({1, 4}, {0.1f, 0.6f, 0.2f, 0.1f})});  // same top-1
  a.add({floats({1, 4}, {0.5f, 0.4f, 0.0f, 0.1f})}, {floats({1, 4}, {0.4f, 0.5f, 0.0f, 0.1f})});  // top-1 flips
  const auto r = a.result({});
  EXPECT_DOUBLE_EQ(r["top1_agreement"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(r["top5_agreement"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(r["drop"].get<double>(), 0.5);
}

TEST(Accuracy, SegmentationMaskAgreementAndMiou) {
  AccuracyEvaluator a(Task::kSegment, 4);
  // 4 pixels, one channel: float mask 1,1,0,0; quantized 1,0,0,0.
  a.add({floats({1, 2, 2, 1}, {0.9f, 0.8f, 0.1f, 0.2f})}, {floats({1, 2, 2, 1}, {0.9f, 0.4f, 0.1f, 0.2f})});
  const auto r = a.result({});
  EXPECT_DOUBLE_EQ(r["pixel_agreement"].get<double>(), 0.75);
  // foreground IoU 1/2, background IoU 2/3
  EXPECT_NEAR(r["quantized"].get<double>(), (0.5 + 2.0 / 3) / 2, 1e-12);
}

TEST(Accuracy, DetectionMapAgainstFloatDetections) {
  AccuracyEvaluator a(Task::kDetect, 300);
  auto outputs = [](std::vector<float> boxes, std::vector<float> classes, std::vector<float> scores) {
    const int n = static_cast<int>(scores.size());
    return std::vector<HostTensor>{floats({1, n, 4}, boxes), floats({1, n}, classes), floats({1, n}, scores),
                                   floats({1}, {static_cast<float>(n)})};
  };
  // Two float boxes; the quantized model finds the first (shifted a little) and misses the second.
  a.add(outputs({0, 0, 0.5f, 0.5f, 0.5f, 0.5f, 1, 1}, {1, 1}, {0.9f, 0.8f}),
        outputs({0.01f, 0, 0.5f, 0.5f, 0, 0.5f, 0.2f, 0.9f}, {1, 1}, {0.9f, 0.3f}));
  const auto r = a.result({});
  EXPECT_NEAR(r["quantized"].get<double>(), 0.5, 1e-9);  // recall 1/2 at precision 1
  EXPECT_THROW(a.add({floats({1, 8}, std::vector<float>(8))}, {floats({1, 8}, std::vector<float>(8))}), Error);
}

// mAP50: a quantized box matches a float one at IoU >= 0.5, not below (IoU 0.4 and 0.6 here).
TEST(Accuracy, DetectionMatchesFromIouOneHalf) {
  auto outputs = [](std::vector<float> box) {
    return std::vector<HostTensor>{floats({1, 1, 4}, box), floats({1, 1}, {1}), floats({1, 1}, {0.9f}), floats({1}, {1})};
  };
  for (const float width : {0.4f, 0.6f}) {
    AccuracyEvaluator a(Task::kDetect, 300);
    a.add(outputs({0, 0, 1, 1}), outputs({0, 0, 1, width}));  // IoU = width
    EXPECT_NEAR(a.result({})["quantized"].get<double>(), width >= 0.5f ? 1.0 : 0.0, 1e-9) << "IoU " << width;
  }
}

TEST(Accuracy, LandmarksNormalizedError) {
  AccuracyEvaluator a(Task::kLandmarks, 100);
  a.add({floats({1, 2}, {10, 20})}, {floats({1, 2}, {11, 18})});
  EXPECT_NEAR(a.result({})["quantized"].get<double>(), (1.0 + 2.0) / 2 / 100, 1e-8);
  EXPECT_THROW(parse_task("segmentation"), Error);
}

TEST(ReportFiles, JsonKeysMarkdownAndSelfContainedHtml) {
  ReportData d;
  d.float_model = "f.tflite";
  d.quant_model = "q.tflite";
  d.samples = 2;
  d.matching = "tensor map";
  LayerReport good, bad;
  const std::vector<float> ref = {1, 2, 3, 4}, close = {1, 2, 3, 4.01f}, far = {1, 3, 2, 0};
  good.tensor = 3, good.name = "good", good.op_name = "CONV_2D", good.op = 0, good.quantized = true, good.scale = 0.1f;
  good.accumulated.add(ref.data(), close.data(), 4);
  good.isolated.add(ref.data(), close.data(), 4);
  good.has_isolated = true;
  bad = good;
  bad.tensor = 5, bad.name = "bad<&>", bad.op = 1;
  bad.accumulated = ErrorStats();
  bad.accumulated.add(ref.data(), far.data(), 4);
  bad.isolated = bad.accumulated;
  d.layers = {good, bad};
  OutputReport o;
  o.name = "out";
  o.stats.add(ref.data(), close.data(), 4);
  d.outputs = {o};
  d.accuracy = AccuracyEvaluator(Task::kGeneric, 1).result(d.outputs);
  const nlohmann::json j = report_json(d);
  ASSERT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["layers"][0]["name"], "bad<&>");  // worst first
  for (const char* k : {"tensor", "name", "op", "sqnr_db", "cosine", "mse", "max_abs", "clip_fraction", "isolated_sqnr_db"})
    EXPECT_TRUE(j["layers"][0].contains(k)) << k;
  for (const char* k : {"outputs", "accuracy", "preprocessing", "calibration"}) EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["outputs"][0]["name"], "out");

  const test::TempDir tmp;  // unique: parallel runs never share it
  const auto dir = tmp.path / "report";
  write_report(dir, d);
  std::ifstream html(dir / "report.html");
  const std::string text((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_EQ(text.find("<script"), std::string::npos);
  // Self-contained: the only URL allowed is the SVG namespace (a name, never fetched).
  std::string without_namespace = text;
  for (const std::string ns : {"xmlns='http://www.w3.org/2000/svg'", "xmlns=\"http://www.w3.org/2000/svg\""})
    for (size_t at; (at = without_namespace.find(ns)) != std::string::npos;) without_namespace.erase(at, ns.size());
  EXPECT_EQ(without_namespace.find("http://"), std::string::npos);
  EXPECT_EQ(without_namespace.find("https://"), std::string::npos);
  EXPECT_EQ(text.find("bad<&>"), std::string::npos);  // escaped
  EXPECT_NE(text.find("bad&lt;&amp;&gt;"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir / "report.md"));
  EXPECT_TRUE(nlohmann::json::parse(std::ifstream(dir / "report.json")).is_object());
}

}  // namespace
}  // namespace qcal
