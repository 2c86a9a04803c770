// Histogram and TensorStats: exact merging, growth by rebinning, the max_bins bound,
// non-finite values, JSON round trips and per-channel min/max.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "qcal/error.h"
#include "qcal/stats.h"

namespace qcal {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// A mix of scales and signs, with a few far outliers and exact bin edges.
std::vector<float> mixed_data(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.5f, 2.0f);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = g(rng);
  v[n / 3] = -300.f;
  v[n / 2] = 4096.f;
  v[n / 5] = 0.f;
  v[n / 7] = -0.f;
  v[n / 11] = 1e-30f;
  return v;
}

// Counts recomputed naively on the histogram's final grid: every finite value must sit in
// bin floor(v / 2^k) - first_bin.
std::vector<uint64_t> naive_counts(const Histogram& h, const std::vector<float>& data) {
  std::vector<uint64_t> c(h.num_bins(), 0);
  for (float v : data) {
    if (!std::isfinite(v)) continue;
    const int64_t b = static_cast<int64_t>(std::floor(static_cast<double>(v) / h.bin_width())) - h.first_bin();
    EXPECT_GE(b, 0) << v;
    EXPECT_LT(b, h.num_bins()) << v;
    if (b >= 0 && b < h.num_bins()) ++c[b];
  }
  return c;
}

// The grid is the finest that holds the data: one step finer would need more than max_bins.
void expect_finest(const Histogram& h, double lo, double hi) {
  ASSERT_LE(h.num_bins(), h.max_bins());
  if (h.exponent() == -60) return;
  const double w = std::ldexp(1.0, h.exponent() - 1);
  EXPECT_GT(std::floor(hi / w) - std::floor(lo / w) + 1, h.max_bins()) << "exponent " << h.exponent() << " is not minimal";
}

void expect_same(const Histogram& a, const Histogram& b) {
  EXPECT_EQ(a.exponent(), b.exponent());
  EXPECT_EQ(a.first_bin(), b.first_bin());
  EXPECT_EQ(a.total(), b.total());
  EXPECT_EQ(a.non_finite(), b.non_finite());
  EXPECT_EQ(a.counts(), b.counts());
}

TEST(StatsHistogram, KnownSmallCaseWithNegativeValuesAndEdges) {
  Histogram h(8);
  const std::vector<float> v = {-1.f, -0.5f, 0.f, 0.25f, 0.999f};
  h.add(v.data(), v.size());
  // [-1, 0.999] needs 8 bins of 0.25 (bins -4..3); bins of 0.125 would need 16.
  EXPECT_EQ(h.exponent(), -2);
  EXPECT_EQ(h.first_bin(), -4);
  EXPECT_DOUBLE_EQ(h.lower(), -1.0);
  EXPECT_DOUBLE_EQ(h.upper(), 1.0);
  EXPECT_EQ(h.counts(), (std::vector<uint64_t>{1, 0, 1, 0, 1, 1, 0, 1}));
  EXPECT_EQ(h.total(), 5u);
}

TEST(StatsHistogram, AllNegativeData) {
  Histogram h(64);
  std::vector<float> v;
  for (int i = 0; i < 1000; ++i) v.push_back(-3.f - 0.01f * i);
  h.add(v.data(), v.size());
  EXPECT_LT(h.upper(), 0.0 + h.bin_width());
  EXPECT_LE(h.lower(), -12.99);
  EXPECT_EQ(h.counts(), naive_counts(h, v));
  expect_finest(h, -12.99, -3.0);
}

