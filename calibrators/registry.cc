#include "qcal/calibrators.h"
#include "qcal/error.h"

namespace qcal {

const std::vector<std::string>& calibrator_names() {
  static const std::vector<std::string> names = {"minmax", "percentile", "kl", "mse"};
  return names;
}

Range calibrate(const TensorStats& stats, const std::string& method, const CalibratorOptions& options) {
  if (method == "minmax") return calibrate_minmax(stats);
  const bool known = method == "percentile" || method == "kl" || method == "mse";
  // A distribution needs values: a score or a logit (one value per image) over a few dozen
  // images is no histogram, and clipping it is guesswork (a clipped logit before a sigmoid
  // turned 0.0005 into 0.05 on hand_landmark_lite). Such tensors keep their observed range.
  if (known && stats.hist.total() < options.min_values) return calibrate_minmax(stats);
  if (method == "percentile") return calibrate_percentile(stats, options);
  if (method == "kl") return calibrate_kl(stats, options);
  if (method == "mse") return calibrate_mse(stats, options);
  throw Error("unknown calibrator '" + method + "' (known: minmax, percentile, kl, mse)");
}

}  // namespace qcal
