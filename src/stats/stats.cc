#include "qcal/stats.h"
#include "qcal/json_read.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "qcal/error.h"

namespace qcal {
namespace {

constexpr int kMinExponent = -60;  // 2^-60: finer than any float32 activation needs
constexpr int kMaxExponent = 128;  // 2^128 > FLT_MAX

// Bins spanned by [lo, hi] at width 2^k, computed in double so huge values cannot overflow.
double span_at(double lo, double hi, int k) {
  const double w = std::ldexp(1.0, k);
  return std::floor(hi / w) - std::floor(lo / w) + 1.0;
}

// Whether [lo, hi] fits a window of max_bins at width 2^k with grid indices small enough to
// be exact in double and safe in int64 (|index| <= 2^52). The index bound only binds for
// (nearly) constant data, whose span alone would pick 2^-60 and overflow int64 for |v| >= 8.
// Both conditions are monotone in k, so "the smallest k that fits" is well defined and the
// same whether data arrives in one batch or many, or through merge().
bool fits(double lo, double hi, int k, int max_bins) {
  const double w = std::ldexp(1.0, k);
  const double limit = std::ldexp(1.0, 52);
  return span_at(lo, hi, k) <= max_bins && std::fabs(std::floor(lo / w)) <= limit && std::fabs(std::floor(hi / w)) <= limit;
}

int64_t floor_div2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

}  // namespace

double Histogram::bin_width() const { return std::ldexp(1.0, exponent_); }
double Histogram::lower() const { return static_cast<double>(first_) * bin_width(); }

int64_t Histogram::bin_of(double v) const { return static_cast<int64_t>(std::floor(v / bin_width())); }

void Histogram::coarsen() {
  const int64_t new_first = floor_div2(first_);
  const int64_t new_last = floor_div2(first_ + static_cast<int64_t>(counts_.size()) - 1);
  std::vector<uint64_t> merged(static_cast<size_t>(new_last - new_first + 1), 0);
  for (size_t i = 0; i < counts_.size(); ++i) merged[floor_div2(first_ + static_cast<int64_t>(i)) - new_first] += counts_[i];
  counts_ = std::move(merged);
  first_ = new_first;
  ++exponent_;
}

void Histogram::cover(int64_t lo_bin, int64_t hi_bin) {
  const int64_t last = first_ + static_cast<int64_t>(counts_.size()) - 1;
  const int64_t new_first = std::min(first_, lo_bin), new_last = std::max(last, hi_bin);
  if (new_first < first_) counts_.insert(counts_.begin(), static_cast<size_t>(first_ - new_first), 0);
  if (new_last > last) counts_.resize(counts_.size() + static_cast<size_t>(new_last - last), 0);
  first_ = new_first;
}

namespace {

// Summary of a sample after its finite values were moved to the front.
struct FiniteScan {
  size_t finite = 0;      // x[0..finite) are the finite values, in order
  uint64_t infinite = 0;  // +-inf seen (NaN is ignored)
  float lo = std::numeric_limits<float>::infinity(), hi = -std::numeric_limits<float>::infinity();
  double sum = 0, sum_sq = 0;
};

// One pass over a contiguous sample: compacts the finite values to the front and takes
// their extremes and moments. This runs for every tensor of every image, so it is the
// calibration overhead; the AVX-512 path handles 16 values per step without branches.
FiniteScan scan_finite(float* x, size_t n) {
  FiniteScan r;
  size_t i = 0;
#if defined(__AVX512F__) && defined(__AVX512DQ__)
  const __m512 zero = _mm512_setzero_ps();
  __m512 vlo = _mm512_set1_ps(r.lo), vhi = _mm512_set1_ps(r.hi);
  __m512d s = _mm512_setzero_pd(), s2 = _mm512_setzero_pd();
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    const __mmask16 fin = _mm512_cmp_ps_mask(_mm512_sub_ps(v, v), zero, _CMP_EQ_OQ);  // v - v is NaN for inf/NaN
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r.infinite += static_cast<uint64_t>(__builtin_popcount(static_cast<unsigned>(~(fin | nan)) & 0xFFFFu));
    vlo = _mm512_mask_min_ps(vlo, fin, v, vlo);
    vhi = _mm512_mask_max_ps(vhi, fin, v, vhi);
    const __m512d a = _mm512_maskz_cvtps_pd(static_cast<__mmask8>(fin), _mm512_castps512_ps256(v));
    const __m512d b = _mm512_maskz_cvtps_pd(static_cast<__mmask8>(fin >> 8), _mm512_extractf32x8_ps(v, 1));
    s = _mm512_add_pd(s, _mm512_add_pd(a, b));
    s2 = _mm512_fmadd_pd(a, a, _mm512_fmadd_pd(b, b, s2));
    _mm512_mask_compressstoreu_ps(x + r.finite, fin, v);  // never passes x + i: safe in place
    r.finite += static_cast<size_t>(__builtin_popcount(fin));
  }
  r.lo = _mm512_reduce_min_ps(vlo);
  r.hi = _mm512_reduce_max_ps(vhi);
  r.sum = _mm512_reduce_add_pd(s);
  r.sum_sq = _mm512_reduce_add_pd(s2);
#endif
  for (; i < n; ++i) {
    const float v = x[i];
    if (std::isfinite(v)) {
      r.lo = std::min(r.lo, v);
      r.hi = std::max(r.hi, v);
      r.sum += v;
      r.sum_sq += static_cast<double>(v) * v;
      x[r.finite++] = v;
    } else if (!std::isnan(v)) {
      ++r.infinite;
    }
  }
  return r;
}

}  // namespace