TEST(StatsHistogram, MergingShuffledChunksIsExact) {
  for (uint32_t seed : {1u, 2u, 3u, 4u}) {
    std::vector<float> data = mixed_data(20000, seed);
    Histogram whole(512);
    whole.add(data.data(), data.size());
    EXPECT_EQ(whole.counts(), naive_counts(whole, data));
    expect_finest(whole, -300.0, 4096.0);

    std::mt19937 rng(seed * 77);
    std::shuffle(data.begin(), data.end(), rng);
    // Per-"thread" histograms fed chunks of random sizes, merged in a random order.
    std::vector<Histogram> parts(4, Histogram(512));
    for (size_t pos = 0; pos < data.size();) {
      const size_t len = std::min(data.size() - pos, size_t{1} + rng() % 3000);
      parts[rng() % parts.size()].add(data.data() + pos, len);
      pos += len;
    }
    std::shuffle(parts.begin(), parts.end(), rng);
    Histogram merged(512);
    for (const Histogram& p : parts) merged.merge(p);
    expect_same(merged, whole);
  }
}

TEST(StatsHistogram, ConstantFirstBatchThenWiderData) {
  // A constant batch alone picks the finest grid; large constants must not overflow the
  // bin index, and later data must still give the one-pass result.
  for (float c : {0.f, 1.f, 10.f, -1e6f, 3e38f}) {
    std::vector<float> constant(100, c);
    std::vector<float> rest = mixed_data(5000, 9);
    Histogram h(256);
    h.add(constant.data(), constant.size());
    EXPECT_EQ(h.total(), 100u);
    ASSERT_EQ(h.num_bins(), 1) << c;
    EXPECT_LE(h.lower(), c);
    EXPECT_GT(h.upper(), c);
    h.add(rest.data(), rest.size());

    std::vector<float> all = constant;
    all.insert(all.end(), rest.begin(), rest.end());
    Histogram whole(256);
    whole.add(all.data(), all.size());
    expect_same(h, whole);
    EXPECT_EQ(h.counts(), naive_counts(h, all));

    Histogram a(256), b(256);  // and through merge, in both orders
    a.add(constant.data(), constant.size());
    b.add(rest.data(), rest.size());
    Histogram ab = a, ba = b;
    ab.merge(b);
    ba.merge(a);
    expect_same(ab, whole);
    expect_same(ba, whole);
  }
}

TEST(StatsHistogram, GrowthByRebinningPreservesCounts) {
  Histogram h(100);
  std::vector<float> all;
  std::mt19937 rng(5);
  // Each batch widens the range, forcing coarsening and window growth on both sides.
  for (int step = 0; step < 12; ++step) {
    const float scale = std::ldexp(1.f, step);
    std::uniform_real_distribution<float> u(-0.3f * scale, scale);
    std::vector<float> batch(500);
    for (float& v : batch) v = u(rng);
    h.add(batch.data(), batch.size());
    all.insert(all.end(), batch.begin(), batch.end());
    uint64_t sum = 0;
    for (uint64_t c : h.counts()) sum += c;
    EXPECT_EQ(sum, all.size());
    EXPECT_EQ(h.total(), all.size());
    ASSERT_LE(h.num_bins(), h.max_bins());
    EXPECT_EQ(h.counts(), naive_counts(h, all));
  }
  const auto [lo, hi] = std::minmax_element(all.begin(), all.end());
  expect_finest(h, *lo, *hi);
}

TEST(StatsHistogram, StaysWithinMaxBins) {
  for (int max_bins : {2, 3, 7, 16, 100, 2048}) {
    for (uint32_t seed : {1u, 2u}) {
      Histogram h(max_bins);
      std::vector<float> all;
      std::mt19937 rng(seed);
      std::cauchy_distribution<float> cauchy(1.f, 0.5f);  // heavy tails: many growth steps
      for (int batch = 0; batch < 20; ++batch) {
        std::vector<float> v(200);
        for (float& x : v) x = cauchy(rng);
        h.add(v.data(), v.size());
        all.insert(all.end(), v.begin(), v.end());
        ASSERT_LE(h.num_bins(), max_bins);
      }
      EXPECT_EQ(h.counts(), naive_counts(h, all));
      const auto [lo, hi] = std::minmax_element(all.begin(), all.end());
      expect_finest(h, *lo, *hi);
    }
  }
}

