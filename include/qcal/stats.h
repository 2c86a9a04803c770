// Streaming activation statistics: what calibrators turn into ranges.
//
// The histogram lives on a power-of-two grid anchored at zero: bin i covers
// [i * 2^k, (i+1) * 2^k). Growing the range doubles the bin width by merging bin pairs,
// which is exact because the grid stays aligned; so is merging two histograms. The final
// histogram therefore depends only on the data, not on batch order or thread count, and
// zero is always a bin edge (as the int8 grid needs it to be).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qcal {

class Histogram {
 public:
  static constexpr int kDefaultMaxBins = 2048;
  static constexpr int kMaxBinsLimit = 1 << 16;  // what a cache may ask for: memory stays bounded
  explicit Histogram(int max_bins = kDefaultMaxBins) : max_bins_(max_bins) {}

  // Adds x[0], x[stride], x[2*stride], ... (NaN ignored; +-inf counted as non-finite).
  void add(const float* x, size_t n, size_t stride = 1);
  // Adds n values that are all finite, with lo/hi their extremes, plus a count of +-inf
  // values seen beside them (the fast path for callers that have scanned the data).
  void add_finite(const float* x, size_t n, float lo, float hi, uint64_t infinite = 0);
  void merge(const Histogram& other);

  bool empty() const { return total_ == 0; }
  int num_bins() const { return static_cast<int>(counts_.size()); }
  int max_bins() const { return max_bins_; }
  const std::vector<uint64_t>& counts() const { return counts_; }
  uint64_t total() const { return total_; }  // finite values counted
  uint64_t non_finite() const { return non_finite_; }
  double bin_width() const;                 // 2^k
  double lower() const;                     // left edge of bin 0
  double upper() const { return lower() + bin_width() * num_bins(); }
  double edge(int i) const { return lower() + bin_width() * i; }  // left edge of bin i
  int exponent() const { return exponent_; }
  int64_t first_bin() const { return first_; }

  nlohmann::json to_json() const;
  static Histogram from_json(const nlohmann::json& j);

  // For tests and calibrators that synthesize histograms: counts over [first*2^k, ...).
  static Histogram from_counts(int exponent, int64_t first_bin, std::vector<uint64_t> counts, int max_bins = kDefaultMaxBins);

 private:
  void coarsen();                          // doubles the bin width
  void cover(int64_t lo_bin, int64_t hi_bin);  // grows the window (coarsening as needed)
  int64_t bin_of(double v) const;

  int max_bins_;
  int exponent_ = 0;
  int64_t first_ = 0;                 // grid index of counts_[0]
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0, non_finite_ = 0;
  bool initialized_ = false;
};

// Everything collected for one float tensor.
struct TensorStats {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  uint64_t count = 0;       // values seen (min/max are exact over all of them)
  uint64_t sampled = 0;     // finite values in the histogram and the moments
  double sum = 0, sum_sq = 0;  // over the sampled values
  Histogram hist;
  // Per-channel (last axis) min/max, for calibrators and reports that need it, and the sum
  // of every (finite) value per channel: channel c's mean is channel_sum[c] / channel_count().
  std::vector<float> channel_min, channel_max;
  std::vector<double> channel_sum;
  uint64_t channel_count() const { return channel_min.empty() ? 0 : count / channel_min.size(); }

  // max_samples > 0: the histogram and moments take an evenly strided sample of at most that
  // many values from this call; min/max (also per channel) always see every value.
  // channels > 1 also collects per-channel min/max (channels-last data). innermost: the
  // size of the last dimension, so the sample stride never aliases onto a few channels.
  void add(const float* x, size_t n, int channels, size_t max_samples = 0, size_t innermost = 1);
  void merge(const TensorStats& other);
  bool empty() const { return count == 0; }

  nlohmann::json to_json() const;
  static TensorStats from_json(const nlohmann::json& j);
};

// A calibrated range for one tensor.
struct Range {
  float min = 0, max = 0;
};

}  // namespace qcal
