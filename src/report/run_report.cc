#include "qcal/dataset.h"
#include "qcal/quantize.h"
#include "qcal/report_writer.h"

namespace qcal {

ReportData compare_models(std::shared_ptr<const Model> fm, const std::string& float_label, std::shared_ptr<const Model> qm,
                          const std::string& quant_label, const Preprocessing& pre, const DatasetOptions& dataset,
                          const ReportOptions& options) {
  auto cmp = std::make_shared<QuantizationComparison>(fm, qm, options.numerics, options.threads);
  const Subgraph& sg = fm->subgraphs.at(0);
  const InputGeometry g = input_geometry(sg.tensors[sg.inputs.at(0)], pre.layout);
  AccuracyEvaluator accuracy(options.task, g.width);
  const DatasetReport dr = stream_dataset(*fm, 0, pre, dataset, [&](std::vector<std::vector<HostTensor>>& batch) {
    for (const auto& sample : batch) {
      cmp->add(sample);
      accuracy.add(cmp->float_outputs(), cmp->quant_outputs());
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
