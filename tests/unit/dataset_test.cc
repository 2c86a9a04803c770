// Dataset loading and pre-processing.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "op_test_util.h"
#include "qcal/dataset.h"
#include "qcal/error.h"
#include "qcal/npy.h"

namespace qcal {
namespace {

namespace fs = std::filesystem;

Tensor image_input(int h, int w, int c, DType dtype = DType::kFloat32) {
  Tensor t;
  t.name = "image";
  t.dtype = dtype;
  t.shape = {1, h, w, c};
  return t;
}

using test::TempDir;

// A 4x2 BGR image whose pixel (y, x) has B = 10*y + x, G = 100, R = 200.
cv::Mat gradient_image() {
  cv::Mat m(4, 2, CV_8UC3);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 2; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(10 * y + x), 100, 200);
  return m;
}

// --images LIST: one path per line, relative to the list's folder or absolute, in the list's
// order; blank and '#' lines skipped, CRLF line ends accepted; labels resolve under its folder.
TEST(Dataset, ImageListFileIsReadLineByLine) {
  TempDir dir;
  std::filesystem::create_directories(dir.path / "sub");
  { std::ofstream(dir.path / "list.txt") << "# calibration set\r\nsub/b.png\r\n\n  \na.jpg\n" << (dir.path / "c.png").string() << "\n"; }
  EXPECT_EQ(list_images(dir.path / "list.txt"),
            (std::vector<std::filesystem::path>{dir.path / "sub/b.png", dir.path / "a.jpg", dir.path / "c.png"}));
  EXPECT_EQ(images_root(dir.path / "list.txt"), dir.path);
  EXPECT_EQ(images_root(dir.path), dir.path);
  { std::ofstream(dir.path / "empty.txt") << "# nothing\n\n"; }
  try {
    list_images(dir.path / "empty.txt");
    ADD_FAILURE() << "an empty list was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty.txt: lists no images"), std::string::npos) << e.what();
  }
}

TEST(Dataset, RgbOrderMeanStdAndLayout) {
  const cv::Mat img = gradient_image();
  Preprocessing p;
  p.mean = {0, 100, 200};
  p.std = {2, 1, 1};
  // Same size: stretch is an exact copy, so every value is predictable.
  const HostTensor rgb = preprocess_image(img.data, 4, 2, 3, image_input(4, 2, 3), p);
  const float* v = rgb.as<float>();
  // NHWC, RGB: channel 0 is R=200 -> (200-0)/2 = 100; channel 2 is B -> (B-200)/1.
  EXPECT_FLOAT_EQ(v[0], 100.0f);
  EXPECT_FLOAT_EQ(v[1], 0.0f);
  EXPECT_FLOAT_EQ(v[2], 0.0f - 200.0f);
  EXPECT_FLOAT_EQ(v[(3 * 2 + 1) * 3 + 2], 31.0f - 200.0f);  // pixel (3,1)

  p.color = Preprocessing::Color::kBGR;
  p.layout = Preprocessing::Layout::kNCHW;
  Tensor nchw = image_input(4, 2, 3);
  nchw.shape = {1, 3, 4, 2};
  const HostTensor bgr = preprocess_image(img.data, 4, 2, 3, nchw, p);
  // plane 0 is B: (B - 0)/2
  EXPECT_FLOAT_EQ(bgr.as<float>()[3 * 2 + 1], 31.0f / 2);
  EXPECT_FLOAT_EQ(bgr.as<float>()[8], 0.0f);  // plane 1 = G - 100
}

// --color gray for a 3-channel input: every channel holds the pixel's luma (OpenCV's BT.601
// weights), not the decoder's BGR order left as it was.
TEST(Dataset, GrayColorFillsEveryChannelOfAColorInputWithLuma) {
  const cv::Mat img = gradient_image();
  Preprocessing p;
  p.color = Preprocessing::Color::kGray;
  p.mean = {0};
  p.std = {1};
  const HostTensor g = preprocess_image(img.data, 4, 2, 3, image_input(4, 2, 3), p);
  const float* v = g.as<float>();
  for (int px = 0; px < 8; ++px) {
    const int b = 10 * (px / 2) + px % 2;
    const float luma = std::round(0.114f * b + 0.587f * 100 + 0.299f * 200);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(v[3 * px + c], luma, 1.0f) << "pixel " << px << " channel " << c;
    EXPECT_EQ(v[3 * px], v[3 * px + 2]) << "pixel " << px;
  }
}

