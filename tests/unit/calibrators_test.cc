// Calibrators against distributions with known answers, against independent brute-force
// versions of their objectives, on degenerate input, and for speed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "qcal/calibrators.h"
#include "qcal/error.h"

namespace qcal {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

TensorStats stats_of(const std::vector<float>& v) {
  TensorStats s;
  s.add(v.data(), v.size(), 1);
  return s;
}

// Stats that only hold a histogram (bounds then come from its non-empty bins).
TensorStats stats_of_hist(int exponent, int64_t first_bin, std::vector<uint64_t> counts) {
  TensorStats s;
  s.hist = Histogram::from_counts(exponent, first_bin, std::move(counts));
  s.count = s.hist.total();
  return s;
}

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = g(rng);
  return v;
}

CalibratorOptions symmetric() {
  CalibratorOptions o;
  o.symmetric = true;
  return o;
}

void expect_valid(const Range& r, const std::string& what) {
  EXPECT_TRUE(std::isfinite(r.min) && std::isfinite(r.max)) << what << ": [" << r.min << ", " << r.max << "]";
  EXPECT_LT(r.min, r.max) << what;
}

// Mean squared error of actually quantizing `data` onto 256 levels over [lo, hi].
double quantization_mse(const std::vector<float>& data, double lo, double hi) {
  const double s = (hi - lo) / 255;
  double e = 0;
  for (float x : data) {
    const double q = lo + s * std::round((std::clamp<double>(x, lo, hi) - lo) / s);
    e += (x - q) * (x - q);
  }
  return e / data.size();
}

TEST(CalibratorMinMax, IsTheExactObservedRange) {
  std::vector<float> v = gaussian(10000, 1);
  v[10] = -3.25f;
  v[20] = 7.5f;
  const TensorStats s = stats_of(v);
  const Range r = calibrate_minmax(s);
  EXPECT_EQ(r.min, s.min);
  EXPECT_EQ(r.max, 7.5f);
  const Range p = calibrate_percentile(s, CalibratorOptions{.percentile = 100});
  EXPECT_FLOAT_EQ(p.min, s.min);
  EXPECT_FLOAT_EQ(p.max, 7.5f);
}

TEST(CalibratorAll, UniformDataKeepsTheFullRange) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-1.f, 3.f);
  std::vector<float> v(400000);
  for (float& x : v) x = u(rng);
  const TensorStats s = stats_of(v);
  const Range mm = calibrate_minmax(s);
  EXPECT_EQ(mm.min, s.min);
  EXPECT_EQ(mm.max, s.max);
  for (const std::string& m : calibrator_names()) {
    const Range r = calibrate(s, m);
    const double tol = m == "percentile" ? 0.001 : 0.01;  // of the width 4
    EXPECT_NEAR(r.min, -1.0, 4 * tol) << m;
    EXPECT_NEAR(r.max, 3.0, 4 * tol) << m;
    EXPECT_GE(r.min, s.min) << m;
    EXPECT_LE(r.max, s.max) << m;
  }
  // Non-negative uniform data: one-sided everywhere.
  for (float& x : v) x = (x + 1.f) / 4.f;
  const TensorStats p = stats_of(v);
  for (const std::string& m : calibrator_names()) {
    const Range r = calibrate(p, m);
    EXPECT_EQ(r.min, p.min) << m;
    EXPECT_NEAR(r.max, 1.0, m == "percentile" ? 0.001 : 0.01) << m;
  }
}

TEST(CalibratorAll, GaussianOutliersAreClippedExceptByMinMax) {
  std::vector<float> v = gaussian(1000000, 3);
  v[100] = 40.f;
  v[200] = 55.f;
  v[300] = -60.f;
  const TensorStats s = stats_of(v);
  const Range mm = calibrate_minmax(s);
  EXPECT_EQ(mm.min, -60.f);
  EXPECT_EQ(mm.max, 55.f);
  const double mse_minmax = quantization_mse(v, mm.min, mm.max);
  for (std::string m : {"percentile", "kl", "mse"}) {
    for (bool sym : {false, true}) {
      CalibratorOptions o;
      o.symmetric = sym;
      const Range r = calibrate(s, m, o);
      SCOPED_TRACE(m + (sym ? " symmetric" : ""));
      EXPECT_LT(r.max, 36.f);  // below every outlier
      EXPECT_GT(r.min, -36.f);
      EXPECT_GT(r.max, 3.5f);  // but not into the Gaussian body
      EXPECT_LT(r.min, -3.5f);
      if (sym) {
        EXPECT_EQ(r.min, -r.max);
      }
      EXPECT_LT(quantization_mse(v, r.min, r.max), mse_minmax);
    }
  }
  // Percentile: the Gaussian's own 0.005% tails, +-3.9 sigma.
  const Range p = calibrate_percentile(s);
  EXPECT_NEAR(p.max, 3.89, 0.1);
  EXPECT_NEAR(p.min, -3.89, 0.1);
}

