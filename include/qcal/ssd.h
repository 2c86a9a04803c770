// Raw SSD-style detector outputs (box regressors + class scores per anchor), decoded the way
// MediaPipe's SsdAnchorsCalculator + TensorsToDetectionsCalculator + NonMaxSuppression do
// (TF object detection's anchor semantics), for `--task detect` on models without
// TFLite_Detection_PostProcess.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace qcal {

// Normalized to the input: centre and size in [0, 1] units.
struct SsdAnchor {
  float y_center = 0, x_center = 0, h = 0, w = 0;
};

// MediaPipe's SsdAnchorsCalculatorOptions (feature maps from the strides).
struct SsdAnchorOptions {
  int input_height = 0, input_width = 0;
  int num_layers = 0;
  float min_scale = 0, max_scale = 0;
  float anchor_offset_x = 0.5f, anchor_offset_y = 0.5f;
  std::vector<int> strides;
  std::vector<float> aspect_ratios;
  bool reduce_boxes_in_lowest_layer = false;
  float interpolated_scale_aspect_ratio = 1.0f;  // <= 0: no interpolated anchor
  bool fixed_anchor_size = false;                // every anchor w = h = 1
};

// The presets: "mediapipe-face-short" (face_detection_short_range, 896 anchors) and
// "mediapipe-face-full" (face_detection_full_range, 2304); throws qcal::Error on another name.
SsdAnchorOptions ssd_preset_anchor_options(const std::string& name);
// Throws qcal::Error when the options are inconsistent (e.g. fewer strides than layers).
std::vector<SsdAnchor> generate_ssd_anchors(const SsdAnchorOptions& options);
// [N, 4] y_center, x_center, h, w: a .npy (float32/float64) or a CSV (one anchor a line,
// comma- or space-separated; '#' comments and a non-numeric header line are skipped).
std::vector<SsdAnchor> load_anchors(const std::filesystem::path& path);

struct SsdDecodeOptions {
  float x_scale = 1, y_scale = 1, w_scale = 1, h_scale = 1;
  bool xywh = false;             // box coordinates x, y, w, h (MediaPipe's reverse_output_order); else y, x, h, w
  bool exp_size = false;         // size = exp(raw / scale) * anchor (TF); else raw / scale * anchor (MediaPipe default)
  bool sigmoid = true;           // scores are logits
  float score_clip = 0;          // > 0: logits clamped to [-clip, clip] before the sigmoid
  float score_threshold = 0.5f;  // kept when score >= threshold
  float iou_threshold = 0.3f;    // suppressed when IoU > threshold
  bool weighted_nms = true;      // MediaPipe's WEIGHTED: a cluster's box is the score-weighted mean
  int max_detections = 0;        // 0: no limit
};

struct SsdDetection {
  float ymin = 0, xmin = 0, ymax = 0, xmax = 0;  // normalized
  float score = 0;
  int cls = 0;
};

// boxes: num_anchors x box_stride floats (the first 4 are the box); scores: num_anchors x
// num_classes. Each anchor keeps its best class; detections best first.
std::vector<SsdDetection> decode_ssd(const float* boxes, int box_stride, const float* scores, int num_classes,
                                     const std::vector<SsdAnchor>& anchors, const SsdDecodeOptions& options);
// Greedy NMS (hard or weighted) over detections; returns them best first.
std::vector<SsdDetection> ssd_nms(std::vector<SsdDetection> candidates, const SsdDecodeOptions& options);

// What `--task detect` needs for raw outputs.
struct SsdConfig {
  std::vector<SsdAnchor> anchors;
  SsdDecodeOptions decode;
  std::string source;  // "preset mediapipe-face-short", "anchors.npy", ...
};

// The CLI's flags. ssd_anchors: a preset (mediapipe-face-short, mediapipe-face-full) and/or
// key=value pairs separated by commas (num_layers, min_scale, max_scale, input_size or
// input_height/input_width, anchor_offset, strides=8:16:16:16, aspect_ratios=1.0,
// interpolated_scale_aspect_ratio, reduce_boxes_in_lowest_layer, fixed_anchor_size).
// Negative numbers / empty strings: not given (the preset's or the default value).
struct SsdFlags {
  std::string anchors_file, ssd_anchors, box_order, box_size;
  float box_scale = -1, score_threshold = -1, iou_threshold = -1;
  int max_detections = -1;
  bool any() const;
};
// Throws qcal::Error with a one-line message on a bad spec; !flags.any() is an error too.
SsdConfig make_ssd_config(const SsdFlags& flags);

}  // namespace qcal