void Histogram::add(const float* x, size_t n, size_t stride) {
  if (stride == 0) stride = 1;
  thread_local std::vector<float> sample;
  sample.resize((n + stride - 1) / stride);
  for (size_t i = 0, k = 0; i < n; i += stride) sample[k++] = x[i];
  const FiniteScan scan = scan_finite(sample.data(), sample.size());
  add_finite(sample.data(), scan.finite, scan.lo, scan.hi, scan.infinite);
}

void Histogram::add_finite(const float* x, size_t n, float lo, float hi, uint64_t infinite) {
  non_finite_ += infinite;
  if (n == 0) return;
  if (!initialized_) {
    // The finest grid on which this batch fits.
    int k = hi > lo ? static_cast<int>(std::ceil(std::log2((static_cast<double>(hi) - lo) / max_bins_))) : kMinExponent;
    k = std::clamp(k, kMinExponent, kMaxExponent);
    while (k < kMaxExponent && !fits(lo, hi, k, max_bins_)) ++k;
    while (k > kMinExponent && fits(lo, hi, k - 1, max_bins_)) --k;
    exponent_ = k;
    first_ = bin_of(lo);
    counts_.assign(static_cast<size_t>(bin_of(hi) - first_ + 1), 0);
    initialized_ = true;
  } else {
    while (exponent_ < kMaxExponent &&
           !fits(std::min<double>(lo, lower()), std::max<double>(hi, upper() - bin_width()), exponent_, max_bins_))
      coarsen();
    cover(bin_of(lo), bin_of(hi));
  }
  // Bin width is a power of two, so v * inv is exact and floor() lands on the true bin.
  const double inv = 1.0 / bin_width();
  const int64_t first = first_;
  const int64_t nb = static_cast<int64_t>(counts_.size());
  uint64_t* c = counts_.data();
  size_t i = 0;
#if defined(__AVX512F__) && defined(__AVX512DQ__)
  const __m512d vinv = _mm512_set1_pd(inv);
  const __m512i vfirst = _mm512_set1_epi64(first), vlast = _mm512_set1_epi64(nb - 1), vzero = _mm512_setzero_si512();
  alignas(64) int64_t idx[8];
  for (; i + 8 <= n; i += 8) {
    const __m512d v = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), vinv);
    __m512i b = _mm512_sub_epi64(_mm512_cvttpd_epi64(_mm512_roundscale_pd(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)), vfirst);
    b = _mm512_min_epi64(_mm512_max_epi64(b, vzero), vlast);  // guards the float->double edge only
    _mm512_store_si512(reinterpret_cast<__m512i*>(idx), b);
    for (int u = 0; u < 8; ++u) ++c[idx[u]];
  }
