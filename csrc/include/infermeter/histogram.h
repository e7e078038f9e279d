// Latency histogram with HdrHistogram's exact bucket layout, so that its counts
// decode into Python's `hdrhistogram` (and any HdrHistogram tool) without error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace infermeter {

class Histogram {
 public:
  // Defaults: 1 ns to 1 h at 3 significant digits, the range every result uses.
  static constexpr int64_t kLowest = 1;
  static constexpr int64_t kHighest = 3'600'000'000'000LL;
  static constexpr int kSignificantFigures = 3;

  Histogram();

  // Values above the trackable range are clamped to it (and counted in
  // `saturated()`), so that no request is silently dropped.
  void record(int64_t value) noexcept {
    if (value < 0) value = 0;
    if (value > kHighest) {
      value = kHighest;
      ++saturated_;
    }
    ++counts_[counts_index_for(value)];
    ++total_count_;
    if (value < min_) min_ = value;
    if (value > max_) max_ = value;
  }

  void merge(const Histogram& other);
  // Back to empty, keeping the memory.
  void reset() noexcept;

  int64_t total_count() const { return total_count_; }
  int64_t saturated() const { return saturated_; }
  // Same semantics as HdrHistogram: equivalent-range bounds of the extremes.
  int64_t min_value() const;
  int64_t max_value() const;
  double mean() const;
  double stddev() const;
  int64_t value_at_percentile(double percentile) const;

  // HdrHistogram V2 compressed encoding, base64-wrapped (the form used in
  // interval logs and by `HdrHistogram.decode`).
  std::string encode() const;

 private:
  int32_t bucket_index(int64_t value) const noexcept {
    const int pow2ceiling = 64 - __builtin_clzll(static_cast<uint64_t>(value) | sub_bucket_mask_);
    return pow2ceiling - unit_magnitude_ - (sub_bucket_half_count_magnitude_ + 1);
  }
  int32_t counts_index_for(int64_t value) const noexcept {
    const int32_t b = bucket_index(value);
    const int32_t sub = static_cast<int32_t>(value >> (b + unit_magnitude_));
    return ((b + 1) << sub_bucket_half_count_magnitude_) + (sub - sub_bucket_half_count_);
  }
  int64_t value_from_index(int32_t index) const;
  int64_t lowest_equivalent(int64_t value) const;
  int64_t highest_equivalent(int64_t value) const;
  int64_t equivalent_range_size(int64_t value) const;
  int64_t median_equivalent(int64_t value) const;

  int32_t unit_magnitude_;
  int32_t sub_bucket_half_count_magnitude_;
  int32_t sub_bucket_count_;
  int32_t sub_bucket_half_count_;
  int64_t sub_bucket_mask_;
  int32_t bucket_count_;
  std::vector<int64_t> counts_;
  int64_t total_count_ = 0;
  int64_t saturated_ = 0;
  int64_t min_ = INT64_MAX;
  int64_t max_ = 0;
};

}  // namespace infermeter
