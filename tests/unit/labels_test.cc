// Ground-truth labels (--labels): the CSV reader, sub-folder mode, the join to samples, the
// errors, and accuracy against labels end to end through compare_models.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <opencv2/imgcodecs.hpp>

#include "op_test_util.h"
#include "qcal/error.h"
#include "qcal/labels.h"
#include "qcal/quantize.h"
#include "qcal/report_writer.h"

namespace qcal {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

void write_text(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// A solid 4x4 image, RGB given (written as BGR, as OpenCV does).
void write_image(const fs::path& p, int r, int g, int b) {
  fs::create_directories(p.parent_path());
  const cv::Mat m(4, 4, CV_8UC3, cv::Scalar(b, g, r));
  ASSERT_TRUE(cv::imwrite(p.string(), m));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Labels, CsvHeaderCommentsBlankLinesCrlfAndLastComma) {
  TempDir t;
  write_text(t.path / "l.csv", "file,label\r\n# a comment\r\n\r\na.jpg,3\r\n ./sub/b.png , 0 \r\nodd,name.jpg,12\n");
  const Labels l = read_label_csv(t.path / "l.csv");
  ASSERT_EQ(l.entries.size(), 3u);
  EXPECT_EQ(l.entries[0].file, "a.jpg");
  EXPECT_EQ(l.entries[0].label, 3);
  EXPECT_EQ(l.entries[0].line, 4);
  EXPECT_EQ(l.entries[1].file, "sub/b.png");  // trimmed and normalized
  EXPECT_EQ(l.entries[1].label, 0);
  EXPECT_EQ(l.entries[2].file, "odd,name.jpg");  // split at the last comma
  EXPECT_EQ(l.entries[2].label, 12);
  EXPECT_EQ(l.where(l.entries[2]), (t.path / "l.csv").string() + " line 6");
}

TEST(Labels, CsvWithoutHeaderAndClassNames) {
  TempDir t;
  write_text(t.path / "l.csv", "a.jpg,cat\nb.jpg,1\nc.jpg,dog\n");
  const Labels l = read_label_csv(t.path / "l.csv", {"cat", "dog"});
  ASSERT_EQ(l.entries.size(), 3u);
  EXPECT_EQ(l.entries[0].label, 0);
  EXPECT_EQ(l.entries[1].label, 1);
  EXPECT_EQ(l.entries[2].label, 1);
  // The same line repeated with the same label is fine.
  write_text(t.path / "dup.csv", "a.jpg,2\na.jpg,2\n");
  EXPECT_EQ(read_label_csv(t.path / "dup.csv").entries.size(), 1u);
}

TEST(Labels, CsvErrorsNameTheFileAndLine) {
  TempDir t;
  const std::string missing = error_of([&] { read_label_csv(t.path / "nope.csv"); });
  EXPECT_NE(missing.find("nope.csv"), std::string::npos) << missing;
  write_text(t.path / "bad.csv", "file,label\na.jpg,1\nb.jpg\n");
  const std::string no_comma = error_of([&] { read_label_csv(t.path / "bad.csv"); });
  EXPECT_NE(no_comma.find("bad.csv line 3"), std::string::npos) << no_comma;
  write_text(t.path / "word.csv", "a.jpg,1\nb.jpg,cat\n");
  const std::string word = error_of([&] { read_label_csv(t.path / "word.csv"); });
  EXPECT_NE(word.find("word.csv line 2: label 'cat'"), std::string::npos) << word;
  write_text(t.path / "neg.csv", "a.jpg,1\nb.jpg,-1\n");
  EXPECT_NE(error_of([&] { read_label_csv(t.path / "neg.csv"); }).find("neg.csv line 2"), std::string::npos);
  write_text(t.path / "conflict.csv", "a.jpg,1\nb.jpg,2\n./a.jpg,3\n");
  const std::string conflict = error_of([&] { read_label_csv(t.path / "conflict.csv"); });
  EXPECT_NE(conflict.find("conflict.csv line 3"), std::string::npos) << conflict;
  EXPECT_NE(conflict.find("line 1"), std::string::npos) << conflict;
  write_text(t.path / "empty.csv", "file,label\n\n");
  EXPECT_NE(error_of([&] { read_label_csv(t.path / "empty.csv"); }).find("empty.csv"), std::string::npos);
  for (const std::string& m : {missing, no_comma, word, conflict}) EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(Labels, SubfoldersSortedNamesOrIntegers) {
  TempDir t;
  write_image(t.path / "named" / "zebra" / "1.png", 1, 2, 3);
  write_image(t.path / "named" / "ant" / "2.png", 1, 2, 3);
  write_image(t.path / "named" / "ant" / "deeper" / "3.png", 1, 2, 3);
  write_image(t.path / "named" / "top.png", 1, 2, 3);  // no class folder: no label
  fs::create_directories(t.path / "named" / "empty");
  const Labels named = labels_from_subfolders(t.path / "named");
  EXPECT_EQ(named.class_names, (std::vector<std::string>{"ant", "empty", "zebra"}));
  ASSERT_EQ(named.entries.size(), 3u);
  std::map<std::string, int> got;
  for (const auto& e : named.entries) got[e.file] = e.label;
  EXPECT_EQ(got, (std::map<std::string, int>{{"ant/2.png", 0}, {"ant/deeper/3.png", 0}, {"zebra/1.png", 2}}));
  EXPECT_NE(named.where(named.entries[0]).find("sub-folder 'ant'"), std::string::npos);

  write_image(t.path / "numbered" / "7" / "a.png", 1, 2, 3);
  write_image(t.path / "numbered" / "12" / "b.png", 1, 2, 3);
  const Labels numbered = load_labels("subfolders", t.path / "numbered");
  EXPECT_TRUE(numbered.class_names.empty());
  got.clear();
  for (const auto& e : numbered.entries) got[e.file] = e.label;
  EXPECT_EQ(got, (std::map<std::string, int>{{"12/b.png", 12}, {"7/a.png", 7}}));

  fs::create_directories(t.path / "flat");
  write_image(t.path / "flat" / "a.png", 1, 2, 3);
  EXPECT_NE(error_of([&] { labels_from_subfolders(t.path / "flat"); }).find("no sub-folders"), std::string::npos);
  EXPECT_NE(error_of([&] { load_labels("subfolders", ""); }).find("--images"), std::string::npos);
}

TEST(Labels, JoinByRelativePathOrBareNameAndCountsStrays) {
  const fs::path root = "/data/eval";
  const std::vector<fs::path> samples = {root / "a.jpg", root / "x" / "b.jpg", root / "x" / "c.jpg", root / "y" / "c.jpg"};
  Labels l;
  l.source = "l.csv";
  l.entries = {{"a.jpg", 1, 1}, {"b.jpg", 2, 2}, {"y/c.jpg", 3, 3}, {"/data/eval/x/c.jpg", 4, 4}, {"gone.jpg", 5, 5}};
  const LabelJoin j = join_labels(l, root, samples);
  EXPECT_EQ(j.lookup(root / "a.jpg"), 1);
  EXPECT_EQ(j.lookup(root / "x" / "b.jpg"), 2);  // bare name, unique
  EXPECT_EQ(j.lookup(root / "y" / "c.jpg"), 3);
  EXPECT_EQ(j.lookup(root / "x" / "c.jpg"), 4);  // the dataset folder's own prefix
  ASSERT_EQ(j.without_sample.size(), 1u);
  EXPECT_NE(j.without_sample[0].find("gone.jpg (l.csv line 5)"), std::string::npos);

  l.entries = {{"c.jpg", 1, 7}};  // two samples are called c.jpg
  const std::string e = error_of([&] { join_labels(l, root, samples); });
  EXPECT_NE(e.find("l.csv line 7"), std::string::npos) << e;
  EXPECT_NE(e.find("x/c.jpg"), std::string::npos) << e;

  l.entries = {{"a.jpg", 1, 1}, {"./a.jpg", 2, 2}};
  EXPECT_NE(error_of([&] { join_labels(l, root, samples); }).find("l.csv line 2"), std::string::npos);
}

TEST(Labels, ClassRange) {
  Labels l;
  l.source = "l.csv";
  l.entries = {{"a.jpg", 2, 1}, {"b.jpg", 10, 9}};
  const std::string e = error_of([&] { check_label_range(l, 10, "output 'probs' [1,10]"); });
  EXPECT_NE(e.find("l.csv line 9: class 10 is out of range"), std::string::npos) << e;
  EXPECT_NE(e.find("0..9"), std::string::npos) << e;
  EXPECT_NO_THROW(check_label_range(l, 11, "x"));
}

// A tiny "classifier": the mean colour of a 4x4 RGB image, class = the brightest channel.
// Quantized with input and output ranges [0, 0.5], so channels above 0.5 saturate and tie
// (ties go to the lower class): the quantized model can be wrong where the float one is right.
struct Classifier {
  std::shared_ptr<Model> float_model, quant_model;
  Classifier() {
    test::ModelBuilder mb;
    const int in = mb.input(DType::kFloat32, {1, 4, 4, 3});
    const int axes = mb.constant_i32({2}, {1, 2});
    const int out = mb.tensor(DType::kFloat32, {1, 3}, std::nullopt, "probs");
    tflite::ReducerOptionsT o;
    o.keep_dims = false;
    mb.op(tflite::BuiltinOperator::MEAN, {in, axes}, {out}, o);
    mb.output(out);
    float_model = std::make_shared<Model>(mb.model());
    QuantizeSummary summary;
    Model q = quantize_int8(*float_model, {{in, {0.0f, 0.5f}}, {out, {0.0f, 0.5f}}}, {}, summary);
    set_quantization_record(q, {{"summary", summary.to_json()}});
    quant_model = std::make_shared<Model>(std::move(q));
  }
  ReportData report(const fs::path& images, std::shared_ptr<const Labels> labels) const {
    DatasetOptions d;
    d.images = images;

    ReportOptions ro;
    ro.task = Task::kClassify;
    ro.labels = std::move(labels);
    return compare_models(float_model, "float", quant_model, "quant", Preprocessing{}, d, ro);
  }
};

TEST(Labels, AccuracyAgainstCsvLabelsEndToEnd) {
  TempDir t;
  const fs::path img = t.path / "eval";
  write_image(img / "r1.png", 255, 0, 0);      // class 0
  write_image(img / "g1.png", 0, 255, 0);      // class 1
  write_image(img / "b1.png", 0, 0, 255);      // class 2
  write_image(img / "sub" / "r2.png", 200, 0, 0);
  write_image(img / "sub" / "g2.png", 0, 200, 0);
  write_image(img / "y.png", 153, 230, 0);     // float: 1; quantized: 0.5 = 0.5 -> 0
  write_image(img / "unlabelled.png", 0, 0, 255);
  write_text(t.path / "l.csv",
             "file,label\n"
             "r1.png,0\n"       // both right
             "g1.png,1\n"       // both right
             "b1.png,0\n"       // both wrong
             "sub/r2.png,0\n"   // both right
             "g2.png,2\n"       // bare name; both wrong
             "y.png,1\n"        // float right, quantized wrong
             "missing.png,1\n"  // no such image
  );
  const Classifier c;
  const ReportData d = c.report(img, std::make_shared<Labels>(read_label_csv(t.path / "l.csv")));
  const nlohmann::json& a = d.accuracy;
  EXPECT_EQ(a["metric"], "top1_accuracy");
  EXPECT_DOUBLE_EQ(a["float"].get<double>(), 4.0 / 6);
  EXPECT_DOUBLE_EQ(a["quantized"].get<double>(), 3.0 / 6);
  EXPECT_DOUBLE_EQ(a["drop"].get<double>(), 1.0 / 6);
  EXPECT_DOUBLE_EQ(a["top1_agreement"].get<double>(), 6.0 / 7);  // only y.png flips
  const nlohmann::json& l = a["labels"];
  EXPECT_EQ(l["labelled_samples"], 6);
  EXPECT_EQ(l["unlabelled_samples"], 1);
  EXPECT_EQ(l["entries"], 7);
  EXPECT_EQ(l["entries_without_sample"], 1);
  EXPECT_DOUBLE_EQ(l["float_top1_accuracy"].get<double>(), 4.0 / 6);
  EXPECT_DOUBLE_EQ(l["quantized_top1_accuracy"].get<double>(), 3.0 / 6);
  EXPECT_DOUBLE_EQ(l["float_top5_accuracy"].get<double>(), 1.0);  // 3 classes: top-5 holds them all

  // The report files show it.
  const nlohmann::json r = report_json(d);
  const std::string md = report_markdown(r), html = report_html(r);
  EXPECT_NE(md.find("Against the labels"), std::string::npos);
  EXPECT_NE(md.find("| top1 accuracy | 0.6667 | 0.5000 | 0.1667 |"), std::string::npos) << md;
  EXPECT_NE(md.find("6 labelled samples, 1 without a label; 1 label entry names no sample"), std::string::npos) << md;
  EXPECT_NE(html.find("Against the labels"), std::string::npos);
}

TEST(Labels, AccuracyAgainstSubfoldersEndToEnd) {
  TempDir t;
  const fs::path img = t.path / "eval";
  write_image(img / "0" / "a.png", 255, 0, 0);
  write_image(img / "1" / "b.png", 0, 255, 0);
  write_image(img / "1" / "y.png", 153, 230, 0);  // float right, quantized wrong
  write_image(img / "2" / "c.png", 0, 0, 255);
  write_image(img / "2" / "wrong.png", 0, 255, 0);  // both wrong
  const Classifier c;
  const ReportData d = c.report(img, std::make_shared<Labels>(load_labels("subfolders", img)));
  EXPECT_DOUBLE_EQ(d.accuracy["float"].get<double>(), 4.0 / 5);
  EXPECT_DOUBLE_EQ(d.accuracy["quantized"].get<double>(), 3.0 / 5);
  EXPECT_EQ(d.accuracy["labels"]["unlabelled_samples"], 0);
}

TEST(Labels, ReportErrors) {
  TempDir t;
  const fs::path img = t.path / "eval";
  write_image(img / "a.png", 255, 0, 0);
  const Classifier c;
  Labels l;
  l.source = "l.csv";
  l.entries = {{"a.png", 3, 2}};  // the classifier has 3 classes: 0..2
  const std::string range = error_of([&] { c.report(img, std::make_shared<Labels>(l)); });
  EXPECT_NE(range.find("l.csv line 2: class 3 is out of range: the model's output 'probs' [1,3] has 3 classes"),
            std::string::npos) << range;
  l.entries = {{"other.png", 1, 2}};
  EXPECT_NE(error_of([&] { c.report(img, std::make_shared<Labels>(l)); }).find("no entry names a sample"), std::string::npos);
  DatasetOptions d;
  d.images = img;

  ReportOptions ro;
  ro.task = Task::kLandmarks;
  ro.labels = std::make_shared<Labels>(l);
  EXPECT_NE(error_of([&] { compare_models(c.float_model, "f", c.quant_model, "q", Preprocessing{}, d, ro); })
                .find("--task classify"),
            std::string::npos);
}

}  // namespace
}  // namespace qcal