// Stratified Laplace(0, b) samples: deterministic and close to the exact distribution.
std::vector<float> laplace(size_t n, double b) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    const double u = (i + 0.5) / n;
    v[i] = static_cast<float>(u < 0.5 ? b * std::log(2 * u) : -b * std::log(2 * (1 - u)));
  }
  return v;
}

TEST(CalibratorMse, LaplaceMatchesTheAnalyticOptimum) {
  // Grid: 256 levels over the clip range [-t, t], step 2t/255 (what the calibrator assumes
  // for symmetric ranges, and what the asymmetric search finds for symmetric data). For
  // Laplace(0, b) per value:
  //   clipping  2 * integral_t^inf (x - t)^2 e^(-x/b) / (2b) dx = 2 b^2 e^(-t/b)
  //   rounding  P(|x| < t) * step^2 / 12 = (1 - e^(-t/b)) (2t/255)^2 / 12
  // The reference optimum minimizes their sum by brute force (about 9.9 b, as ACIQ's tables
  // give for 8 bits).
  const double b = 0.7;
  auto expected_error = [&](double t) {
    const double s = 2 * t / 255;
    return 2 * b * b * std::exp(-t / b) + (1 - std::exp(-t / b)) * s * s / 12;
  };
  double t_ref = 0, e_ref = std::numeric_limits<double>::infinity();
  for (double t = 0.5 * b; t < 20 * b; t += 1e-5 * b)
    if (expected_error(t) < e_ref) e_ref = expected_error(t), t_ref = t;
  EXPECT_NEAR(t_ref / b, 9.9, 0.1);

  const std::vector<float> v = laplace(2000000, b);
  const TensorStats s = stats_of(v);
  const Range sym = calibrate_mse(s, symmetric());
  EXPECT_EQ(sym.min, -sym.max);
  EXPECT_NEAR(sym.max / t_ref, 1.0, 0.02) << "t_ref " << t_ref;
  const Range asym = calibrate_mse(s);
  EXPECT_NEAR(asym.max / t_ref, 1.0, 0.02);
  EXPECT_NEAR(-asym.min / t_ref, 1.0, 0.02);
  // The real rounding error agrees: the calibrated range is as good as the reference one.
  const double ref = quantization_mse(v, -t_ref, t_ref);
  EXPECT_LT(quantization_mse(v, sym.min, sym.max), ref * 1.01);
  EXPECT_LT(quantization_mse(v, asym.min, asym.max), ref * 1.01);
  std::printf("laplace b=%.2f: t_ref %.4f, mse symmetric %.4f, asymmetric [%.4f, %.4f]\n", b, t_ref, sym.max, asym.min,
              asym.max);
}

// The MSE objective evaluated independently: each bin as 16 point masses at sub-bin centers.
struct PointMasses {
  std::vector<double> x, w;
  PointMasses(const Histogram& h, bool fold) {
    for (int j = 0; j < h.num_bins(); ++j)
      for (int k = 0; k < 16; ++k) {
        const double v = h.edge(j) + (k + 0.5) / 16 * h.bin_width();
        x.push_back(fold ? std::fabs(v) : v);
        w.push_back(h.counts()[j] / 16.0);
      }
  }
  double error(double a, double b, double span, int bits) const {
    const double step = span / (std::ldexp(1.0, bits) - 1);
    double e = 0;
    for (size_t i = 0; i < x.size(); ++i)
      e += w[i] * (x[i] < a ? (a - x[i]) * (a - x[i]) : x[i] > b ? (x[i] - b) * (x[i] - b) : step * step / 12);
    return e;
  }
};

