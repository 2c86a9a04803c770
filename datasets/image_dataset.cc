// A folder of images (or .npy tensors) -> batches of model inputs.
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <sstream>
#include <string_view>

#include "qcal/dataset.h"
#include "qcal/image_decode.h"
#include "qcal/json_read.h"
#include "qcal/error.h"
#include "qcal/files.h"
#include "qcal/model_io.h"
#include "qcal/npy.h"
#include "qcal/run_tools.h"

namespace qcal {
namespace fs = std::filesystem;

// ---- pre-processing description ------------------------------------------------------------

const char* to_string(Preprocessing::Resize r) {
  switch (r) {
    case Preprocessing::Resize::kStretch: return "stretch";
    case Preprocessing::Resize::kCrop: return "crop";
    case Preprocessing::Resize::kLetterbox: return "letterbox";
  }
  return "?";
}
const char* to_string(Preprocessing::Color c) {
  switch (c) {
    case Preprocessing::Color::kRGB: return "rgb";
    case Preprocessing::Color::kBGR: return "bgr";
    case Preprocessing::Color::kGray: return "gray";
  }
  return "?";
}
const char* to_string(Preprocessing::Layout l) { return l == Preprocessing::Layout::kNHWC ? "nhwc" : "nchw"; }

Preprocessing::Resize parse_resize(const std::string& s) {
  if (s == "stretch") return Preprocessing::Resize::kStretch;
  if (s == "crop") return Preprocessing::Resize::kCrop;
  if (s == "letterbox") return Preprocessing::Resize::kLetterbox;
  throw Error("--resize " + s + ": expected stretch, crop or letterbox");
}
Preprocessing::Color parse_color(const std::string& s) {
  if (s == "rgb") return Preprocessing::Color::kRGB;
  if (s == "bgr") return Preprocessing::Color::kBGR;
  if (s == "gray") return Preprocessing::Color::kGray;
  throw Error("--color " + s + ": expected rgb, bgr or gray");
}
Preprocessing::Layout parse_layout(const std::string& s) {
  if (s == "nhwc") return Preprocessing::Layout::kNHWC;
  if (s == "nchw") return Preprocessing::Layout::kNCHW;
  throw Error("--layout " + s + ": expected nhwc or nchw");
}

namespace {
std::string floats_str(const std::vector<float>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
  return s.str();
}
float channel_value(const std::vector<float>& v, int c) { return v.size() == 1 ? v[0] : v[static_cast<size_t>(c)]; }
}  // namespace

std::string Preprocessing::describe() const {
  std::ostringstream s;
  s << "resize=" << to_string(resize) << " (bilinear" << (resize == Resize::kLetterbox ? ", black bars" : "") << ")"
    << " color=" << to_string(color) << " layout=" << to_string(layout) << " x'=(x-mean)/std on 0..255 with mean="
    << floats_str(mean) << " std=" << floats_str(std) << " [" << normalization_source << "]";
  return s.str();
}

nlohmann::json Preprocessing::to_json() const {
  return {{"resize", to_string(resize)}, {"interpolation", "bilinear"}, {"color", to_string(color)},
          {"layout", to_string(layout)}, {"mean", mean}, {"std", std}, {"normalization_source", normalization_source}};
}

Preprocessing Preprocessing::from_json(const nlohmann::json& j) {
  Preprocessing p;
  p.resize = parse_resize(j.at("resize"));
  p.color = parse_color(j.at("color"));
  p.layout = parse_layout(j.at("layout"));
  auto value = [](const nlohmann::json& e) { return json_float(e, "a pre-processing mean/std value"); };
  p.mean = json_array(j.at("mean"), "mean", value);
  p.std = json_array(j.at("std"), "std", value);
  p.normalization_source = j.value("normalization_source", "user");
  return p;
}

// ---- one image -> one input ----------------------------------------------------------------

InputGeometry input_geometry(const Tensor& t, Preprocessing::Layout layout) {
  Shape s = t.shape;
  if (s.size() == 4) {
    if (s[0] != 1) throw Error("input '" + t.name + "' has batch " + std::to_string(s[0]) + "; image inputs need batch 1");
    s.erase(s.begin());
  }
  if (s.size() != 3)
    throw Error("input '" + t.name + "' has shape " + shape_str(t.shape) + ", not an image (expected [1,H,W,C] or [1,C,H,W])");
  InputGeometry g;
  if (layout == Preprocessing::Layout::kNHWC) {
    g.height = s[0], g.width = s[1], g.channels = s[2];
  } else {
    g.channels = s[0], g.height = s[1], g.width = s[2];
  }
  if (g.channels != 1 && g.channels != 3)
    throw Error("input '" + t.name + "' has " + std::to_string(g.channels) + " channels in " + to_string(layout) +
                " layout; images have 1 or 3 (wrong --layout?)");
  g.dtype = t.dtype;
  g.quant = t.quantization ? &*t.quantization : nullptr;
  if (g.dtype != DType::kFloat32 && g.dtype != DType::kUInt8 && g.dtype != DType::kInt8)
    throw Error("input '" + t.name + "' is " + dtype_name(g.dtype) + "; image inputs must be float32, uint8 or int8");
  return g;
}

void check_normalization(const Preprocessing& p, const Tensor& input) {
  const int channels = input_geometry(input, p.layout).channels;
  for (const auto& [name, values] : {std::pair{"mean", &p.mean}, std::pair{"std", &p.std}}) {
    const std::string what = p.normalization_source == "user" ? std::string("--") + name
                                                                : std::string(name) + " (" + p.normalization_source + ")";
    if (values->size() != 1 && values->size() != static_cast<size_t>(channels))
      throw Error(what + " has " + std::to_string(values->size()) + " values, but input '" + input.name + "' has " +
                  std::to_string(channels) + " channels: give 1 value or " + std::to_string(channels));
    for (float v : *values) {
      if (!std::isfinite(v)) throw Error(what + " values must be finite numbers, got " + floats_str(*values));
      if (v == 0 && std::string_view(name) == "std") throw Error(what + " values must be nonzero");
    }
  }
}

HostTensor preprocess_image(const uint8_t* pixels, int height, int width, int channels, const Tensor& input,
                            const Preprocessing& p) {
  check_normalization(p, input);
  const InputGeometry g = input_geometry(input, p.layout);
  cv::Mat src(height, width, channels == 1 ? CV_8UC1 : CV_8UC3, const_cast<uint8_t*>(pixels));
  // Never convert in place: `src` is the caller's memory.
  cv::Mat color;
  if (g.channels == 1) {
    if (channels == 3) cv::cvtColor(src, color, cv::COLOR_BGR2GRAY); else color = src;
  } else if (channels == 1) {
    cv::cvtColor(src, color, p.color == Preprocessing::Color::kRGB ? cv::COLOR_GRAY2RGB : cv::COLOR_GRAY2BGR);
  } else if (p.color == Preprocessing::Color::kGray) {
    // A 3-channel input fed gray images (a model trained on them): the luma in every channel.
    cv::Mat luma;
    cv::cvtColor(src, luma, cv::COLOR_BGR2GRAY);
    cv::cvtColor(luma, color, cv::COLOR_GRAY2BGR);
  } else if (p.color == Preprocessing::Color::kRGB) {
    cv::cvtColor(src, color, cv::COLOR_BGR2RGB);
  } else {
    color = src;
  }
  // Resize into the model's H x W.
  cv::Mat sized;
  if (p.resize == Preprocessing::Resize::kStretch) {
    cv::resize(color, sized, cv::Size(g.width, g.height), 0, 0, cv::INTER_LINEAR);
  } else if (p.resize == Preprocessing::Resize::kCrop) {
    // Scale the shorter side to fit, then take the centre.
    const double s = std::max(static_cast<double>(g.width) / width, static_cast<double>(g.height) / height);
    cv::Mat scaled;
    cv::resize(color, scaled, cv::Size(std::max(g.width, static_cast<int>(std::lround(width * s))),
                                       std::max(g.height, static_cast<int>(std::lround(height * s)))), 0, 0, cv::INTER_LINEAR);
    const int x0 = (scaled.cols - g.width) / 2, y0 = (scaled.rows - g.height) / 2;
    sized = scaled(cv::Rect(x0, y0, g.width, g.height)).clone();
  } else {
    // Scale the longer side to fit, pad the rest with black.
    const double s = std::min(static_cast<double>(g.width) / width, static_cast<double>(g.height) / height);
    const int w = std::max(1, static_cast<int>(std::lround(width * s))), h = std::max(1, static_cast<int>(std::lround(height * s)));
    cv::Mat scaled;
    cv::resize(color, scaled, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
    sized = cv::Mat::zeros(g.height, g.width, scaled.type());
    scaled.copyTo(sized(cv::Rect((g.width - w) / 2, (g.height - h) / 2, w, h)));
  }
  HostTensor out = HostTensor::zeros(input.name, input.dtype, input.shape);
  const int C = g.channels, H = g.height, W = g.width;
  const float qscale = g.quant && g.quant->has_scale() ? g.quant->scale[0] : 0.0f;
  const int32_t qzp = g.quant && !g.quant->zero_point.empty() ? static_cast<int32_t>(g.quant->zero_point[0]) : 0;
  for (int y = 0; y < H; ++y) {
    const uint8_t* row = sized.ptr<uint8_t>(y);
    for (int x = 0; x < W; ++x) {
      for (int c = 0; c < C; ++c) {
        const float v = (row[x * C + c] - channel_value(p.mean, c)) / channel_value(p.std, c);
        const size_t idx = p.layout == Preprocessing::Layout::kNHWC ? (static_cast<size_t>(y) * W + x) * C + c
                                                                    : (static_cast<size_t>(c) * H + y) * W + x;
        if (g.dtype == DType::kFloat32) {
          out.as<float>()[idx] = v;
        } else if (qscale > 0) {  // quantized integer input: quantize the normalized value
          const long q = std::lround(v / qscale) + qzp;
          if (g.dtype == DType::kInt8) out.as<int8_t>()[idx] = static_cast<int8_t>(std::clamp<long>(q, -128, 127));
          else out.as<uint8_t>()[idx] = static_cast<uint8_t>(std::clamp<long>(q, 0, 255));
        } else {  // raw integer pixels
          if (g.dtype == DType::kInt8) out.as<int8_t>()[idx] = static_cast<int8_t>(std::clamp<long>(std::lround(v), -128, 127));
          else out.as<uint8_t>()[idx] = static_cast<uint8_t>(std::clamp<long>(std::lround(v), 0, 255));
        }
      }
    }
  }
  return out;
}

// ---- folders ------------------------------------------------------------------------------------

fs::path images_root(const fs::path& images) {
  std::error_code ec;
  return fs::is_regular_file(images, ec) ? images.parent_path() : images;
}

// A list file: one image path per line, relative to the list's folder (or absolute); blank
// lines and lines starting with '#' are skipped. Listed files that cannot be read are counted
// and skipped with a warning when decoded, as a folder's are.
std::vector<fs::path> list_images_from_file(const fs::path& list) {
  const std::vector<uint8_t> bytes = read_file_bytes(list);
  const std::string text(bytes.begin(), bytes.end());
  std::vector<fs::path> out;
  size_t line_no = 0;
  for (size_t at = 0; at <= text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    at = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    if (line.find('\0') != std::string::npos) throw Error(list.string() + " line " + std::to_string(line_no) + ": not a text line");
    const fs::path p(line);
    out.push_back(p.is_absolute() ? p : list.parent_path() / p);
  }
  if (out.empty()) throw Error(list.string() + ": lists no images (one path per line)");
  return out;
}

std::vector<fs::path> list_images(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) return list_images_from_file(dir);
  if (!fs::is_directory(dir, ec)) throw Error(dir.string() + ": not a folder (nor a file listing images)");
  std::vector<fs::path> out;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    // Anything named like an image is listed, so what cannot be read (a dangling link, a FIFO,
    // a folder named x.jpg) is counted and skipped with a warning instead of vanishing.
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".webp") out.push_back(it->path());
  }
  if (ec) throw Error(dir.string() + ": cannot list (" + ec.message() + ")");
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