#endif
  for (; i < n; ++i) {
    int64_t b = static_cast<int64_t>(std::floor(x[i] * inv)) - first;
    b = std::clamp<int64_t>(b, 0, nb - 1);
    ++c[b];
  }
  total_ += n;
}

void Histogram::merge(const Histogram& other) {
  non_finite_ += other.non_finite_;
  if (!other.initialized_) return;
  if (!initialized_) {
    const uint64_t nf = non_finite_;
    *this = other;
    non_finite_ = nf;
    return;
  }
  Histogram o = other;
  while (o.exponent_ < exponent_) o.coarsen();
  while (exponent_ < o.exponent_) coarsen();
  for (;;) {
    const int64_t lo = std::min(first_, o.first_);
    const int64_t hi = std::max(first_ + num_bins(), o.first_ + o.num_bins());
    if (hi - lo <= max_bins_ || exponent_ >= kMaxExponent) break;
    coarsen();
    o.coarsen();
  }
  cover(o.first_, o.first_ + o.num_bins() - 1);
  for (int i = 0; i < o.num_bins(); ++i) counts_[o.first_ - first_ + i] += o.counts_[i];
  total_ += o.total_;
}

Histogram Histogram::from_counts(int exponent, int64_t first_bin, std::vector<uint64_t> counts, int max_bins) {
  Histogram h(max_bins);
  h.exponent_ = exponent;
  h.first_ = first_bin;
  h.counts_ = std::move(counts);
  h.initialized_ = !h.counts_.empty();
  for (uint64_t c : h.counts_) h.total_ += c;
  return h;
}

nlohmann::json Histogram::to_json() const {
  return {{"exponent", exponent_}, {"first_bin", first_}, {"max_bins", max_bins_},
          {"non_finite", non_finite_}, {"counts", counts_}};
}

Histogram Histogram::from_json(const nlohmann::json& j) {
  // What add()/merge() rely on: a sane grid, and indices that stay exact in double.
  const int exponent = json_integer<int>(j.at("exponent"), "histogram exponent");
  const int64_t first = json_integer<int64_t>(j.at("first_bin"), "histogram first_bin");
  const int max_bins = j.contains("max_bins") ? json_integer<int>(j.at("max_bins"), "histogram max_bins") : kDefaultMaxBins;
  const int64_t limit = int64_t{1} << 52;
  if (exponent < kMinExponent || exponent > kMaxExponent || max_bins < 1 || max_bins > kMaxBinsLimit || first < -limit ||
      first > limit || j.at("counts").size() > static_cast<size_t>(max_bins))
    throw Error("histogram: bad grid (exponent " + std::to_string(exponent) + ", first_bin " + std::to_string(first) +
                ", max_bins " + std::to_string(max_bins) + ")");
  Histogram h = from_counts(exponent, first,
                            json_array(j.at("counts"), "histogram counts",
                                       [](const nlohmann::json& e) { return json_integer<uint64_t>(e, "a histogram count"); }),
                            max_bins);
  h.non_finite_ = j.contains("non_finite") ? json_integer<uint64_t>(j.at("non_finite"), "histogram non_finite") : 0;
  return h;
}

