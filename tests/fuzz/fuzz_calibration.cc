// libFuzzer target: the calibration-cache reader and the calibrators behind it. Whatever the
// bytes, a cache is refused (qcal::Error, or nlohmann's parse/type errors, which the cache
// loader turns into one line) or every calibrator gives a finite range for every tensor
// whose statistics pass check_tensor_stats, as quantize would use them.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "qcal/calibration.h"
#include "qcal/calibrators.h"
#include "qcal/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    const qcal::CalibrationData c = qcal::CalibrationData::from_json(j);
    qcal::CalibratorOptions options;
    for (const auto& [t, stats] : c.tensors) {
      qcal::check_tensor_stats(stats, "fuzz");
      if (stats.empty()) continue;
      for (const std::string& method : qcal::calibrator_names()) {
        const qcal::Range r = qcal::calibrate(stats, method, options);
        if (!std::isfinite(r.min) || !std::isfinite(r.max) || r.min > r.max) std::abort();
      }
    }
  } catch (const qcal::Error&) {
  } catch (const nlohmann::json::exception&) {
  }
  return 0;
}