TEST(Dataset, QuantizedInputsAreQuantizedAfterNormalization) {
  const cv::Mat img = gradient_image();
  Preprocessing p;
  p.mean = {127.5f};
  p.std = {127.5f};
  Tensor t = image_input(4, 2, 3, DType::kInt8);
  Quantization q;
  q.scale = {1.0f / 128};
  q.zero_point = {0};
  t.quantization = q;
  const HostTensor h = preprocess_image(img.data, 4, 2, 3, t, p);
  // R = 200 -> (200-127.5)/127.5 = 0.5686 -> round(72.78) = 73
  EXPECT_EQ(h.as<int8_t>()[0], 73);
}

TEST(Dataset, CropAndLetterboxKeepAspectRatio) {
  // 2 rows x 4 cols: left half black, right half white.
  cv::Mat img(2, 4, CV_8UC3, cv::Scalar(0, 0, 0));
  img(cv::Rect(2, 0, 2, 2)).setTo(cv::Scalar(255, 255, 255));
  Preprocessing p;
  p.mean = {0};
  p.std = {1};
  p.resize = Preprocessing::Resize::kLetterbox;
  const HostTensor lb = preprocess_image(img.data, 2, 4, 3, image_input(4, 4, 3), p);
  // Letterbox: the 2x4 image fills rows 1..2 of a 4x4 canvas; rows 0 and 3 are black bars.
  EXPECT_FLOAT_EQ(lb.as<float>()[(0 * 4 + 3) * 3], 0.0f);
  EXPECT_FLOAT_EQ(lb.as<float>()[(1 * 4 + 3) * 3], 255.0f);
  EXPECT_FLOAT_EQ(lb.as<float>()[(3 * 4 + 3) * 3], 0.0f);
  p.resize = Preprocessing::Resize::kCrop;
  const HostTensor cr = preprocess_image(img.data, 2, 4, 3, image_input(2, 2, 3), p);
  // Crop keeps the centre 2x2: one black column then one white.
  EXPECT_FLOAT_EQ(cr.as<float>()[0], 0.0f);
  EXPECT_FLOAT_EQ(cr.as<float>()[3], 255.0f);
}

TEST(Dataset, RejectsInputsThatAreNotImages) {
  Preprocessing p;
  Tensor t = image_input(4, 2, 3);
  t.shape = {1, 10};
  const cv::Mat img = gradient_image();
  EXPECT_THROW(preprocess_image(img.data, 4, 2, 3, t, p), Error);
  t.shape = {1, 4, 2, 5};
  EXPECT_THROW(preprocess_image(img.data, 4, 2, 3, t, p), Error);
}

Model one_input_model(int h, int w) {
  test::ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, h, w, 3});
  b.output(x);
  return b.model();
}

TEST(Dataset, StreamsSortedSkipsCorruptReportsDuplicates) {
  TempDir dir;
  fs::create_directories(dir.path / "sub");
  cv::imwrite((dir.path / "b.png").string(), gradient_image());
  cv::imwrite((dir.path / "sub" / "a.png").string(), gradient_image() * 0.5);
  fs::copy_file(dir.path / "b.png", dir.path / "c_copy.png");
  std::ofstream(dir.path / "broken.jpg") << "not a jpeg";
  std::ofstream(dir.path / "notes.txt") << "ignored";

  const Model m = one_input_model(4, 2);
  Preprocessing p;
  DatasetOptions o;
  o.images = dir.path;

  o.batch = 2;
  std::vector<float> first_values;
  size_t samples = 0;
  const DatasetReport r = stream_dataset(m, 0, p, o, [&](std::vector<std::vector<HostTensor>>& batch) {
    for (auto& s : batch) {
      first_values.push_back(s[0].as<float>()[2]);
      ++samples;
    }
  });
  EXPECT_EQ(r.found, 4u);
  EXPECT_EQ(r.used, 3u);
  EXPECT_EQ(samples, 3u);
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_NE(r.skipped[0].first.find("broken.jpg"), std::string::npos);
  ASSERT_EQ(r.duplicates.size(), 1u);
  EXPECT_NE(r.duplicates[0].first.find("c_copy.png"), std::string::npos);
  EXPECT_EQ(r.channel_mean.size(), 3u);
  EXPECT_FALSE(r.warnings.empty());  // the duplicate, at least
}