namespace {

// Min and max ignoring NaN. The AVX-512 paths keep the accumulators in registers (a
// plain loop over cmin[c] would round-trip memory for every pixel); vminps(v, acc) returns
// acc when v is NaN, which is the NaN rule wanted here.
void min_max(const float* x, size_t n, float& lo, float& hi) {
  size_t i = 0;
  float l = lo, h = hi;
#ifdef __AVX512F__
  // Four accumulator pairs: two would leave the loop bound by min/max latency, not loads.
  __m512 vl[4], vh[4];
  for (int u = 0; u < 4; ++u) vl[u] = _mm512_set1_ps(l), vh[u] = _mm512_set1_ps(h);
  for (; i + 64 <= n; i += 64)
    for (int u = 0; u < 4; ++u) {
      const __m512 v = _mm512_loadu_ps(x + i + 16 * u);
      vl[u] = _mm512_min_ps(v, vl[u]);
      vh[u] = _mm512_max_ps(v, vh[u]);
    }
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    vl[0] = _mm512_min_ps(v, vl[0]);
    vh[0] = _mm512_max_ps(v, vh[0]);
  }
  l = _mm512_reduce_min_ps(_mm512_min_ps(_mm512_min_ps(vl[0], vl[1]), _mm512_min_ps(vl[2], vl[3])));
  h = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(vh[0], vh[1]), _mm512_max_ps(vh[2], vh[3])));
#endif
  for (; i < n; ++i) {
    const float v = x[i];
    l = v < l ? v : l;
    h = v > h ? v : h;
  }
  lo = l;
  hi = h;
}

// Adds each channel's values (channels-last data) to sums[c] in double; non-finite values
// are left out. One contiguous pass.
void add_channel_sums(const float* x, size_t n, int channels, double* sums) {
  const size_t ch = static_cast<size_t>(channels);
  for (size_t i = 0; i < n; i += ch)
    for (size_t c = 0; c < ch; ++c)
      if (std::isfinite(x[i + c])) sums[c] += x[i + c];
}

void channel_min_max(const float* x, size_t n, int channels, float* cmin, float* cmax) {
  const size_t pixels = n / static_cast<size_t>(channels);
#ifdef __AVX512F__
  // Four independent accumulator pairs per 16-channel block hide the min/max latency;
  // masked-off lanes load +-inf, which never wins.
  const __m512 pinf = _mm512_set1_ps(INFINITY), ninf = _mm512_set1_ps(-INFINITY);
  for (int c0 = 0; c0 < channels; c0 += 16) {
    const int w = std::min(16, channels - c0);
    const __mmask16 m = static_cast<__mmask16>((1u << w) - 1);
    __m512 l[4] = {pinf, pinf, pinf, pinf}, h[4] = {ninf, ninf, ninf, ninf};
    const float* p = x + c0;
    size_t i = 0;
    for (; i + 4 <= pixels; i += 4, p += 4 * channels)
      for (int u = 0; u < 4; ++u) {
        l[u] = _mm512_min_ps(_mm512_mask_loadu_ps(pinf, m, p + u * channels), l[u]);
        h[u] = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, m, p + u * channels), h[u]);
      }
    for (; i < pixels; ++i, p += channels) {
      l[0] = _mm512_min_ps(_mm512_mask_loadu_ps(pinf, m, p), l[0]);
      h[0] = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, m, p), h[0]);
    }
    __m512 vl = _mm512_min_ps(_mm512_min_ps(l[0], l[1]), _mm512_min_ps(l[2], l[3]));
    __m512 vh = _mm512_max_ps(_mm512_max_ps(h[0], h[1]), _mm512_max_ps(h[2], h[3]));
    vl = _mm512_min_ps(vl, _mm512_mask_loadu_ps(pinf, m, cmin + c0));
    vh = _mm512_max_ps(vh, _mm512_mask_loadu_ps(ninf, m, cmax + c0));
    _mm512_mask_storeu_ps(cmin + c0, m, vl);
    _mm512_mask_storeu_ps(cmax + c0, m, vh);
  }
