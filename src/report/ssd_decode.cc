// Raw SSD outputs -> detections: anchors as MediaPipe's SsdAnchorsCalculator generates them,
// box decoding as its TensorsToDetectionsCalculator, then hard or weighted NMS.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include "qcal/error.h"
#include "qcal/npy.h"
#include "qcal/ssd.h"

namespace qcal {
namespace {

// Linear between min and max over the stride index (the midpoint for a single stride).
float layer_scale(float lo, float hi, int index, int count) {
  if (count == 1) return 0.5f * (lo + hi);
  return lo + (hi - lo) * index / (count - 1.0f);
}

float overlap(const SsdDetection& a, const SsdDetection& b) {
  const float iw = std::min(a.xmax, b.xmax) - std::max(a.xmin, b.xmin);
  const float ih = std::min(a.ymax, b.ymax) - std::max(a.ymin, b.ymin);
  if (iw <= 0 || ih <= 0) return 0;
  const float inter = iw * ih;
  const float area_sum = (a.xmax - a.xmin) * (a.ymax - a.ymin) + (b.xmax - b.xmin) * (b.ymax - b.ymin);
  return area_sum - inter > 0 ? inter / (area_sum - inter) : 0;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, sep);) out.push_back(part);
  return out;
}

float to_float(const std::string& key, const std::string& v) {
  try {
    size_t used = 0;
    const float f = std::stof(v, &used);
    if (used == v.size() && std::isfinite(f)) return f;
  } catch (const std::exception&) {
  }
  throw Error("--ssd-anchors: " + key + "=" + v + " is not a number");
}

bool to_bool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw Error("--ssd-anchors: " + key + "=" + v + " is not true or false");
}

// MediaPipe's face detection decoding (x, y, w, h relative to the anchor in input pixels,
// sigmoid scores clipped at 100, weighted NMS at IoU 0.3).
SsdDecodeOptions face_decode(float input_size, float threshold) {
  SsdDecodeOptions d;
  d.x_scale = d.y_scale = d.w_scale = d.h_scale = input_size;
  d.xywh = true;
  d.score_clip = 100;
  d.score_threshold = threshold;
  return d;
}

}  // namespace

SsdAnchorOptions ssd_preset_anchor_options(const std::string& name) {
  SsdAnchorOptions o;
  o.min_scale = 0.1484375f;
  o.max_scale = 0.75f;
  o.aspect_ratios = {1.0f};
  o.fixed_anchor_size = true;
  if (name == "mediapipe-face-short") {
    o.input_height = o.input_width = 128;
    o.num_layers = 4;
    o.strides = {8, 16, 16, 16};
  } else if (name == "mediapipe-face-full") {
    o.input_height = o.input_width = 192;
    o.num_layers = 1;
    o.strides = {4};
    o.interpolated_scale_aspect_ratio = 0;
  } else {
    throw Error("--ssd-anchors: unknown preset '" + name + "' (mediapipe-face-short, mediapipe-face-full, or key=value,...)");
  }
  return o;
}

