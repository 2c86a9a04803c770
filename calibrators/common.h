// Internals shared by the calibrators: data bounds, degenerate ranges, and views of the
// histogram as bins with a uniform density inside each.
#pragma once

#include <vector>

#include "qcal/calibrators.h"

namespace qcal::calib {

// The finite data range: the exact min/max of the stats when known, else the extent of the
// histogram's non-empty bins (histograms synthesized without min/max).
struct Bounds {
  bool valid = false;
  double min = 0, max = 0;
};
Bounds data_bounds(const TensorStats& stats);

// The range every calibrator returns: finite floats with min < max. A point [v, v] (constant
// tensor) becomes [min(v, 0), max(v, 0)]; no data, NaN, or a range within 1e-30 of zero
// (where scale = width / 255 would underflow) becomes [-1, 1].
Range finish(double lo, double hi);

// True when there is nothing to search: no data, a constant, or no histogram. `out` is then
// the answer (the min-max range, made valid by finish()).
bool trivial(const TensorStats& stats, const Bounds& b, Range* out);

// Histogram bins from the first to the last non-empty one, each with its extent clipped to
// the data bounds (so the outermost bins end exactly at min and max).
struct Bins {
  std::vector<double> count, lo, hi;
  double total = 0;
  int size() const { return static_cast<int>(count.size()); }
};
Bins signed_bins(const Histogram& h, const Bounds& b);

// The |x| histogram on the zero-anchored grid: bin i covers [i * width, (i+1) * width).
// Signed bin g >= 0 folds onto |x| bin g and g < 0 onto -g-1 (exact, since zero is an edge);
// pairs of bins are merged (still exact) until it has at most max_bins bins.
struct AbsHist {
  std::vector<double> count;
  double width = 1;
};
AbsHist fold_abs(const Histogram& h, int max_bins);
// The folded histogram as Bins, clipped to [min |x|, max |x|].
Bins abs_bins(const Histogram& h, const Bounds& b);
double abs_max(const Bounds& b);

// The value below which a share q in [0, 1] of the values lie (linear inside a bin).
double quantile(const Bins& bins, double q);

}  // namespace qcal::calib