#else
  for (size_t i = 0; i < pixels; ++i) {
    const float* row = x + i * static_cast<size_t>(channels);
    for (int c = 0; c < channels; ++c) {
      const float v = row[c];
      cmin[c] = v < cmin[c] ? v : cmin[c];
      cmax[c] = v > cmax[c] ? v : cmax[c];
    }
  }
#endif
}

// The slow exact path for the rare tensor holding +-inf: finite values only.
void finite_min_max(const float* x, size_t n, float& lo, float& hi) {
  for (size_t i = 0; i < n; ++i)
    if (std::isfinite(x[i])) {
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
    }
}

}  // namespace

void TensorStats::add(const float* x, size_t n, int channels, size_t max_samples, size_t innermost) {
  // Exact min/max (per channel too) over every value: one vectorized pass. The histogram and
  // the moments take an evenly strided sample of at most `max_samples` values per call, which
  // keeps calibration close to the cost of inference while thousands of images still fill
  // every histogram.
  float lo = min, hi = max;
  const bool per_channel = channels > 1 && n % static_cast<size_t>(channels) == 0;
  if (per_channel) {
    if (channel_min.empty()) {
      channel_min.assign(channels, std::numeric_limits<float>::infinity());
      channel_max.assign(channels, -std::numeric_limits<float>::infinity());
      channel_sum.assign(channels, 0.0);
    } else if (channel_min.size() != static_cast<size_t>(channels)) {
      throw Error("tensor statistics: channel count changed from " + std::to_string(channel_min.size()) + " to " +
                  std::to_string(channels));
    }
    // This call's per-channel extremes first, so a rare +-inf can be redone exactly.
    std::vector<float> cl(static_cast<size_t>(channels), INFINITY), ch(static_cast<size_t>(channels), -INFINITY);
    channel_min_max(x, n, channels, cl.data(), ch.data());
    if (channel_sum.size() == static_cast<size_t>(channels)) add_channel_sums(x, n, channels, channel_sum.data());
    for (int c = 0; c < channels; ++c) {
      if (cl[c] == -INFINITY || ch[c] == INFINITY) {
        cl[c] = INFINITY, ch[c] = -INFINITY;
        for (size_t i = static_cast<size_t>(c); i < n; i += static_cast<size_t>(channels))
          if (std::isfinite(x[i])) cl[c] = std::min(cl[c], x[i]), ch[c] = std::max(ch[c], x[i]);
      }
      channel_min[c] = std::min(channel_min[c], cl[c]);
      channel_max[c] = std::max(channel_max[c], ch[c]);
      lo = std::min(lo, cl[c]);
      hi = std::max(hi, ch[c]);
    }
  } else {
    float l = INFINITY, h = -INFINITY;
    min_max(x, n, l, h);
    if (!std::isfinite(l) || !std::isfinite(h)) {
      l = INFINITY, h = -INFINITY;
      finite_min_max(x, n, l, h);
    }
    lo = std::min(lo, l);
    hi = std::max(hi, h);
  }
  min = lo;
  max = hi;
  count += n;
  size_t stride = max_samples > 0 && n > max_samples ? (n + max_samples - 1) / max_samples : 1;
  // A stride sharing a factor with the channel count would sample only some channels (with
  // stride = k x channels, every sample lands in one channel and misses the others' tails).
  const size_t lanes = std::max(innermost, static_cast<size_t>(std::max(channels, 1)));
  while (stride > 1 && lanes > 1 && std::gcd(stride, lanes) != 1) ++stride;
  // Gather the sample once (strided reads miss the cache), then one contiguous pass takes
  // the moments and the histogram's extremes, and the histogram bins what is finite.
  thread_local std::vector<float> sample;
  sample.resize((n + stride - 1) / stride);
  for (size_t i = 0, k = 0; i < n; i += stride) sample[k++] = x[i];
  const FiniteScan scan = scan_finite(sample.data(), sample.size());
  sum += scan.sum;
  sum_sq += scan.sum_sq;
  sampled += scan.finite;
  hist.add_finite(sample.data(), scan.finite, scan.lo, scan.hi, scan.infinite);
}