TEST(CalibratorMse, MatchesExhaustiveSearchOnSkewedHistogram) {
  // A skewed, bumpy, signed distribution on [-5, 15) with a gap; 4 bits so that clipping
  // and rounding trade off strongly on both sides.
  std::vector<uint64_t> counts(160);
  std::mt19937 rng(7);
  for (int j = 0; j < 160; ++j) {
    const double x = -5 + (j + 0.5) / 8;
    const double pdf = x < 0 ? std::exp(x * 1.5) : std::exp(-x / 2.5) + 0.3 * std::exp(-(x - 8) * (x - 8));
    counts[j] = static_cast<uint64_t>(1e5 * pdf) + rng() % 50;
    if (j >= 120 && j < 130) counts[j] = 0;
  }
  const TensorStats s = stats_of_hist(-3, -40, counts);
  const PointMasses signed_points(s.hist, false), abs_points(s.hist, true);
  for (int bits : {3, 4, 6}) {
    CalibratorOptions o;
    o.bits = bits;
    const Range r = calibrate_mse(s, o);
    double best = std::numeric_limits<double>::infinity(), best_a = 0, best_b = 0;
    for (int ja = 0; ja <= 40; ++ja)
      for (int jb = 40; jb <= 160; ++jb) {
        const double a = -5 + ja / 8.0, b = -5 + jb / 8.0;
        if (b <= a) continue;
        const double e = signed_points.error(a, b, b - a, bits);
        if (e < best) best = e, best_a = a, best_b = b;
      }
    const double got = signed_points.error(r.min, r.max, r.max - r.min, bits);
    EXPECT_LE(got, best * 1.001) << bits << " bits: got [" << r.min << ", " << r.max << "], exhaustive [" << best_a
                                 << ", " << best_b << "]";
    EXPECT_NEAR(r.min, best_a, 0.2);
    EXPECT_NEAR(r.max, best_b, 0.2);

    o.symmetric = true;
    const Range rs = calibrate_mse(s, o);
    EXPECT_EQ(rs.min, -rs.max);
    double best_s = std::numeric_limits<double>::infinity(), best_t = 0;
    for (int jt = 1; jt <= 120; ++jt) {
      const double t = jt / 8.0;
      const double e = abs_points.error(-1, t, 2 * t, bits);
      if (e < best_s) best_s = e, best_t = t;
    }
    EXPECT_LE(abs_points.error(-1, rs.max, 2 * rs.max, bits), best_s * 1.001)
        << bits << " bits symmetric: got " << rs.max << ", exhaustive " << best_t;
  }
}

// TensorRT-style entropy calibration written the slow, literal way: fold to |x|, b[0] = b[1],
// then per candidate i: P with the outliers in its last bin, Q merged into `levels` levels
// and expanded over the non-empty bins, both smoothed as ONNX Runtime does (eps = 1e-4 on
// zero entries, taken evenly from the non-zero ones), KL of the normalized distributions.
std::vector<double> naive_kl_divergences(const Histogram& h, int levels, int start, int* n_out) {
  std::vector<double> abs_counts;
  for (int j = 0; j < h.num_bins(); ++j) {
    const int64_t g = h.first_bin() + j;
    const size_t a = static_cast<size_t>(g >= 0 ? g : -g - 1);
    if (abs_counts.size() <= a) abs_counts.resize(a + 1, 0);
    abs_counts[a] += h.counts()[j];
  }
  while (abs_counts.back() == 0) abs_counts.pop_back();
  const int n = static_cast<int>(abs_counts.size());
  *n_out = n;
  abs_counts[0] = abs_counts[1];
  auto smooth = [](std::vector<double>& d) {
    int zeros = 0;
    for (double x : d) zeros += x == 0;
    const double eps1 = 1e-4 * zeros / (d.size() - zeros);
    for (double& x : d) x = x == 0 ? 1e-4 : x - eps1;
  };
  std::vector<double> kl(n + 1, std::numeric_limits<double>::infinity());
  for (int i = start; i <= n; ++i) {
    std::vector<double> p(abs_counts.begin(), abs_counts.begin() + i);
    for (int j = i; j < n; ++j) p[i - 1] += abs_counts[j];
    std::vector<double> level_sum(levels, 0), level_nonzero(levels, 0), q(i, 0);
    for (int j = 0; j < i; ++j) {
      const int l = static_cast<int>(int64_t{j} * levels / i);
      level_sum[l] += abs_counts[j];
      level_nonzero[l] += abs_counts[j] != 0;
    }
    for (int j = 0; j < i; ++j) {
      const int l = static_cast<int>(int64_t{j} * levels / i);
      if (abs_counts[j] != 0) q[j] = level_sum[l] / level_nonzero[l];
    }
    smooth(p);
    smooth(q);
    double sp = 0, sq = 0;
    for (int j = 0; j < i; ++j) sp += p[j], sq += q[j];
    double d = 0;
    for (int j = 0; j < i; ++j) d += p[j] / sp * std::log((p[j] / sp) / (q[j] / sq));
    kl[i] = d;
  }
  return kl;
}