std::vector<SsdAnchor> generate_ssd_anchors(const SsdAnchorOptions& o) {
  if (o.num_layers <= 0) throw Error("SSD anchors: num_layers must be positive, is " + std::to_string(o.num_layers));
  if (static_cast<int>(o.strides.size()) < o.num_layers)
    throw Error("SSD anchors: " + std::to_string(o.strides.size()) + " strides for " + std::to_string(o.num_layers) +
                " layers (give one stride per layer)");
  if (o.input_height <= 0 || o.input_width <= 0) throw Error("SSD anchors: the input size must be positive");
  if (o.aspect_ratios.empty()) throw Error("SSD anchors: no aspect_ratios");
  for (int s : o.strides)
    if (s <= 0) throw Error("SSD anchors: strides must be positive");
  const int num_strides = static_cast<int>(o.strides.size());
  std::vector<SsdAnchor> anchors;
  int layer = 0;
  while (layer < o.num_layers) {
    // Consecutive layers with one stride share a feature map: their anchors interleave per cell.
    std::vector<float> ratios, scales;
    int last = layer;
    for (; last < num_strides && o.strides[last] == o.strides[layer]; ++last) {
      const float scale = layer_scale(o.min_scale, o.max_scale, last, num_strides);
      if (last == 0 && o.reduce_boxes_in_lowest_layer) {
        ratios.insert(ratios.end(), {1.0f, 2.0f, 0.5f});
        scales.insert(scales.end(), {0.1f, scale, scale});
        continue;
      }
      for (float r : o.aspect_ratios) ratios.push_back(r), scales.push_back(scale);
      if (o.interpolated_scale_aspect_ratio > 0) {
        const float next = last == num_strides - 1 ? 1.0f : layer_scale(o.min_scale, o.max_scale, last + 1, num_strides);
        scales.push_back(std::sqrt(scale * next));
        ratios.push_back(o.interpolated_scale_aspect_ratio);
      }
    }
    const int stride = o.strides[layer];
    const int rows = static_cast<int>(std::ceil(static_cast<float>(o.input_height) / stride));
    const int cols = static_cast<int>(std::ceil(static_cast<float>(o.input_width) / stride));
    for (int y = 0; y < rows; ++y)
      for (int x = 0; x < cols; ++x)
        for (size_t k = 0; k < ratios.size(); ++k) {
          SsdAnchor a;
          a.x_center = (x + o.anchor_offset_x) / cols;
          a.y_center = (y + o.anchor_offset_y) / rows;
          if (o.fixed_anchor_size) {
            a.w = a.h = 1.0f;
          } else {
            const float r = std::sqrt(ratios[k]);
            a.h = scales[k] / r;
            a.w = scales[k] * r;
          }
          anchors.push_back(a);
        }
    layer = last;
  }
  return anchors;
}

std::vector<SsdAnchor> load_anchors(const std::filesystem::path& path) {
  std::vector<SsdAnchor> out;
  const std::string ext = path.extension().string();
  if (ext == ".npy") {
    const HostTensor t = read_npy(path);
    if (t.shape.size() != 2 || t.shape[1] != 4)
      throw Error(path.string() + ": anchors must be [N, 4] (y_center, x_center, h, w), is " + shape_str(t.shape));
    if (t.dtype != DType::kFloat32 && t.dtype != DType::kFloat64)
      throw Error(path.string() + ": anchors must be float32 or float64, are " + dtype_name(t.dtype));
    for (int64_t i = 0; i < t.shape[0]; ++i) {
      float v[4];
      for (int j = 0; j < 4; ++j)
        v[j] = t.dtype == DType::kFloat32 ? t.as<float>()[4 * i + j] : static_cast<float>(t.as<double>()[4 * i + j]);
      out.push_back({v[0], v[1], v[2], v[3]});
    }
  } else {
    std::ifstream in(path);
    if (!in) throw Error(path.string() + ": cannot read the anchors file");
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
      std::replace(line.begin(), line.end(), ',', ' ');
      std::istringstream ls(line);
      std::vector<std::string> cells;
      for (std::string c; ls >> c;) cells.push_back(c);
      if (cells.empty()) continue;
      float v[4];
      bool numeric = cells.size() == 4;
      for (size_t j = 0; numeric && j < 4; ++j) {
        char* end = nullptr;
        v[j] = std::strtof(cells[j].c_str(), &end);
        numeric = end && *end == '\0' && std::isfinite(v[j]);
      }
      if (!numeric) {
        if (out.empty() && n == 1) continue;  // a header
        throw Error(path.string() + ":" + std::to_string(n) + ": expected 4 numbers (y_center, x_center, h, w)");
      }
      out.push_back({v[0], v[1], v[2], v[3]});
    }
  }
  if (out.empty()) throw Error(path.string() + ": no anchors");
  return out;
}

