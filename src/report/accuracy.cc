// Task accuracy of a quantized model against its float model (and against labels).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "qcal/error.h"
#include "qcal/labels.h"
#include "qcal/report_writer.h"

namespace qcal {
namespace {

std::vector<float> floats(const HostTensor& t) {
  if (t.dtype != DType::kFloat32) throw Error("output '" + t.name + "' is not float");
  return std::vector<float>(t.as<float>(), t.as<float>() + t.size());
}

std::vector<int> top_k(const std::vector<float>& v, int k) {
  std::vector<int> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min<int>(k, static_cast<int>(v.size()));
  // Ties go to the lower class index, so the answer does not depend on the sort.
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  idx.resize(k);
  return idx;
}

// Box [ymin, xmin, ymax, xmax] overlap.
double iou(const float* a, const float* b) {
  const double ih = std::max(0.0, static_cast<double>(std::min(a[2], b[2])) - std::max(a[0], b[0]));
  const double iw = std::max(0.0, static_cast<double>(std::min(a[3], b[3])) - std::max(a[1], b[1]));
  const double inter = ih * iw;
  const double ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return ua > 0 ? inter / ua : 0;
}

// Raw SSD outputs: two outputs [1, N, B] and [1, N, C] with one N; the boxes are the one
// with more values per anchor (at least 4; the first on a tie).
bool find_raw_ssd(const std::vector<HostTensor>& o, size_t& boxes, size_t& scores) {
  for (size_t i = 0; i < o.size(); ++i)
    for (size_t j = i + 1; j < o.size(); ++j) {
      const Shape &a = o[i].shape, &b = o[j].shape;
      if (a.size() != 3 || b.size() != 3 || a[0] != 1 || b[0] != 1 || a[1] != b[1]) continue;
      boxes = a[2] >= b[2] ? i : j;
      scores = boxes == i ? j : i;
      if (o[boxes].shape[2] >= 4) return true;
    }
  return false;
}

}  // namespace

void AccuracyEvaluator::add_raw_ssd(const std::vector<HostTensor>& f, const std::vector<HostTensor>& q, size_t bi,
                                    size_t si) {
  const HostTensor &b = f[bi], &s = f[si];
  if (!ssd_)
    throw Error("--task detect: outputs '" + b.name + "' " + shape_str(b.shape) + " and '" + s.name + "' " + shape_str(s.shape) +
                " are raw SSD boxes/scores; pass --ssd-anchors PRESET (mediapipe-face-short, mediapipe-face-full) or "
                "key=value,... or --anchors FILE (.npy/.csv [N,4] y_center,x_center,h,w)");
  const int n = b.shape[1];
  model_classes_ = s.shape[2];
  if (static_cast<size_t>(n) != ssd_->anchors.size())
    throw Error("--task detect: " + ssd_->source + " gives " + std::to_string(ssd_->anchors.size()) + " anchors, the model's '" +
                b.name + "' " + shape_str(b.shape) + " has " + std::to_string(n) + " boxes");
  auto decode = [&](const std::vector<HostTensor>& o, std::vector<Detection>& into) {
    const std::vector<float> boxes = floats(o[bi]), scores = floats(o[si]);
    for (const SsdDetection& d : decode_ssd(boxes.data(), b.shape[2], scores.data(), s.shape[2], ssd_->anchors, ssd_->decode))
      into.push_back({{d.ymin, d.xmin, d.ymax, d.xmax}, d.cls, d.score, static_cast<int>(samples_)});
  };
  decode(f, truth_);
  decode(q, found_);
}

AccuracyEvaluator::AccuracyEvaluator(Task task, int input_width) : task_(task), input_width_(std::max(1, input_width)) {}

Task parse_task(const std::string& s) {
  if (s == "classify") return Task::kClassify;
  if (s == "detect") return Task::kDetect;
  if (s == "segment") return Task::kSegment;
  if (s == "landmarks") return Task::kLandmarks;
  if (s == "generic") return Task::kGeneric;
  throw Error("unknown --task '" + s + "' (classify, detect, segment, landmarks, generic)");
}

const char* task_name(Task t) {
  switch (t) {
    case Task::kClassify: return "classify";
    case Task::kDetect: return "detect";
    case Task::kSegment: return "segment";
    case Task::kLandmarks: return "landmarks";
    case Task::kGeneric: return "generic";
  }
  return "generic";
}

void AccuracyEvaluator::add(const std::vector<HostTensor>& f, const std::vector<HostTensor>& q, int label) {
  if (f.empty() || f.size() != q.size()) throw Error("accuracy: the models' outputs do not match");
  ++samples_;
  switch (task_) {
    case Task::kClassify: {
      const std::vector<float> a = floats(f[0]), b = floats(q[0]);
      const std::vector<int> ta = top_k(a, 5), tb = top_k(b, 5);
      top1_agree_ += ta[0] == tb[0];
      top5_agree_ += std::find(tb.begin(), tb.end(), ta[0]) != tb.end();
      if (label >= 0) {
        ++labelled_;
        float_correct_ += ta[0] == label;
        quant_correct_ += tb[0] == label;
        float_top5_correct_ += std::find(ta.begin(), ta.end(), label) != ta.end();
        quant_top5_correct_ += std::find(tb.begin(), tb.end(), label) != tb.end();
      }
      break;
    }
    case Task::kSegment: {
      // The mask: the first output with a spatial layout [1, H, W, C]; C = 1 is a
      // probability thresholded at 0.5, C > 1 is argmax over classes.
      size_t k = 0;
      while (k + 1 < f.size() && f[k].shape.size() != 4) ++k;
      const std::vector<float> a = floats(f[k]), b = floats(q[k]);
      const int c = f[k].shape.empty() ? 1 : std::max(1, f[k].shape.back());
      const int classes = c == 1 ? 2 : c;
      if (inter_.empty()) inter_.assign(classes, 0), uni_.assign(classes, 0);
      for (size_t p = 0; p + c <= a.size(); p += c) {
        int ca, cb;
        if (c == 1) {
          ca = a[p] > 0.5f, cb = b[p] > 0.5f;
        } else {
          ca = static_cast<int>(std::max_element(a.begin() + p, a.begin() + p + c) - (a.begin() + p));
          cb = static_cast<int>(std::max_element(b.begin() + p, b.begin() + p + c) - (b.begin() + p));
        }
        ++pixels_;
        agree_ += ca == cb;
        if (ca == cb) {
          ++inter_[ca], ++uni_[ca];
        } else {
          ++uni_[ca], ++uni_[cb];
        }
      }
      break;
    }
    case Task::kLandmarks: {
      const std::vector<float> a = floats(f[0]), b = floats(q[0]);
      for (size_t i = 0; i < a.size(); ++i) landmark_err_ += std::abs(a[i] - b[i]) / input_width_;
      landmark_count_ += a.size();
      break;
    }
    case Task::kDetect: {
      if (box_labels_ && label >= 0) {
        ++labelled_;
        if (sample_labelled_.size() <= samples_) sample_labelled_.resize(samples_ + 1, false);
        sample_labelled_[samples_] = true;
        for (const LabelBox& b : box_labels_->boxes.at(label))
          label_truth_.push_back({{b.box[0], b.box[1], b.box[2], b.box[3]}, b.cls, 1.0f, static_cast<int>(samples_)});
      }
      // TFLite_Detection_PostProcess outputs: boxes [1,N,4], classes [1,N], scores [1,N],
      // count [1]. The float model's detections are the ground truth. Raw SSD outputs
      // (boxes and scores per anchor) are decoded first (add_raw_ssd).
      if (size_t boxes = 0, scores = 0; find_raw_ssd(f, boxes, scores)) {
        add_raw_ssd(f, q, boxes, scores);
        break;
      }
      if (ssd_)
        throw Error("--anchors/--ssd-anchors decode raw SSD outputs (boxes [1,N,>=4] and scores [1,N,C]); this model's first "
                    "output is " + shape_str(f[0].shape));
      if (f.size() < 4 || f[0].shape.size() != 3 || f[0].shape.back() != 4)
        throw Error("--task detect reads TFLite_Detection_PostProcess outputs (boxes [1,N,4], classes, scores, count); "
                    "this model's first output is " + shape_str(f[0].shape) + " (use --task generic)");
      auto dets = [this](const std::vector<HostTensor>& o) {
        std::vector<Detection> d;
        const int n = std::min<int>(static_cast<int>(o[3].as<float>()[0]), o[0].shape[1]);
        for (int i = 0; i < n; ++i)
          d.push_back({{o[0].as<float>()[4 * i], o[0].as<float>()[4 * i + 1], o[0].as<float>()[4 * i + 2], o[0].as<float>()[4 * i + 3]},
                       static_cast<int>(o[1].as<float>()[i]), o[2].as<float>()[i], static_cast<int>(samples_)});
        return d;
      };
      for (const Detection& d : dets(f)) truth_.push_back(d);
      for (const Detection& d : dets(q)) found_.push_back(d);
      break;
    }
    case Task::kGeneric:
      break;
  }
}

double map50(const std::vector<BoxDetection>& truth, const std::vector<BoxDetection>& found) {
  using Detection = BoxDetection;
  // mAP@0.5 over classes, all-point interpolation (PASCAL VOC 2010+).
  std::vector<int> classes;
  for (const Detection& d : truth) classes.push_back(d.cls);
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  if (classes.empty()) return found.empty() ? 1.0 : 0.0;
  double sum = 0;
  for (int c : classes) {
    std::vector<const Detection*> gt, det;
    for (const Detection& d : truth) if (d.cls == c) gt.push_back(&d);
    for (const Detection& d : found) if (d.cls == c) det.push_back(&d);
    std::sort(det.begin(), det.end(), [](auto* a, auto* b) { return a->score > b->score; });
    std::vector<bool> used(gt.size(), false);
    std::vector<double> precision, recall;
    int tp = 0, fp = 0;
    for (const Detection* d : det) {
      int best = -1;
      double best_iou = 0.5;
      for (size_t g = 0; g < gt.size(); ++g)
        if (!used[g] && gt[g]->sample == d->sample) {
          const double o = iou(d->box, gt[g]->box);
          if (o >= best_iou) best_iou = o, best = static_cast<int>(g);
        }
      if (best >= 0) used[best] = true, ++tp;
      else ++fp;
      precision.push_back(static_cast<double>(tp) / (tp + fp));
      recall.push_back(static_cast<double>(tp) / gt.size());
    }
    double ap = 0, prev_recall = 0;
    for (size_t i = 0; i < precision.size(); ++i) {
      const double p = *std::max_element(precision.begin() + i, precision.end());
      ap += (recall[i] - prev_recall) * p;
      prev_recall = recall[i];
    }
    sum += ap;
  }
  return sum / classes.size();
}

nlohmann::json AccuracyEvaluator::box_label_result() const {
  const bool agnostic = model_classes_ == 1;
  auto on_labelled = [&](const std::vector<Detection>& v) {
    std::vector<Detection> out;
    for (Detection d : v)
      if (static_cast<size_t>(d.sample) < sample_labelled_.size() && sample_labelled_[d.sample]) {
        if (agnostic) d.cls = 0;
        out.push_back(d);
      }
    return out;
  };
  const std::vector<Detection> truth = on_labelled(label_truth_), fd = on_labelled(truth_), qd = on_labelled(found_);
  const double fm = map50(truth, fd), qm = map50(truth, qd);
  return {{"labelled_samples", labelled_},
          {"unlabelled_samples", samples_ - labelled_},
          {"labelled_boxes", truth.size()},
          {"class_agnostic", agnostic},
          {"float_map50", fm},
          {"quantized_map50", qm},
          {"map50_drop", fm - qm},
          {"float_detections", fd.size()},
          {"quantized_detections", qd.size()}};
}

nlohmann::json AccuracyEvaluator::result(const std::vector<OutputReport>& outputs) const {
  nlohmann::json j = {{"task", task_name(task_)}, {"samples", samples_}};
  auto metric = [&](const char* name, double fv, double qv, bool higher_is_better = true) {
    j["metric"] = name;
    j["float"] = fv;
    j["quantized"] = qv;
    j["drop"] = higher_is_better ? fv - qv : qv - fv;
  };
  const double n = std::max<size_t>(samples_, 1);
  switch (task_) {
    case Task::kClassify:
      j["top1_agreement"] = top1_agree_ / n;
      j["top5_agreement"] = top5_agree_ / n;
      if (labelled_) {
        // Against the ground truth: the headline metric (and what --max-drop and compare rank by).
        const double l = static_cast<double>(labelled_);
        metric("top1_accuracy", float_correct_ / l, quant_correct_ / l);
        j["labelled_samples"] = labelled_;
        j["unlabelled_samples"] = samples_ - labelled_;
        j["labels"] = {{"labelled_samples", labelled_},
                       {"unlabelled_samples", samples_ - labelled_},
                       {"float_top1_accuracy", float_correct_ / l},
                       {"quantized_top1_accuracy", quant_correct_ / l},
                       {"top1_drop", (static_cast<double>(float_correct_) - quant_correct_) / l},
                       {"float_top5_accuracy", float_top5_correct_ / l},
                       {"quantized_top5_accuracy", quant_top5_correct_ / l},
                       {"top5_drop", (static_cast<double>(float_top5_correct_) - quant_top5_correct_) / l}};
      } else {
        metric("top1_agreement", 1.0, top1_agree_ / n);
      }
      break;
    case Task::kSegment: {
      double miou = 0;
      int present = 0;
      for (size_t c = 0; c < inter_.size(); ++c)
        if (uni_[c] > 0) miou += static_cast<double>(inter_[c]) / uni_[c], ++present;
      miou = present ? miou / present : 1.0;
      j["pixel_agreement"] = pixels_ ? static_cast<double>(agree_) / pixels_ : 1.0;
      metric("miou_vs_float", 1.0, miou);
      break;
    }
    case Task::kLandmarks:
      metric("mean_normalized_error_vs_float", 0.0, landmark_count_ ? landmark_err_ / landmark_count_ : 0.0, false);
      j["normalized_by"] = input_width_;
      break;
    case Task::kDetect:
      j["map50_vs_float"] = map50(truth_, found_);
      if (box_labels_ && labelled_) {
        // Against the labelled boxes: the headline metric (and what --max-drop and compare rank by).
        j["labels"] = box_label_result();
        metric("map50_vs_labels", j["labels"]["float_map50"], j["labels"]["quantized_map50"]);
        j["labelled_samples"] = labelled_;
        j["unlabelled_samples"] = samples_ - labelled_;
      } else {
        metric("map50_vs_float", 1.0, j["map50_vs_float"]);
      }
      j["float_detections"] = truth_.size();
      j["quantized_detections"] = found_.size();
      if (ssd_) j["ssd_decoding"] = ssd_->source + " (" + std::to_string(ssd_->anchors.size()) + " anchors)";
      break;
    case Task::kGeneric: {
      double worst = std::numeric_limits<double>::infinity();
      for (const OutputReport& o : outputs) worst = std::min(worst, o.stats.sqnr_db());
      j["metric"] = "min_output_sqnr_db";
      j["float"] = nullptr;
      j["quantized"] = std::isfinite(worst) ? nlohmann::json(worst) : nlohmann::json("inf");
      j["drop"] = nullptr;
      break;
    }
  }
  nlohmann::json outs = nlohmann::json::array();
  for (const OutputReport& o : outputs)
    outs.push_back({{"name", o.name}, {"sqnr_db", o.stats.sqnr_db()}, {"cosine", o.stats.cosine()}});
  j["outputs"] = outs;
  return j;
}

}  // namespace qcal