TEST(StatsHistogram, ExtremeMagnitudes) {
  Histogram h;
  const std::vector<float> v = {-std::numeric_limits<float>::max(), 0.f, std::numeric_limits<float>::max(),
                                std::numeric_limits<float>::denorm_min()};
  h.add(v.data(), v.size());
  EXPECT_EQ(h.total(), 4u);
  EXPECT_LE(h.num_bins(), h.max_bins());
  EXPECT_EQ(h.counts(), naive_counts(h, v));

  Histogram tiny;  // a range far below the finest grid (2^-60) still works
  const std::vector<float> t = {0.f, 1e-30f, 2e-30f};
  tiny.add(t.data(), t.size());
  EXPECT_EQ(tiny.exponent(), -60);
  EXPECT_EQ(tiny.counts(), naive_counts(tiny, t));
}

TEST(StatsHistogram, NonFiniteValues) {
  Histogram h;
  const std::vector<float> v = {1.f, kNaN, kInf, -kInf, 2.f, kNaN};
  h.add(v.data(), v.size());
  EXPECT_EQ(h.total(), 2u);       // finite values only
  EXPECT_EQ(h.non_finite(), 2u);  // +-inf counted, NaN ignored
  EXPECT_EQ(h.counts(), naive_counts(h, v));

  Histogram only_bad;
  const std::vector<float> bad = {kNaN, kInf};
  only_bad.add(bad.data(), bad.size());
  EXPECT_TRUE(only_bad.empty());
  EXPECT_EQ(only_bad.num_bins(), 0);
  EXPECT_EQ(only_bad.non_finite(), 1u);
  // Merging keeps the non-finite count from both sides, whichever is empty.
  Histogram m = only_bad;
  m.merge(h);
  EXPECT_EQ(m.non_finite(), 3u);
  EXPECT_EQ(m.counts(), h.counts());
  h.merge(only_bad);
  EXPECT_EQ(h.non_finite(), 3u);
  EXPECT_EQ(h.total(), 2u);
}

TEST(StatsHistogram, JsonRoundTrip) {
  std::vector<float> data = mixed_data(3000, 11);
  data.push_back(kInf);
  Histogram h(300);
  h.add(data.data(), data.size());
  const Histogram r = Histogram::from_json(nlohmann::json::parse(h.to_json().dump()));
  expect_same(r, h);
  EXPECT_EQ(r.max_bins(), 300);
  // The restored histogram keeps growing exactly like the original.
  std::vector<float> more = {-1e4f, 5e4f};
  Histogram a = h, b = r;
  a.add(more.data(), more.size());
  b.add(more.data(), more.size());
  expect_same(a, b);

  const Histogram empty = Histogram::from_json(Histogram().to_json());
  EXPECT_TRUE(empty.empty());

  nlohmann::json bad = h.to_json();
  bad["exponent"] = 1000;
  EXPECT_THROW(Histogram::from_json(bad), Error);
  bad = h.to_json();
  bad["max_bins"] = 0;
  EXPECT_THROW(Histogram::from_json(bad), Error);
}

TEST(StatsTensorStats, TensorWideStatistics) {
  const std::vector<float> v = {1.f, -2.f, kNaN, 4.f, kInf, 0.5f};
  TensorStats s;
  s.add(v.data(), v.size(), 1);
  EXPECT_EQ(s.min, -2.f);
  EXPECT_EQ(s.max, 4.f);
  EXPECT_DOUBLE_EQ(s.sum, 3.5);
  EXPECT_DOUBLE_EQ(s.sum_sq, 1 + 4 + 16 + 0.25);
  EXPECT_EQ(s.hist.total(), 4u);
  EXPECT_FALSE(s.empty());
  EXPECT_TRUE(s.channel_min.empty());
  EXPECT_TRUE(TensorStats().empty());
}