std::vector<SsdDetection> ssd_nms(std::vector<SsdDetection> cand, const SsdDecodeOptions& o) {
  std::stable_sort(cand.begin(), cand.end(), [](const SsdDetection& a, const SsdDetection& b) { return a.score > b.score; });
  std::vector<SsdDetection> kept;
  std::vector<char> alive(cand.size(), 1);
  for (size_t i = 0; i < cand.size(); ++i) {
    if (!alive[i]) continue;
    if (o.max_detections > 0 && static_cast<int>(kept.size()) >= o.max_detections) break;
    SsdDetection best = cand[i];
    double wsum = 0, ymin = 0, xmin = 0, ymax = 0, xmax = 0;
    for (size_t j = i; j < cand.size(); ++j) {
      if (!alive[j] || (j != i && overlap(cand[i], cand[j]) <= o.iou_threshold)) continue;
      alive[j] = 0;
      const double w = cand[j].score;
      wsum += w, ymin += w * cand[j].ymin, xmin += w * cand[j].xmin, ymax += w * cand[j].ymax, xmax += w * cand[j].xmax;
    }
    if (o.weighted_nms && wsum > 0) {
      best.ymin = static_cast<float>(ymin / wsum), best.xmin = static_cast<float>(xmin / wsum);
      best.ymax = static_cast<float>(ymax / wsum), best.xmax = static_cast<float>(xmax / wsum);
    }
    kept.push_back(best);
  }
  return kept;
}

std::vector<SsdDetection> decode_ssd(const float* boxes, int box_stride, const float* scores, int num_classes,
                                     const std::vector<SsdAnchor>& anchors, const SsdDecodeOptions& o) {
  if (box_stride < 4) throw Error("SSD boxes need at least 4 values per anchor, have " + std::to_string(box_stride));
  if (num_classes < 1) throw Error("SSD scores need at least one class");
  std::vector<SsdDetection> cand;
  for (size_t i = 0; i < anchors.size(); ++i) {
    const float* s = scores + i * num_classes;
    const int cls = static_cast<int>(std::max_element(s, s + num_classes) - s);
    float score = s[cls];
    if (o.sigmoid) {
      if (o.score_clip > 0) score = std::clamp(score, -o.score_clip, o.score_clip);
      score = 1.0f / (1.0f + std::exp(-score));
    }
    if (!(score >= o.score_threshold)) continue;
    const float* b = boxes + i * box_stride;
    const SsdAnchor& a = anchors[i];
    const float ry = o.xywh ? b[1] : b[0], rx = o.xywh ? b[0] : b[1];
    const float rh = o.xywh ? b[3] : b[2], rw = o.xywh ? b[2] : b[3];
    const float yc = ry / o.y_scale * a.h + a.y_center;
    const float xc = rx / o.x_scale * a.w + a.x_center;
    const float h = o.exp_size ? std::exp(rh / o.h_scale) * a.h : rh / o.h_scale * a.h;
    const float w = o.exp_size ? std::exp(rw / o.w_scale) * a.w : rw / o.w_scale * a.w;
    SsdDetection d;
    d.ymin = yc - h / 2, d.xmin = xc - w / 2, d.ymax = yc + h / 2, d.xmax = xc + w / 2;
    d.score = score;
    d.cls = cls;
    cand.push_back(d);
  }
  return ssd_nms(std::move(cand), o);
}

bool SsdFlags::any() const { return !anchors_file.empty() || !ssd_anchors.empty(); }