void check_kl_against_naive(const TensorStats& s, bool symmetric_range, int levels) {
  CalibratorOptions o;
  o.symmetric = symmetric_range;
  const Range r = calibrate_kl(s, o);
  int n = 0;
  const std::vector<double> kl = naive_kl_divergences(s.hist, levels, o.kl_start_bin, &n);
  int best_i = n;
  for (int i = o.kl_start_bin; i <= n; ++i)
    if (kl[i] <= kl[best_i]) best_i = i;
  const double w = s.hist.bin_width();
  const int got_i = static_cast<int>(std::lround(r.max / w));
  ASSERT_GE(got_i, o.kl_start_bin);
  ASSERT_LE(got_i, n);
  EXPECT_DOUBLE_EQ(r.max, got_i * w) << "threshold on a bin edge";
  EXPECT_LE(kl[got_i], kl[best_i] + 1e-9 * std::fabs(kl[best_i]) + 1e-12)
      << "got bin " << got_i << " (kl " << kl[got_i] << "), naive bin " << best_i << " (kl " << kl[best_i] << ")";
  std::printf("kl: got bin %d, naive bin %d of %d\n", got_i, best_i, n);
}

TEST(CalibratorKl, MatchesLiteralTensorRtProcedure) {
  std::mt19937 rng(11);
  {  // Gaussian-like body, a gap, an isolated cluster of outliers (exercises smoothing)
    std::vector<uint64_t> c(700, 0);
    for (int j = 0; j < 700; ++j) {
      const double x = (j - 300 + 0.5) / 32;
      c[j] = static_cast<uint64_t>(2e5 * std::exp(-x * x / 2 / 1.7)) + (j < 520 ? rng() % 3 : 0);
    }
    c[690] = 4;
    c[5] = 2;
    check_kl_against_naive(stats_of_hist(-5, -300, c), true, 128);
  }
  {  // bimodal with periodic empty bins (as from quantized input data)
    std::vector<uint64_t> c(900, 0);
    for (int j = 0; j < 900; ++j) {
      const double x = (j - 200 + 0.5) / 16;
      c[j] = j % 7 == 3 ? 0 : static_cast<uint64_t>(1e4 * (std::exp(-x * x) + 0.5 * std::exp(-(x - 30) * (x - 30) / 8)));
    }
    check_kl_against_naive(stats_of_hist(-4, -200, c), true, 128);
  }
  {  // narrow body, a few far outliers: every threshold in the gap leaves Q empty under P's
     // last bin, so only smoothing makes them eligible (and one of them wins)
    std::vector<uint64_t> c(1300, 0);
    for (int j = 0; j < 1300; ++j) {
      const double x = (j - 650 + 0.5) / 16;
      c[j] = static_cast<uint64_t>(1e5 * std::exp(-x * x / 2)) + (std::fabs(x) < 4 ? 1 : 0);
    }
    c[50] = 2;
    c[1290] = 1;
    const TensorStats s = stats_of_hist(-4, -650, c);
    check_kl_against_naive(s, true, 128);
    EXPECT_LT(calibrate_kl(s, symmetric()).max, 20.f);
  }
  {  // ReLU-like: a spike of zeros in bin 0 (replaced by bin 1 on both sides)
    std::vector<uint64_t> c(800, 0);
    for (int j = 0; j < 800; ++j) c[j] = static_cast<uint64_t>(3e4 * std::exp(-j / 90.0)) + rng() % 3;
    c[0] = 5000000;
    check_kl_against_naive(stats_of_hist(-6, 0, c), false, 256);
  }
  {  // one-sided, heavy tail: 2 x 128 levels, range [0, t]
    std::vector<uint64_t> c(1500, 0);
    for (int j = 0; j < 1500; ++j) c[j] = static_cast<uint64_t>(1e6 / (1 + 0.02 * j * j)) + rng() % 2;
    const TensorStats s = stats_of_hist(-6, 0, c);
    check_kl_against_naive(s, false, 256);
    EXPECT_EQ(calibrate_kl(s).min, 0.f);
  }
}

