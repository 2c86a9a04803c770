#include "common.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qcal::calib {

Bounds data_bounds(const TensorStats& stats) {
  if (std::isfinite(stats.min) && std::isfinite(stats.max) && stats.min <= stats.max)
    return {true, stats.min, stats.max};
  const Histogram& h = stats.hist;
  const auto& c = h.counts();
  int first = 0, last = h.num_bins() - 1;
  while (first <= last && c[first] == 0) ++first;
  while (last >= first && c[last] == 0) --last;
  if (first > last) return {};
  return {true, h.edge(first), h.edge(last + 1)};
}

Range finish(double lo, double hi) {
  constexpr double kTiny = 1e-30;
  constexpr double kMaxFloat = std::numeric_limits<float>::max();
  if (!(lo <= hi) || !std::isfinite(lo) || !std::isfinite(hi)) return {-1.f, 1.f};
  auto to_float = [&](double v) { return static_cast<float>(std::clamp(v, -kMaxFloat, kMaxFloat)); };
  float a = to_float(lo), b = to_float(hi);
  if (a == b) {  // a point: the constant, with zero as the other end
    a = std::min(a, 0.f);
    b = std::max(b, 0.f);
  }
  if (std::max(std::fabs(a), std::fabs(b)) < kTiny) return {-1.f, 1.f};
  return {a, b};
}

bool trivial(const TensorStats& stats, const Bounds& b, Range* out) {
  if (!b.valid || b.min == b.max || stats.hist.empty()) {
    *out = b.valid ? finish(b.min, b.max) : finish(0, 0);
    return true;
  }
  return false;
}

namespace {

// Bins [first, last] of a grid (left edge of bin j = edge(j)), clipped to [lo, hi].
template <typename Count, typename Edge>
Bins make_bins(int n, Count count, Edge edge, double lo, double hi) {
  Bins b;
  int first = 0, last = n - 1;
  while (first <= last && count(first) == 0) ++first;
  while (last >= first && count(last) == 0) --last;
  for (int j = first; j <= last; ++j) {
    b.count.push_back(count(j));
    b.lo.push_back(std::clamp(edge(j), lo, hi));
    b.hi.push_back(std::clamp(edge(j + 1), lo, hi));
    b.total += count(j);
  }
  return b;
}

}  // namespace

Bins signed_bins(const Histogram& h, const Bounds& b) {
  const auto& c = h.counts();
  return make_bins(
      h.num_bins(), [&](int j) { return static_cast<double>(c[j]); }, [&](int j) { return h.edge(j); }, b.min, b.max);
}

AbsHist fold_abs(const Histogram& h, int max_bins) {
  const auto& c = h.counts();
  const int64_t first = h.first_bin();
  auto fold = [](int64_t g) { return g >= 0 ? g : -g - 1; };
  int64_t top = -1;
  for (int j = 0; j < h.num_bins(); ++j)
    if (c[j] != 0) top = std::max(top, fold(first + j));
  AbsHist a;
  if (top < 0) return a;
  int shift = 0;
  while ((top >> shift) >= max_bins) ++shift;
  a.width = std::ldexp(1.0, h.exponent() + shift);
  a.count.assign(static_cast<size_t>((top >> shift) + 1), 0.0);
  for (int j = 0; j < h.num_bins(); ++j)
    if (c[j] != 0) a.count[fold(first + j) >> shift] += static_cast<double>(c[j]);
  return a;
}

double abs_max(const Bounds& b) { return std::max(std::fabs(b.min), std::fabs(b.max)); }

Bins abs_bins(const Histogram& h, const Bounds& b) {
  const AbsHist a = fold_abs(h, std::max(h.num_bins(), Histogram::kDefaultMaxBins));
  const double amin = b.min > 0 ? b.min : b.max < 0 ? -b.max : 0.0;
  return make_bins(
      static_cast<int>(a.count.size()), [&](int j) { return a.count[j]; }, [&](int j) { return j * a.width; }, amin,
      abs_max(b));
}

double quantile(const Bins& bins, double q) {
  const double target = std::clamp(q, 0.0, 1.0) * bins.total;
  double cum = 0;
  for (int j = 0; j < bins.size(); ++j) {
    const double c = bins.count[j];
    if (c > 0 && cum + c >= target) {
      const double f = std::clamp((target - cum) / c, 0.0, 1.0);
      return bins.lo[j] + f * (bins.hi[j] - bins.lo[j]);
    }
    cum += c;
  }
  return bins.size() ? bins.hi.back() : 0.0;
}

}  // namespace qcal::calib