uint64_t fnv1a(const std::vector<uint8_t>& b) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t c : b) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Picks `num` of `n` items reproducibly, keeping their sorted order.
std::vector<size_t> sample_indices(size_t n, int num, uint32_t seed) {
  std::vector<size_t> idx(n);
  for (size_t i = 0; i < n; ++i) idx[i] = i;
  if (num > 0 && static_cast<size_t>(num) < n) {
    std::mt19937 rng(seed);
    std::shuffle(idx.begin(), idx.end(), rng);
    idx.resize(static_cast<size_t>(num));
    std::sort(idx.begin(), idx.end());
  }
  return idx;
}

struct ChannelAccumulator {
  std::vector<double> sum, sum_sq, min, max;
  uint64_t count = 0;
  void add(const HostTensor& t, int channels, Preprocessing::Layout layout) {
    if (t.dtype != DType::kFloat32) return;
    if (sum.empty()) {
      sum.assign(channels, 0);
      sum_sq.assign(channels, 0);
      min.assign(channels, INFINITY);
      max.assign(channels, -INFINITY);
    }
    const float* x = t.as<float>();
    const int64_t n = t.size(), per = n / channels;
    for (int64_t i = 0; i < n; ++i) {
      const int c = layout == Preprocessing::Layout::kNHWC ? static_cast<int>(i % channels) : static_cast<int>(i / per);
      sum[c] += x[i];
      sum_sq[c] += static_cast<double>(x[i]) * x[i];
      min[c] = std::min<double>(min[c], x[i]);
      max[c] = std::max<double>(max[c], x[i]);
    }
    count += static_cast<uint64_t>(per);
  }
};

}  // namespace

