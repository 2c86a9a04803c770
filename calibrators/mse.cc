// MSE calibration: the clip range [a, b] minimizing the expected squared error of
// quantizing the observed distribution onto a uniform grid of 2^bits levels over [a, b]
// (step s = (b - a) / (2^bits - 1); symmetric: [-t, t], s = 2t / (2^bits - 1)):
//   E(a, b) = sum_{x < a} (a - x)^2 + sum_{x > b} (x - b)^2 + N_inside * s^2 / 12.
// Values are taken uniform inside each histogram bin, so both clipping terms are exact
// integrals per bin and E is continuous in a and b. With prefix/suffix sums of the bins'
// counts and first two moments, E costs O(log bins).
//
// Search: a <= 0 <= b always (the rewriter puts zero on the grid anyway). Non-negative data:
// a = 0, 1-D search over b; non-positive: the mirror image; signed: alternating exhaustive
// 1-D searches (a given b, then b given a) from [min, max] until neither moves. Each 1-D
// search evaluates every bin edge, then refines continuously (golden section) between the
// neighbours of the best edge. The coupling of a and b (through s) is weak next to the
// clipping terms, so this converges in a few rounds.
#include <algorithm>
#include <cmath>
#include <functional>

#include "common.h"
#include "qcal/error.h"

namespace qcal {
namespace {

class ErrorModel {
 public:
  ErrorModel(const calib::Bins& bins, double levels_minus_1) : b_(bins), steps_(levels_minus_1) {
    const int n = b_.size();
    pc_.assign(n + 1, 0);
    p1_ = p2_ = sc_ = s1_ = s2_ = pc_;
    for (int j = 0; j < n; ++j) {  // prefix sums for the left tail
      pc_[j + 1] = pc_[j] + b_.count[j];
      p1_[j + 1] = p1_[j] + b_.count[j] * mean(j);
      p2_[j + 1] = p2_[j] + b_.count[j] * second(j);
    }
    for (int j = n - 1; j >= 0; --j) {  // suffix sums for the right tail (no cancellation against totals)
      sc_[j] = sc_[j + 1] + b_.count[j];
      s1_[j] = s1_[j + 1] + b_.count[j] * mean(j);
      s2_[j] = s2_[j + 1] + b_.count[j] * second(j);
    }
  }

  // Expected error when values below `a` clip to a, values above `b` clip to b, and the
  // rest round on a grid of the given span (b - a, or 2t when symmetric).
  double error(double a, double b, double span) const {
    double n_left = 0, n_right = 0;
    const double e = left(a, &n_left) + right(b, &n_right);
    const double s = span / steps_;
    return e + std::max(0.0, b_.total - n_left - n_right) * s * s / 12;
  }

 private:
  double mean(int j) const { return 0.5 * (b_.lo[j] + b_.hi[j]); }
  double second(int j) const {  // E[x^2] for x uniform on [lo, hi]
    const double l = b_.lo[j], h = b_.hi[j];
    return (l * l + l * h + h * h) / 3;
  }

  // sum over x < a of (a - x)^2, and how many values that is.
  double left(double a, double* count) const {
    const int n = b_.size();
    // j: the bin holding a (the first bin whose upper edge reaches a).
    const int j = static_cast<int>(std::lower_bound(b_.hi.begin(), b_.hi.end(), a) - b_.hi.begin());
    if (j == 0 && a <= b_.lo[0]) return *count = 0, 0.0;
    const int full = std::min(j, n);  // bins [0, full) lie wholly below a
    double err = std::max(0.0, a * a * pc_[full] - 2 * a * p1_[full] + p2_[full]);
    double cnt = pc_[full];
    if (j < n && a > b_.lo[j] && b_.hi[j] > b_.lo[j]) {
      const double d = a - b_.lo[j];
      const double c = b_.count[j] * d / (b_.hi[j] - b_.lo[j]);
      cnt += c;
      err += c * d * d / 3;
    }
    *count = cnt;
    return err;
  }

  // sum over x > b of (x - b)^2, and how many values that is.
  double right(double b, double* count) const {
    const int n = b_.size();
    // j: the bin holding b (the last bin whose lower edge is at or below b).
    const int j = static_cast<int>(std::upper_bound(b_.lo.begin(), b_.lo.end(), b) - b_.lo.begin()) - 1;
    if (j == n - 1 && b >= b_.hi[n - 1]) return *count = 0, 0.0;
    const int full = std::max(j + 1, 0);  // bins [full, n) lie wholly above b
    double err = std::max(0.0, b * b * sc_[full] - 2 * b * s1_[full] + s2_[full]);
    double cnt = sc_[full];
    if (j >= 0 && b < b_.hi[j] && b_.hi[j] > b_.lo[j]) {
      const double d = b_.hi[j] - b;
      const double c = b_.count[j] * d / (b_.hi[j] - b_.lo[j]);
      cnt += c;
      err += c * d * d / 3;
    }
    *count = cnt;
    return err;
  }