TEST(Dataset, SamplingIsReproducibleAndZeroUsableIsAnError) {
  TempDir dir;
  for (int i = 0; i < 6; ++i) cv::imwrite((dir.path / ("img" + std::to_string(i) + ".png")).string(), gradient_image() + cv::Scalar(i, i, i));
  const Model m = one_input_model(4, 2);
  DatasetOptions o;
  o.images = dir.path;

  o.num = 3;
  o.seed = 42;
  auto collect = [&] {
    std::vector<float> v;
    stream_dataset(m, 0, Preprocessing{}, o, [&](std::vector<std::vector<HostTensor>>& batch) {
      for (auto& s : batch) v.push_back(s[0].as<float>()[1]);
    });
    return v;
  };
  const std::vector<float> a = collect(), b = collect();
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a, b);

  TempDir bad;
  std::ofstream(bad.path / "x.png") << "garbage";
  o.images = bad.path;
  o.num = 0;
  EXPECT_THROW(stream_dataset(m, 0, Preprocessing{}, o, [](auto&) {}), Error);
  TempDir empty;
  o.images = empty.path;
  EXPECT_THROW(stream_dataset(m, 0, Preprocessing{}, o, [](auto&) {}), Error);
}

// The message of the Error `f` throws ("" when it throws none); never more than one line.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return msg;
  }
  return "";
}

TEST(Dataset, NormalizationNeedsOneValueOrOnePerChannelFiniteAndNonzero) {
  TempDir dir;
  cv::imwrite((dir.path / "a.png").string(), gradient_image());
  const Model m = one_input_model(4, 2);
  DatasetOptions o;
  o.images = dir.path;

  auto stream = [&](std::vector<float> mean, std::vector<float> std) {
    Preprocessing p;
    p.mean = std::move(mean);
    p.std = std::move(std);
    p.normalization_source = "user";
    return error_of([&] { stream_dataset(m, 0, p, o, [](auto&) {}); });
  };
  EXPECT_EQ(stream({0}, {255}), "");
  EXPECT_EQ(stream({1, 2, 3}, {4, 5, 6}), "");
  EXPECT_EQ(stream({1}, {4, 5, 6}), "");
  // Two values for three channels used to read past the end of the vector.
  EXPECT_NE(stream({0, 0}, {255, 255}).find("2 values"), std::string::npos) << stream({0, 0}, {255, 255});
  EXPECT_NE(stream({0}, {255, 255, 255, 255}).find("3 channels"), std::string::npos);
  EXPECT_NE(stream({NAN}, {255}).find("finite"), std::string::npos);
  EXPECT_NE(stream({0}, {INFINITY}).find("finite"), std::string::npos);
  EXPECT_NE(stream({0}, {0}).find("std"), std::string::npos);
  EXPECT_NE(stream({}, {255}).find("mean"), std::string::npos);
  // preprocess_image, public on its own, checks the same.
  Preprocessing p;
  p.mean = {0, 0};
  const cv::Mat img = gradient_image();
  EXPECT_NE(error_of([&] { preprocess_image(img.data, 4, 2, 3, image_input(4, 2, 3), p); }), "");
}

TEST(Dataset, NpyInputsMustHaveTheInputShape) {
  TempDir dir;
  const Model m = one_input_model(4, 2);  // float32 [1,4,2,3]
  DatasetOptions o;
  o.inputs = dir.path;

  write_npy(dir.path / "good.npy", HostTensor::zeros("x", DType::kFloat32, {1, 4, 2, 3}));
  size_t samples = 0;
  stream_dataset(m, 0, Preprocessing{}, o, [&](std::vector<std::vector<HostTensor>>& b) { samples += b.size(); });
  EXPECT_EQ(samples, 1u);
  // The same number of elements in NCHW order is another array, not this input.
  write_npy(dir.path / "nchw.npy", HostTensor::zeros("x", DType::kFloat32, {1, 3, 4, 2}));
  const std::string msg = error_of([&] { stream_dataset(m, 0, Preprocessing{}, o, [](auto&) {}); });
  EXPECT_NE(msg.find("nchw.npy"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1,3,4,2]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1,4,2,3]"), std::string::npos) << msg;
}

}  // namespace
}  // namespace qcal