nlohmann::json DatasetReport::to_json() const {
  nlohmann::json skip = nlohmann::json::array(), dup = nlohmann::json::array();
  for (const auto& [f, why] : skipped) skip.push_back({{"file", f}, {"reason", why}});
  for (const auto& [f, same] : duplicates) dup.push_back({{"file", f}, {"same_as", same}});
  return {{"found", found}, {"used", used}, {"skipped", skip}, {"duplicates", dup},
          {"channel_mean", channel_mean}, {"channel_std", channel_std}, {"channel_min", channel_min},
          {"channel_max", channel_max}, {"warnings", warnings}};
}

std::vector<fs::path> list_samples(const Model& model, int subgraph, const DatasetOptions& opt) {
  const Subgraph& sg = model.subgraphs.at(subgraph);
  const bool images = !opt.images.empty();
  if (images == !opt.inputs.empty()) throw Error("give exactly one of --images DIR or --inputs DIR");
  if (images && sg.inputs.size() != 1)
    throw Error("--images needs a model with one input; this one has " + std::to_string(sg.inputs.size()) +
                " (use --inputs DIR with one .npy per input)");

  // Image files, .npy files, or per-sample folders of <input>.npy.
  std::vector<fs::path> files;
  if (images) {
    files = list_images(opt.images);
    if (files.empty()) throw Error(opt.images.string() + ": no images found (jpg, jpeg, png, bmp, webp)");
  } else {
    std::error_code ec;
    if (!fs::is_directory(opt.inputs, ec)) throw Error(opt.inputs.string() + ": not a folder");
    for (const auto& e : fs::directory_iterator(opt.inputs)) {
      if (sg.inputs.size() == 1 ? e.path().extension() == ".npy" : e.is_directory()) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty())
      throw Error(opt.inputs.string() + (sg.inputs.size() == 1 ? ": no .npy files" : ": no per-sample folders of <input name>.npy files"));
  }
  return files;
}

