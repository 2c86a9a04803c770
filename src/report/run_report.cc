#include <algorithm>

#include "qcal/dataset.h"
#include "qcal/error.h"
#include "qcal/labels.h"
#include "qcal/quantize.h"
#include "qcal/report_writer.h"

namespace qcal {

ReportData compare_models(std::shared_ptr<const Model> fm, const std::string& float_label, std::shared_ptr<const Model> qm,
                          const std::string& quant_label, const Preprocessing& pre, const DatasetOptions& dataset,
                          const ReportOptions& options) {
  auto cmp = std::make_shared<QuantizationComparison>(fm, qm, options.numerics, options.threads);
  const Subgraph& sg = fm->subgraphs.at(0);
  // Landmark errors are normalized by the input's width. Images need an image input; .npy
  // samples (--inputs) may feed any model, e.g. a [1, N] feature vector.
  const Tensor& input = sg.tensors[sg.inputs.at(0)];
  int width = 1;
  if (!dataset.images.empty()) width = input_geometry(input, pre.layout).width;
  else if (input.shape.size() == 4) width = input.shape[pre.layout == Preprocessing::Layout::kNHWC ? 2 : 3];
  AccuracyEvaluator accuracy(options.task, width);
  accuracy.set_ssd(options.ssd);
  LabelJoin join;
  if (options.labels) {
    if (options.task != Task::kClassify && options.task != Task::kDetect)
      throw Error(std::string("--labels is for --task classify or detect (this report's task is ") + task_name(options.task) + ")");
    if (options.labels->has_boxes() != (options.task == Task::kDetect))
      throw Error("--labels " + options.labels->source + ": " + (options.labels->has_boxes() ? "box" : "class") +
                  " labels do not fit --task " + task_name(options.task));
    if (options.task == Task::kClassify) {
      const Tensor& out = sg.tensors[sg.outputs.at(0)];
      check_label_range(*options.labels, static_cast<int>(num_elements(out.shape)),
                        "the model's output '" + out.name + "' " + shape_str(out.shape));
    } else {
      // Normalized corners of the original image are the model's only under a stretch resize.
      if (!dataset.images.empty() && pre.resize != Preprocessing::Resize::kStretch)
        throw Error("--labels " + options.labels->source + ": box labels need --resize stretch (crop and letterbox "
                    "are not supported for box labels)");
      accuracy.set_box_labels(options.labels);
    }
    const std::filesystem::path root = dataset.images.empty() ? dataset.inputs : images_root(dataset.images);
    join = join_labels(*options.labels, root, list_samples(*fm, 0, dataset));
    if (join.by_sample.empty())
      throw Error("--labels " + options.labels->source + ": no entry names a sample of " + root.string() + " (e.g. " +
                  options.labels->entries.at(0).file + ")");
  }
  const DatasetReport dr = stream_dataset(
      *fm, 0, pre, dataset, [&](std::vector<std::vector<HostTensor>>& batch, const std::vector<std::filesystem::path>& files) {
        for (size_t i = 0; i < batch.size(); ++i) {
          cmp->add(batch[i]);
          accuracy.add(cmp->float_outputs(), cmp->quant_outputs(), join.lookup(files[i]));
        }
      });
  ReportData d;
  d.float_model = float_label;
  d.quant_model = quant_label;
  d.samples = cmp->samples();
  d.matching = cmp->matching();
  d.layers = cmp->layers();
  d.outputs = cmp->outputs();
  d.accuracy = accuracy.result(d.outputs);
  if (options.labels) {
    if (!d.accuracy.contains("labels"))
      throw Error("--labels " + options.labels->source + ": none of the " + std::to_string(d.samples) +
                  " evaluated samples has a label");
    nlohmann::json& l = d.accuracy["labels"];
    l["source"] = options.labels->source;
    l["entries"] = options.labels->entries.size();
    l["entries_without_sample"] = join.without_sample.size();
    l["entries_without_sample_examples"] =
        std::vector<std::string>(join.without_sample.begin(), join.without_sample.begin() + std::min<size_t>(5, join.without_sample.size()));
    if (!options.labels->class_names.empty()) l["class_names"] = options.labels->class_names;
  }
  d.preprocessing = dataset.images.empty() ? nlohmann::json("npy inputs") : pre.to_json();
  d.preprocessing_dataset = dr.to_json();
  if (auto rec = quantization_record(*qm)) {
    d.calibration = rec->value("calibration", nlohmann::json(nullptr));
    if (rec->contains("bias_correction") && d.calibration.is_object()) d.calibration["bias_correction"] = (*rec)["bias_correction"];
    d.scheme = rec->value("summary", nlohmann::json::object()).value("scheme", "");
  }
  d.comparison = cmp;  // the histograms live there
  d.float_stats = &cmp->float_statistics();
  return d;
}

}  // namespace qcal