  const calib::Bins& b_;
  double steps_;
  std::vector<double> pc_, p1_, p2_, sc_, s1_, s2_;
};

// Minimizes f over [candidates.front(), candidates.back()]: every candidate, then golden
// section between the neighbours of the best one.
double minimize_1d(const std::vector<double>& candidates, const std::function<double(double)>& f, double fallback) {
  const int n = static_cast<int>(candidates.size());
  if (n == 0) return fallback;  // the sampled histogram holds nothing on this side
  int k = 0;
  double best = f(candidates[0]);
  for (int i = 1; i < n; ++i) {
    const double v = f(candidates[i]);
    if (v < best) best = v, k = i;
  }
  double lo = candidates[std::max(k - 1, 0)], hi = candidates[std::min(k + 1, n - 1)];
  const double g = (std::sqrt(5.0) - 1) / 2;
  double x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo);
  double f1 = f(x1), f2 = f(x2);
  for (int it = 0; it < 60 && hi - lo > 1e-12 * std::max(std::fabs(lo), std::fabs(hi)); ++it) {
    if (f1 <= f2) {
      hi = x2, x2 = x1, f2 = f1;
      x1 = hi - g * (hi - lo), f1 = f(x1);
    } else {
      lo = x1, x1 = x2, f1 = f2;
      x2 = lo + g * (hi - lo), f2 = f(x2);
    }
  }
  const double x = f1 <= f2 ? x1 : x2;
  return std::min(f1, f2) < best ? x : candidates[k];
}

}  // namespace

Range calibrate_mse(const TensorStats& stats, const CalibratorOptions& options) {
  if (options.bits < 2 || options.bits > 16) throw Error("mse calibrator: bits must be in [2, 16], got " + std::to_string(options.bits));
  const calib::Bounds bounds = calib::data_bounds(stats);
  Range r;
  if (calib::trivial(stats, bounds, &r)) return r;
  const double steps = std::ldexp(1.0, options.bits) - 1;

  if (options.symmetric) {
    const calib::Bins bins = calib::abs_bins(stats.hist, bounds);
    const ErrorModel model(bins, steps);
    std::vector<double> cand;
    for (double e : bins.hi)
      if (e > 0) cand.push_back(e);
    if (cand.empty()) return calib::finish(bounds.min, bounds.max);
    const double t = minimize_1d(cand, [&](double t) { return model.error(0, t, 2 * t); }, calib::abs_max(bounds));
    return calib::finish(-t, t);
  }

  const calib::Bins bins = calib::signed_bins(stats.hist, bounds);
  const ErrorModel model(bins, steps);
  auto f = [&](double a, double b) { return model.error(a, b, b - a); };
  // Candidate clip points: the bin edges on each side of zero (zero itself is an edge).
  auto best_b = [&](double a) {
    std::vector<double> cand;
    for (double e : bins.hi)
      if (e >= 0 && e > a) cand.push_back(e);
    return minimize_1d(cand, [&](double b) { return f(a, b); }, std::max(bounds.max, 0.0));
  };
  auto best_a = [&](double b) {
    std::vector<double> cand;
    for (double e : bins.lo)
      if (e <= 0 && e < b) cand.push_back(e);
    return minimize_1d(cand, [&](double a) { return f(a, b); }, std::min(bounds.min, 0.0));
  };
  double a = std::min(bounds.min, 0.0), b = std::max(bounds.max, 0.0);
  if (bounds.min >= 0) {
    b = best_b(0);
  } else if (bounds.max <= 0) {
    a = best_a(0);
  } else {
    for (int round = 0; round < 32; ++round) {
      const double b_new = best_b(a), a_new = best_a(b_new);
      const bool moved = std::fabs(b_new - b) + std::fabs(a_new - a) > 1e-9 * (b_new - a_new);
      a = a_new, b = b_new;
      if (!moved) break;
    }
  }
  return calib::finish(std::max(a, bounds.min), std::min(b, bounds.max));
}

}  // namespace qcal