DatasetReport stream_dataset(const Model& model, int subgraph, const Preprocessing& pre, const DatasetOptions& opt,
                             const std::function<void(std::vector<std::vector<HostTensor>>&)>& consume) {
  return stream_dataset(model, subgraph, pre, opt,
                        [&](std::vector<std::vector<HostTensor>>& batch, const std::vector<fs::path>&) { consume(batch); });
}

DatasetReport stream_dataset(const Model& model, int subgraph, const Preprocessing& pre, const DatasetOptions& opt,
                             const std::function<void(std::vector<std::vector<HostTensor>>&, const std::vector<fs::path>&)>& consume) {
  const Subgraph& sg = model.subgraphs.at(subgraph);
  DatasetReport report;
  const bool images = !opt.images.empty();
  const std::vector<fs::path> files = list_samples(model, subgraph, opt);
  report.found = files.size();
  const std::vector<size_t> chosen = sample_indices(files.size(), opt.num, opt.seed);

  const Tensor& first_input = sg.tensors[sg.inputs[0]];
  InputGeometry geom;
  if (images) {
    geom = input_geometry(first_input, pre.layout);
    check_normalization(pre, first_input);
  }

  // No image file at the pixel limit needs more (an uncompressed 32-bit BMP, plus headers).
  const uint64_t max_image_bytes = opt.max_pixels * 4 + (uint64_t{1} << 20);
  std::map<uint64_t, std::string> seen;  // content hash -> first file
  ChannelAccumulator channels;
  const auto start = std::chrono::steady_clock::now();
  tbb::task_arena arena(std::max(1, opt.threads));
  size_t done = 0;
  for (size_t begin = 0; begin < chosen.size(); begin += static_cast<size_t>(opt.batch)) {
    if (interrupt_requested()) throw Error("interrupted");
    const size_t end = std::min(chosen.size(), begin + static_cast<size_t>(opt.batch));
    struct Slot {
      std::vector<HostTensor> sample;
      std::string error;
      bool wrong_shape = false;  // not a damaged file but the wrong array: an error, not a skip
      uint64_t hash = 0;
    };
    std::vector<Slot> slots(end - begin);
    arena.execute([&] {
      tbb::parallel_for(size_t{0}, slots.size(), [&](size_t i) {
        const fs::path& f = files[chosen[begin + i]];
        Slot& s = slots[i];
        try {
          if (images) {
            const std::vector<uint8_t> bytes = read_file_bytes(f, max_image_bytes);
            s.hash = fnv1a(bytes);
            const DecodedImage img = decode_image(bytes, geom.channels == 1, opt.max_pixels);
            s.sample.push_back(preprocess_image(img.pixels.data(), img.height, img.width, img.channels, first_input, pre));
          } else if (sg.inputs.size() == 1) {
            s.sample.push_back(read_npy(f));
          } else {
            for (int32_t ti : sg.inputs) {
              std::string name = sg.tensors[ti].name;
              std::replace_if(name.begin(), name.end(), [](char c) { return c == '/' || c == ':'; }, '_');
              s.sample.push_back(read_npy(f / (name + ".npy")));
            }
          }
          for (size_t k = 0; k < s.sample.size(); ++k) {
            const Tensor& t = sg.tensors[sg.inputs[k]];
            if (s.sample[k].dtype != t.dtype || samples_in(s.sample[k].shape, t.shape) != 1) {
              s.wrong_shape = true;
              throw Error(std::string("holds ") + dtype_name(s.sample[k].dtype) + shape_str(s.sample[k].shape) + ", input '" +
                          t.name + "' needs " + dtype_name(t.dtype) + shape_str(t.shape));
            }
            s.sample[k].shape = t.shape;
            s.sample[k].name = t.name;
          }
        } catch (const std::exception& e) {
          s.error = e.what();
          s.sample.clear();
        }
      });
    });
    std::vector<std::vector<HostTensor>> batch;
    std::vector<fs::path> batch_files;
    for (size_t i = 0; i < slots.size(); ++i) {
      const std::string name = files[chosen[begin + i]].string();
      if (!slots[i].error.empty()) {
        std::string why = slots[i].error;
        if (why.rfind(name + ": ", 0) == 0) why = why.substr(name.size() + 2);
        if (slots[i].wrong_shape) throw Error(name + ": " + why);
        if (opt.on_skip) opt.on_skip(name, why);
        report.skipped.push_back({name, why});
        continue;
      }
      if (images) {
        auto [it, fresh] = seen.emplace(slots[i].hash, name);
        if (!fresh) report.duplicates.push_back({name, it->second});
        channels.add(slots[i].sample[0], geom.channels, pre.layout);
      }
      batch.push_back(std::move(slots[i].sample));
      batch_files.push_back(files[chosen[begin + i]]);
    }
    report.used += batch.size();
    done = end;
    if (!batch.empty()) consume(batch, batch_files);
    if (opt.on_progress)
      opt.on_progress(done, chosen.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  if (report.used == 0)
    throw Error((images ? opt.images : opt.inputs).string() + ": no usable samples (" + std::to_string(report.skipped.size()) +
                " skipped)");
  if (!report.duplicates.empty()) {
    std::ostringstream w;
    w << report.duplicates.size() << " exact-duplicate image" << (report.duplicates.size() == 1 ? "" : "s")
      << " (e.g. " << report.duplicates[0].first << " = " << report.duplicates[0].second
      << "): duplicates add no information to calibration";
    report.warnings.push_back(w.str());
  }
  if (channels.count) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t c = 0; c < channels.sum.size(); ++c) {
      const double mean = channels.sum[c] / channels.count;
      report.channel_mean.push_back(mean);
      report.channel_std.push_back(std::sqrt(std::max(0.0, channels.sum_sq[c] / channels.count - mean * mean)));
      report.channel_min.push_back(channels.min[c]);
      report.channel_max.push_back(channels.max[c]);
      lo = std::min(lo, channels.min[c]);
      hi = std::max(hi, channels.max[c]);
    }
    if (hi - lo < 0.05)
      report.warnings.push_back("model inputs span only [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                "]: pixels look normalized twice (check --mean/--std)");
    else if (hi > 20.0)
      report.warnings.push_back("model inputs reach " + std::to_string(hi) +
                                ": pixels look unnormalized, while float models usually expect [0,1] or [-1,1] (check --mean/--std)");
  }
  return report;
}

}  // namespace qcal
