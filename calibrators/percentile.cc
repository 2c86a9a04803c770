#include <cmath>

#include "common.h"
#include "qcal/error.h"

namespace qcal {

// Quantiles interpolate linearly inside a histogram bin; the outermost bins end at the exact
// min/max, so percentile 100 is the min-max range.
Range calibrate_percentile(const TensorStats& stats, const CalibratorOptions& options) {
  const double p = options.percentile;
  if (!(p > 0 && p <= 100)) throw Error("percentile calibrator: percentile must be in (0, 100], got " + std::to_string(p));
  const calib::Bounds b = calib::data_bounds(stats);
  Range r;
  if (calib::trivial(stats, b, &r)) return r;
  const double keep = p / 100;
  if (options.symmetric) {
    const double t = calib::quantile(calib::abs_bins(stats.hist, b), keep);
    return calib::finish(-t, t);
  }
  const calib::Bins bins = calib::signed_bins(stats.hist, b);
  if (b.min >= 0) return calib::finish(b.min, calib::quantile(bins, keep));  // one-sided
  if (b.max <= 0) return calib::finish(calib::quantile(bins, 1 - keep), b.max);
  const double tail = (1 - keep) / 2;
  return calib::finish(calib::quantile(bins, tail), calib::quantile(bins, 1 - tail));
}

}  // namespace qcal