TEST(StatsTensorStats, PerChannelMinMax) {
  const int channels = 5;
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> want_min(channels, kInf), want_max(channels, -kInf);
  TensorStats s, a, b;
  for (int batch = 0; batch < 6; ++batch) {
    std::vector<float> v(channels * 40);
    for (size_t i = 0; i < v.size(); ++i) {
      const int c = static_cast<int>(i % channels);
      v[i] = g(rng) * (c + 1) + 10.f * c;
      if (i == 7) v[i] = kNaN;  // non-finite values are skipped per channel too
      if (i == 13) v[i] = kInf;
      if (!std::isfinite(v[i])) continue;
      want_min[c] = std::min(want_min[c], v[i]);
      want_max[c] = std::max(want_max[c], v[i]);
    }
    s.add(v.data(), v.size(), channels);
    (batch % 2 ? a : b).add(v.data(), v.size(), channels);
  }
  EXPECT_EQ(s.channel_min, want_min);
  EXPECT_EQ(s.channel_max, want_max);
  a.merge(b);
  EXPECT_EQ(a.channel_min, want_min);
  EXPECT_EQ(a.channel_max, want_max);
  EXPECT_EQ(a.min, s.min);
  EXPECT_EQ(a.max, s.max);
  EXPECT_EQ(a.count, s.count);
  expect_same(a.hist, s.hist);
  EXPECT_EQ(*std::min_element(want_min.begin(), want_min.end()), s.min);

  TensorStats fresh;  // merging into empty stats adopts the channels
  fresh.merge(s);
  EXPECT_EQ(fresh.channel_max, want_max);

  std::vector<float> four(8, 1.f);  // a different channel count is a caller bug
  EXPECT_THROW(s.add(four.data(), four.size(), 4), Error);
  TensorStats other;
  other.add(four.data(), four.size(), 4);
  EXPECT_THROW(s.merge(other), Error);
}

TEST(StatsTensorStats, JsonRoundTrip) {
  std::vector<float> v = mixed_data(600, 4);
  TensorStats s;
  s.add(v.data(), v.size(), 3);
  const TensorStats r = TensorStats::from_json(nlohmann::json::parse(s.to_json().dump()));
  EXPECT_EQ(r.min, s.min);
  EXPECT_EQ(r.max, s.max);
  EXPECT_EQ(r.count, s.count);
  EXPECT_DOUBLE_EQ(r.sum, s.sum);
  EXPECT_DOUBLE_EQ(r.sum_sq, s.sum_sq);
  EXPECT_EQ(r.channel_min, s.channel_min);
  EXPECT_EQ(r.channel_max, s.channel_max);
  expect_same(r.hist, s.hist);

  // Stats without finite values hold infinities, which JSON writes as null.
  TensorStats empty;
  const std::vector<float> bad = {kNaN, kNaN, kInf};
  empty.add(bad.data(), bad.size(), 3);
  const TensorStats e = TensorStats::from_json(nlohmann::json::parse(empty.to_json().dump()));
  EXPECT_EQ(e.min, kInf);
  EXPECT_EQ(e.max, -kInf);
  EXPECT_TRUE(e.hist.empty());
  EXPECT_EQ(e.channel_min, std::vector<float>(3, kInf));
  EXPECT_EQ(e.channel_max, std::vector<float>(3, -kInf));
  const TensorStats d = TensorStats::from_json(nlohmann::json::parse(TensorStats().to_json().dump()));
  EXPECT_TRUE(d.empty());
}

}  // namespace
}  // namespace qcal

// Sampling must not alias onto a few channels: with 64 channels and a stride that is a
// multiple of 64, every sample would come from channel 0 (a real calibration bug: the
// histogram then missed the other channels' tails entirely).
TEST(StatsTensorStats, SampledHistogramSeesEveryChannel) {
  const int channels = 64;
  const size_t n = 64 * 64 * channels;
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i % channels);  // channel c holds c
  qcal::TensorStats s;
  s.add(v.data(), n, 1, /*max_samples=*/256, /*innermost=*/channels);
  EXPECT_EQ(s.hist.total(), s.sampled);
  EXPECT_LE(s.sampled, 300u);
  EXPECT_GE(s.hist.upper(), 60.0);  // the high channels are in the histogram
  EXPECT_LE(s.hist.lower(), 3.0);
}
