#include "qcal/calibrators.h"
#include "qcal/error.h"

namespace qcal {

const std::vector<std::string>& calibrator_names() {
  static const std::vector<std::string> names = {"minmax", "percentile", "kl", "mse"};
  return names;
}

Range calibrate(const TensorStats& stats, const std::string& method, const CalibratorOptions& options) {
  if (method == "minmax") return calibrate_minmax(stats);
  if (method == "percentile") return calibrate_percentile(stats, options);
  if (method == "kl") return calibrate_kl(stats, options);
  if (method == "mse") return calibrate_mse(stats, options);
  throw Error("unknown calibrator '" + method + "' (known: minmax, percentile, kl, mse)");
}

}  // namespace qcal
