// Calibrators: small pure functions from collected statistics to a float range
// [min, max] for one tensor. The rewriter then widens the range to include zero and
// derives scale/zero point. Every function returns a finite range with min < max, even
// for empty, all-zero or constant tensors.
#pragma once

#include <string>
#include <vector>

#include "qcal/stats.h"

namespace qcal {

struct CalibratorOptions {
  double percentile = 99.99;  // percentile: keep this share of values (two-sided: tails split)
  bool symmetric = false;     // percentile/mse: search a symmetric range [-t, t]
  int kl_target_bins = 128;   // kl: quantized levels the distribution is compressed to
  int kl_start_bin = 128;     // kl: first threshold tried (in histogram bins)
  int bits = 8;               // mse: width of the integer grid
  // calibrate(): percentile/kl/mse fall back to min-max for tensors with fewer histogram
  // values than this (a few values are no distribution to clip).
  uint64_t min_values = 512;
};

// The whole observed range.
Range calibrate_minmax(const TensorStats& stats);
// The range holding `percentile` percent of the values: one-sided for non-negative tensors,
// otherwise each tail gets half of the rest (or |x| when symmetric).
Range calibrate_percentile(const TensorStats& stats, const CalibratorOptions& options = {});
// TensorRT's entropy calibration over |x|: the threshold t (a bin edge, searched from
// kl_start_bin) whose kl_target_bins-level quantized distribution is closest (KL divergence)
// to the observed one. One-sided tensors get 2 * kl_target_bins levels (they use the whole
// int8 grid). Returns [max(min, -t), min(max, t)], or [-t, t] when symmetric.
Range calibrate_kl(const TensorStats& stats, const CalibratorOptions& options = {});
// The clip range minimizing the expected squared error (clipping + rounding, s^2/12 inside)
// of quantizing the observed distribution onto 2^bits levels over [a, b], a <= 0 <= b
// (step (b - a) / (2^bits - 1)); symmetric: [-t, t], step 2t / (2^bits - 1).
Range calibrate_mse(const TensorStats& stats, const CalibratorOptions& options = {});

// By name: "minmax", "percentile", "kl", "mse". Throws qcal::Error for an unknown name.
Range calibrate(const TensorStats& stats, const std::string& method, const CalibratorOptions& options = {});
const std::vector<std::string>& calibrator_names();

}  // namespace qcal