TEST(CalibratorKl, ReluSpikeAtZeroDoesNotDecide) {
  // Half exact zeros, half |N(0, 1)|: the zero spike is representable; the threshold follows
  // the positive part (pytorch-quantization's b[0] = b[1]).
  std::vector<float> v = gaussian(400000, 5);
  for (size_t i = 0; i < v.size(); ++i) v[i] = i % 2 ? std::fabs(v[i]) : 0.f;
  const Range r = calibrate_kl(stats_of(v));
  EXPECT_EQ(r.min, 0.f);
  EXPECT_GT(r.max, 2.5f);
  EXPECT_LE(r.max, *std::max_element(v.begin(), v.end()));
  std::printf("kl relu: [%g, %g]\n", r.min, r.max);
}

TEST(CalibratorPercentile, QuantilesOfKnownData) {
  // 0..99999 / 1000 uniformly spaced, and the same mirrored: quantiles are known exactly.
  std::vector<float> v(100000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = i / 1000.f;
  const TensorStats pos = stats_of(v);
  const double w = pos.hist.bin_width();
  CalibratorOptions o;
  o.percentile = 99;
  Range r = calibrate_percentile(pos, o);  // one-sided
  EXPECT_EQ(r.min, 0.f);
  EXPECT_NEAR(r.max, 99.0, w);
  o.percentile = 90;
  r = calibrate_percentile(pos, o);
  EXPECT_NEAR(r.max, 90.0, w);

  for (float& x : v) x = -x;
  r = calibrate_percentile(stats_of(v), o);  // one-sided, mirrored
  EXPECT_EQ(r.max, -0.f);
  EXPECT_NEAR(r.min, -90.0, w);

  for (size_t i = 0; i < v.size(); ++i) v[i] = i / 1000.f - 40.f;  // [-40, 60): tails of 5% each
  r = calibrate_percentile(stats_of(v), o);
  EXPECT_NEAR(r.min, -35.0, w);
  EXPECT_NEAR(r.max, 55.0, w);
  o.symmetric = true;  // |x|: 90% of the values lie within 50
  r = calibrate_percentile(stats_of(v), o);
  EXPECT_NEAR(r.max, 50.0, 2 * w);
  EXPECT_EQ(r.min, -r.max);
}

TEST(CalibratorAll, DegenerateInputsGiveValidRanges) {
  struct Case {
    std::string name;
    std::vector<float> data;
  };
  const std::vector<Case> cases = {
      {"empty", {}},
      {"all zero", std::vector<float>(1000, 0.f)},
      {"constant 5", std::vector<float>(1000, 5.f)},
      {"constant -3", std::vector<float>(77, -3.f)},
      {"constant 1e20", std::vector<float>(10, 1e20f)},
      {"constant 1e-20", std::vector<float>(10, 1e-20f)},
      {"constant 1e-35", std::vector<float>(10, 1e-35f)},
      {"one value", {2.5f}},
      {"two values", {0.f, 1.f}},
      {"zero and one outlier", {0.f, 0.f, 0.f, 0.f, 1e30f}},
      {"non-finite only", {kNaN, kInf, -kInf}},
      {"huge", {-3e38f, 3e38f, 1.f}},
  };
  for (const Case& c : cases) {
    const TensorStats s = stats_of(c.data);
    const TensorStats from_json = TensorStats::from_json(nlohmann::json::parse(s.to_json().dump()));
    for (const std::string& m : calibrator_names())
      for (bool sym : {false, true}) {
        CalibratorOptions o;
        o.symmetric = sym;
        const std::string what = c.name + " / " + m + (sym ? " symmetric" : "");
        const Range r = calibrate(s, m, o);
        expect_valid(r, what);
        if (s.min == s.max) {  // a constant must be representable
          EXPECT_LE(r.min, s.min) << what;
          EXPECT_GE(r.max, s.max) << what;
        }
        const Range j = calibrate(from_json, m, o);
        EXPECT_EQ(j.min, r.min) << what;
        EXPECT_EQ(j.max, r.max) << what;
      }
  }
  TensorStats no_hist;  // min/max without a histogram: the min-max range
  no_hist.min = -2;
  no_hist.max = 3;
  no_hist.count = 10;
  for (const std::string& m : calibrator_names()) {
    const Range r = calibrate(no_hist, m);
    EXPECT_EQ(r.min, -2.f) << m;
    EXPECT_EQ(r.max, 3.f) << m;
  }
}

TEST(CalibratorAll, OptionsAndNames) {
  EXPECT_EQ(calibrator_names(), (std::vector<std::string>{"minmax", "percentile", "kl", "mse"}));
  const TensorStats s = stats_of(gaussian(1000, 9));
  EXPECT_THROW(calibrate(s, "entropy"), Error);
  for (double p : {0.0, -1.0, 100.5, std::nan("")}) {
    CalibratorOptions o;
    o.percentile = p;
    EXPECT_THROW(calibrate_percentile(s, o), Error) << p;
  }
  CalibratorOptions o;
  o.bits = 1;
  EXPECT_THROW(calibrate_mse(s, o), Error);
  o.bits = 17;
  EXPECT_THROW(calibrate_mse(s, o), Error);
  o = {};
  o.kl_target_bins = 0;
  EXPECT_THROW(calibrate_kl(s, o), Error);
  o = {};
  o.kl_start_bin = 0;
  EXPECT_THROW(calibrate_kl(s, o), Error);
}

// Full 2048-bin histograms give valid ranges (their speed is measured in bench/, not here).
TEST(CalibratorAll, ValidOnFullHistograms) {
  std::mt19937 rng(13);
  std::vector<uint64_t> one_sided(2048), signed_counts(2048);
  for (int j = 0; j < 2048; ++j) {
    one_sided[j] = static_cast<uint64_t>(1e7 * std::exp(-j / 150.0)) + 1 + rng() % 5;
    const double x = (j - 1024 + 0.5) / 128;
    signed_counts[j] = static_cast<uint64_t>(1e7 * std::exp(-std::fabs(x))) + 1 + rng() % 5;
  }
  const TensorStats a = stats_of_hist(-8, 0, one_sided), b = stats_of_hist(-7, -1024, signed_counts);
  for (const std::string& m : calibrator_names())
    for (const TensorStats* s : {&a, &b}) expect_valid(calibrate(*s, m), m);
}

}  // namespace
}  // namespace qcal

