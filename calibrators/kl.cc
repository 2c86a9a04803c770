// Entropy calibration as TensorRT does it ("8-bit Inference with TensorRT", Migacz 2017),
// with the reference details of NVIDIA pytorch-quantization and ONNX Runtime:
//   |x| histogram b[0..N) of width W; b[0] = b[1] (pytorch-quantization: the spike of exact
//   zeros, e.g. after ReLU, is representable and must not drive the choice);
//   for every candidate i in [start, N]:
//     P = b[0..i) with the clipped mass O = sum b[i..N) added to its last bin;
//     Q = b[0..i) merged into L levels (bin j -> level floor(j*L/i)), each level's total
//         spread evenly over its non-empty bins (empty bins stay empty);
//     KL(P || Q) of the normalized distributions;
//   threshold = i * W for the minimizing i (the largest on ties).
// Q is empty exactly where P is, except P's last bin when b[i-1] = 0 but O > 0; there Q gets
// ONNX Runtime's smoothing constant eps = 1e-4 (counts) instead of making the divergence
// infinite. That keeps thresholds below a gap (clipping a few isolated outliers) eligible;
// smoothing elsewhere would only shift every bin by ~eps.
//
// Evaluated in closed form, O(L) per candidate: with per-bin prefix sums of counts C,
// non-empty bins Z and b*log(b) PL,
//   sum_j p_j log p_j = PL[i-1] + (b[i-1] + O) log(b[i-1] + O)
//   sum_j p_j log q_j = sum_levels S log(S / n) + O log q_last
//   KL = (sum p log p - sum p log q) / T + log(Qs / T),  T = sum b, Qs = sum q = C[i].
#include <algorithm>
#include <cmath>
#include <limits>

#include "common.h"
#include "qcal/error.h"

namespace qcal {

Range calibrate_kl(const TensorStats& stats, const CalibratorOptions& options) {
  if (options.kl_target_bins < 1 || options.kl_target_bins > (1 << 16) || options.kl_start_bin < 1)
    throw Error("kl calibrator: kl_target_bins must be in [1, 65536] and kl_start_bin >= 1");
  const calib::Bounds bounds = calib::data_bounds(stats);
  Range r;
  if (calib::trivial(stats, bounds, &r)) return r;
  const double amax = calib::abs_max(bounds);
  // A one-sided tensor gets the whole integer grid on its side (pytorch-quantization's
  // unsigned mode); a signed or symmetric one gets kl_target_bins levels per sign.
  const bool one_sided = (bounds.min >= 0 || bounds.max <= 0) && !options.symmetric;
  const int64_t levels = int64_t{options.kl_target_bins} * (one_sided ? 2 : 1);

  calib::AbsHist h = calib::fold_abs(stats.hist, std::max(stats.hist.num_bins(), Histogram::kDefaultMaxBins));
  std::vector<double>& b = h.count;
  while (!b.empty() && b.back() == 0) b.pop_back();
  const int n = static_cast<int>(b.size());
  double t = amax;
  if (n >= 2) b[0] = b[1];
  if (n >= options.kl_start_bin) {
    std::vector<double> C(n + 1, 0), Z(n + 1, 0), PL(n + 1, 0), log_int(n + 1, 0);
    for (int j = 0; j < n; ++j) {
      C[j + 1] = C[j] + b[j];
      Z[j + 1] = Z[j] + (b[j] > 0);
      PL[j + 1] = PL[j] + (b[j] > 0 ? b[j] * std::log(b[j]) : 0.0);
      log_int[j + 1] = std::log(j + 1.0);
    }
    constexpr double kEps = 1e-4;
    const double T = C[n], log_T = std::log(T);
    double best = std::numeric_limits<double>::infinity();
    int best_i = n;
    for (int i = options.kl_start_bin; i <= n; ++i) {
      const double O = T - C[i];  // exact: counts are integers far below 2^53
      const double last = b[i - 1];
      const double p_last = last + O;
      const double plogp = PL[i - 1] + (p_last > 0 ? p_last * std::log(p_last) : 0.0);
      double plogq = 0, log_q_last = std::log(kEps);
      // Level k holds bins [ceil(k*i/L), ceil((k+1)*i/L)); e steps by i/L with remainder r.
      const int64_t step = i / levels, step_rem = i % levels;
      int64_t s = 0, e = 0, r = levels - 1;  // r tracks ((k+1)*i + L - 1) mod L
      for (int64_t k = 0; k < levels; ++k) {
        e += step;
        r += step_rem;
        if (r >= levels) ++e, r -= levels;
        const double S = C[e] - C[s];
        if (S > 0) {
          const double log_q = std::log(S) - log_int[static_cast<int>(Z[e] - Z[s])];
          plogq += S * log_q;
          if (e == i && last > 0) log_q_last = log_q;
        }
        s = e;
      }
      plogq += O * log_q_last;
      const double Qs = C[i] + (last > 0 ? 0.0 : kEps);
      const double kl = (plogp - plogq) / T + std::log(Qs) - log_T;
      if (kl <= best) {
        best = kl;
        best_i = i;
      }
    }
    t = std::min(amax, best_i * h.width);
  }
  if (options.symmetric) return calib::finish(-t, t);
  return calib::finish(std::max(bounds.min, -t), std::min(bounds.max, t));
}

}  // namespace qcal