void TensorStats::merge(const TensorStats& o) {
  min = std::min(min, o.min);
  max = std::max(max, o.max);
  count += o.count;
  sampled += o.sampled;
  sum += o.sum;
  sum_sq += o.sum_sq;
  hist.merge(o.hist);
  if (channel_min.empty()) {
    channel_min = o.channel_min;
    channel_max = o.channel_max;
    channel_sum = o.channel_sum;
  } else if (!o.channel_min.empty()) {
    if (o.channel_min.size() != channel_min.size())
      throw Error("tensor statistics: cannot merge " + std::to_string(o.channel_min.size()) + " channels into " +
                  std::to_string(channel_min.size()));
    for (size_t c = 0; c < channel_min.size(); ++c) {
      channel_min[c] = std::min(channel_min[c], o.channel_min[c]);
      channel_max[c] = std::max(channel_max[c], o.channel_max[c]);
    }
    if (channel_sum.size() == o.channel_sum.size())
      for (size_t c = 0; c < channel_sum.size(); ++c) channel_sum[c] += o.channel_sum[c];
    else
      channel_sum.clear();  // one side has no sums (an older cache): means are unknown
  }
}

nlohmann::json TensorStats::to_json() const {
  nlohmann::json j = {{"min", min}, {"max", max}, {"count", count}, {"sampled", sampled}, {"sum", sum}, {"sum_sq", sum_sq},
                      {"histogram", hist.to_json()}};
  if (!channel_min.empty()) {
    j["channel_min"] = channel_min;
    j["channel_max"] = channel_max;
    if (!channel_sum.empty()) j["channel_sum"] = channel_sum;
  }
  return j;
}

namespace {

// JSON has no infinities: nlohmann writes them (the min/max of a tensor without finite
// values) as null, which reads back as the given default.
float float_or(const nlohmann::json& j, float fallback) { return j.is_null() ? fallback : json_float(j, "a range bound"); }

std::vector<float> floats_or(const nlohmann::json& j, float fallback) {
  std::vector<float> v;
  v.reserve(j.size());
  for (const auto& e : j) v.push_back(float_or(e, fallback));
  return v;
}

}  // namespace

TensorStats TensorStats::from_json(const nlohmann::json& j) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  TensorStats s;
  s.min = float_or(j.at("min"), kInf);
  s.max = float_or(j.at("max"), -kInf);
  s.count = json_integer<uint64_t>(j.at("count"), "count");
  s.sum = json_double(j.at("sum"), "sum");
  s.sum_sq = json_double(j.at("sum_sq"), "sum_sq");
  s.sampled = j.contains("sampled") ? json_integer<uint64_t>(j.at("sampled"), "sampled") : s.count;
  s.hist = Histogram::from_json(j.at("histogram"));
  if (j.contains("channel_min")) {
    s.channel_min = floats_or(j.at("channel_min"), kInf);
    s.channel_max = floats_or(j.at("channel_max"), -kInf);
    if (s.channel_min.size() != s.channel_max.size()) throw Error("tensor statistics: channel_min and channel_max differ in length");
    if (j.contains("channel_sum")) {
      s.channel_sum = json_array(j.at("channel_sum"), "channel_sum",
                                 [](const nlohmann::json& e) { return json_double(e, "a channel_sum"); });
      if (s.channel_sum.size() != s.channel_min.size()) throw Error("tensor statistics: channel_sum and channel_min differ in length");
      for (double v : s.channel_sum)
        if (!std::isfinite(v)) throw Error("tensor statistics: a channel_sum is not finite");
    }
  }
  return s;
}

}  // namespace qcal