// A sampled histogram can miss one side of the exact range (here: exact min < 0, every
// sampled value > 0). Every calibrator must still return a valid range, not crash.
TEST(CalibratorAll, HistogramMissingOneSideOfTheExactRange) {
  std::vector<float> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.1f + 0.001f * static_cast<float>(i);
  qcal::TensorStats s;
  s.add(v.data(), v.size(), 1);
  s.min = -8.0f;  // seen by the exact min/max pass, not by the sample
  s.max = 9.0f;
  for (const auto& name : qcal::calibrator_names()) {
    for (bool symmetric : {false, true}) {
      qcal::CalibratorOptions o;
      o.symmetric = symmetric;
      const qcal::Range r = qcal::calibrate(s, name, o);
      EXPECT_LT(r.min, r.max) << name;
      EXPECT_TRUE(std::isfinite(r.min) && std::isfinite(r.max)) << name;
    }
  }
}

// One value per image over a few dozen images is no distribution: the clipping calibrators
// keep the observed range (a clipped logit before a sigmoid wrecked a real model's score).
TEST(CalibratorAll, FewValuesKeepTheObservedRange) {
  std::vector<float> v = {-7.6f, -7.1f, -6.9f, -7.3f, -2.0f, -7.0f, -7.2f, -6.8f};
  qcal::TensorStats s;
  s.add(v.data(), v.size(), 1);
  for (const std::string name : {"percentile", "kl", "mse"}) {
    const qcal::Range r = qcal::calibrate(s, name);
    EXPECT_FLOAT_EQ(r.min, -7.6f) << name;
    EXPECT_FLOAT_EQ(r.max, -2.0f) << name;
  }
  qcal::CalibratorOptions o;
  o.min_values = 0;  // the distribution-based answer when asked for
  o.percentile = 80;
  const qcal::Range clipped = qcal::calibrate(s, "percentile", o);
  EXPECT_TRUE(clipped.min > -7.6f || clipped.max < -2.0f);
}
