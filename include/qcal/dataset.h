// Representative datasets: a folder of images, pre-processed exactly as the model expects,
// or a folder of raw .npy tensors. Samples are produced in batches so memory does not grow
// with the number of images.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qcal/executor.h"
#include "qcal/files.h"
#include "qcal/model.h"

namespace qcal {

// How pixels become a model input. Applied to 0..255 pixel values: x' = (x - mean) / std.
struct Preprocessing {
  enum class Resize { kStretch, kCrop, kLetterbox };
  enum class Color { kRGB, kBGR, kGray };
  enum class Layout { kNHWC, kNCHW };
  Resize resize = Resize::kStretch;
  Color color = Color::kRGB;
  Layout layout = Layout::kNHWC;
  std::vector<float> mean = {0.0f};    // one value, or one per channel
  std::vector<float> std = {255.0f};   // one value, or one per channel
  std::string normalization_source = "default";  // "default", "metadata" or "user"

  std::string describe() const;  // one line, printed and recorded in every output file
  nlohmann::json to_json() const;
  static Preprocessing from_json(const nlohmann::json& j);
};

const char* to_string(Preprocessing::Resize r);
const char* to_string(Preprocessing::Color c);
const char* to_string(Preprocessing::Layout l);
Preprocessing::Resize parse_resize(const std::string& s);
Preprocessing::Color parse_color(const std::string& s);
Preprocessing::Layout parse_layout(const std::string& s);

// The normalization a model's TFLite metadata (TFLITE_METADATA, NormalizationOptions of the
// first input) asks for, if it has any.
std::optional<std::pair<std::vector<float>, std::vector<float>>> metadata_normalization(const Model& model);

// What the input tensor expects: height, width, channels and dtype, from its shape.
struct InputGeometry {
  int height = 0, width = 0, channels = 0;
  DType dtype = DType::kFloat32;
  const Quantization* quant = nullptr;  // for int8/uint8 model inputs
};
InputGeometry input_geometry(const Tensor& input, Preprocessing::Layout layout);

// Throws unless mean and std each hold one value or one per channel of `input`, all finite,
// std nonzero (a shorter list would be read past its end).
void check_normalization(const Preprocessing& p, const Tensor& input);

// Decodes nothing: turns an 8-bit BGR/gray image (OpenCV Mat, passed as bytes) into the
// model input. Public so deployment code can share it.
HostTensor preprocess_image(const uint8_t* pixels, int height, int width, int channels, const Tensor& input,
                            const Preprocessing& p);

struct DatasetOptions {
  std::filesystem::path images;   // --images DIR (recursive), or a file listing image paths
  std::filesystem::path inputs;   // --inputs DIR of .npy files (exclusive with images)
  int num = 0;                    // 0: all
  uint32_t seed = 0;
  int threads = 1;
  int batch = 32;                 // samples decoded at a time
  // Told as samples are read (done of total, seconds so far) and of each file skipped, as it
  // happens; the library prints nothing itself (the CLI draws the progress bar).
  std::function<void(size_t done, size_t total, double seconds)> on_progress;
  std::function<void(const std::string& file, const std::string& why)> on_skip;
  uint64_t max_pixels = 40'000'000;  // larger images are skipped from their header, undecoded
};

struct DatasetReport {
  size_t found = 0, used = 0;
  std::vector<std::pair<std::string, std::string>> skipped;         // file, reason
  std::vector<std::pair<std::string, std::string>> duplicates;      // file, same as file
  std::vector<double> channel_mean, channel_std, channel_min, channel_max;  // of the model input
  std::vector<std::string> warnings;
  nlohmann::json to_json() const;
};

// Lists image files under `dir` recursively (jpg, jpeg, png, bmp, webp), sorted; or, when
// `dir` is a file, the paths it lists one per line (relative to its folder; blank lines and
// '#' lines skipped), in its order.
std::vector<std::filesystem::path> list_images(const std::filesystem::path& dir);

// The folder sample paths are relative to (labels name files under it): `images` itself, or
// the folder of a list file.
std::filesystem::path images_root(const std::filesystem::path& images);

// The samples stream_dataset reads, before --num sampling: image files under --images
// (sorted; a list file's in its order), or .npy files (multi-input models: per-sample
// folders) under --inputs, sorted.
std::vector<std::filesystem::path> list_samples(const Model& model, int subgraph, const DatasetOptions& options);

// Streams the dataset through `consume` in batches of pre-processed samples (each sample:
// one HostTensor per model input). Unreadable files are skipped with a warning; zero usable
// samples is an error. Decoding runs in parallel; an interruption (qcal/files.h) stops between
// batches with an Error("interrupted").
DatasetReport stream_dataset(const Model& model, int subgraph, const Preprocessing& pre, const DatasetOptions& options,
                             const std::function<void(std::vector<std::vector<HostTensor>>&)>& consume);
// The same, also giving each sample's source (files[i] is batch[i]'s path, as list_samples
// lists it), e.g. to join ground-truth labels.
DatasetReport stream_dataset(const Model& model, int subgraph, const Preprocessing& pre, const DatasetOptions& options,
                             const std::function<void(std::vector<std::vector<HostTensor>>& batch,
                                                      const std::vector<std::filesystem::path>& files)>& consume);

}  // namespace qcal