SsdConfig make_ssd_config(const SsdFlags& f) {
  if (!f.anchors_file.empty() && !f.ssd_anchors.empty())
    throw Error("give --anchors FILE or --ssd-anchors SPEC, not both");
  if (!f.any()) throw Error("raw SSD outputs need --anchors FILE or --ssd-anchors SPEC (e.g. mediapipe-face-short)");
  SsdConfig c;
  if (!f.anchors_file.empty()) {
    c.anchors = load_anchors(f.anchors_file);
    c.source = f.anchors_file;
  } else {
    SsdAnchorOptions a;
    bool have_preset = false, seen_key = false;
    for (const std::string& item : split(f.ssd_anchors, ',')) {
      const size_t eq = item.find('=');
      if (eq == std::string::npos) {
        if (have_preset || seen_key)
          throw Error("--ssd-anchors: '" + item + "': a preset comes first, then key=value pairs");
        a = ssd_preset_anchor_options(item);
        c.decode = face_decode(static_cast<float>(a.input_width), item == "mediapipe-face-full" ? 0.6f : 0.5f);
        have_preset = true;
        c.source = "preset " + item;
        continue;
      }
      const std::string k = item.substr(0, eq), v = item.substr(eq + 1);
      seen_key = true;
      if (k == "num_layers") a.num_layers = static_cast<int>(to_float(k, v));
      else if (k == "min_scale") a.min_scale = to_float(k, v);
      else if (k == "max_scale") a.max_scale = to_float(k, v);
      else if (k == "input_size") a.input_height = a.input_width = static_cast<int>(to_float(k, v));
      else if (k == "input_height") a.input_height = static_cast<int>(to_float(k, v));
      else if (k == "input_width") a.input_width = static_cast<int>(to_float(k, v));
      else if (k == "anchor_offset") a.anchor_offset_x = a.anchor_offset_y = to_float(k, v);
      else if (k == "anchor_offset_x") a.anchor_offset_x = to_float(k, v);
      else if (k == "anchor_offset_y") a.anchor_offset_y = to_float(k, v);
      else if (k == "interpolated_scale_aspect_ratio") a.interpolated_scale_aspect_ratio = to_float(k, v);
      else if (k == "reduce_boxes_in_lowest_layer") a.reduce_boxes_in_lowest_layer = to_bool(k, v);
      else if (k == "fixed_anchor_size") a.fixed_anchor_size = to_bool(k, v);
      else if (k == "strides" || k == "aspect_ratios") {
        if (k == "strides") a.strides.clear();
        else a.aspect_ratios.clear();
        for (const std::string& x : split(v, ':')) {
          if (k == "strides") a.strides.push_back(static_cast<int>(to_float(k, x)));
          else a.aspect_ratios.push_back(to_float(k, x));
        }
      } else {
        throw Error("--ssd-anchors: unknown key '" + k +
                    "' (num_layers, min_scale, max_scale, input_size, input_height, input_width, anchor_offset, "
                    "anchor_offset_x, anchor_offset_y, strides, aspect_ratios, interpolated_scale_aspect_ratio, "
                    "reduce_boxes_in_lowest_layer, fixed_anchor_size)");
      }
    }
    if (!have_preset) c.source = "ssd-anchors " + f.ssd_anchors;
    else if (c.source != "preset " + f.ssd_anchors) c.source = "ssd-anchors " + f.ssd_anchors;
    c.anchors = generate_ssd_anchors(a);
  }
  if (f.box_scale > 0) c.decode.x_scale = c.decode.y_scale = c.decode.w_scale = c.decode.h_scale = f.box_scale;
  if (f.score_threshold >= 0) c.decode.score_threshold = f.score_threshold;
  if (f.iou_threshold >= 0) c.decode.iou_threshold = f.iou_threshold;
  if (f.max_detections >= 0) c.decode.max_detections = f.max_detections;
  if (!f.box_order.empty()) {
    if (f.box_order != "xywh" && f.box_order != "yxhw") throw Error("--box-order must be xywh or yxhw, is '" + f.box_order + "'");
    c.decode.xywh = f.box_order == "xywh";
  }
  if (!f.box_size.empty()) {
    if (f.box_size != "linear" && f.box_size != "exp") throw Error("--box-size must be linear or exp, is '" + f.box_size + "'");
    c.decode.exp_size = f.box_size == "exp";
  }
  return c;
}

}  // namespace qcal
