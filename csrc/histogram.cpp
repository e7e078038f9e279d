#include "infermeter/histogram.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "base64.h"

namespace infermeter {

namespace {

constexpr uint32_t kEncodingCookie = 0x1c849303 | 0x10;
constexpr uint32_t kCompressionCookie = 0x1c849304 | 0x10;

void put_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void put_be64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// HdrHistogram's ZigZag LEB128 varint.
void put_zigzag(std::string& out, int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    out.push_back(static_cast<char>((z & 0x7f) | 0x80));
    z >>= 7;
  }
  out.push_back(static_cast<char>(z));
}

}  // namespace

Histogram::Histogram() {
  unit_magnitude_ = static_cast<int32_t>(std::floor(std::log2(static_cast<double>(kLowest))));
  const double largest_single_unit = 2.0 * std::pow(10.0, kSignificantFigures);
  const int32_t sub_bucket_count_magnitude = static_cast<int32_t>(std::ceil(std::log2(largest_single_unit)));
  sub_bucket_half_count_magnitude_ = sub_bucket_count_magnitude > 1 ? sub_bucket_count_magnitude - 1 : 0;
  sub_bucket_count_ = 1 << (sub_bucket_half_count_magnitude_ + 1);
  sub_bucket_half_count_ = sub_bucket_count_ / 2;
  sub_bucket_mask_ = static_cast<int64_t>(sub_bucket_count_ - 1) << unit_magnitude_;
  int64_t smallest_untrackable = static_cast<int64_t>(sub_bucket_count_) << unit_magnitude_;
  bucket_count_ = 1;
  while (smallest_untrackable <= kHighest) {
    smallest_untrackable <<= 1;
    ++bucket_count_;
  }
  counts_.assign(static_cast<size_t>(bucket_count_ + 1) * sub_bucket_half_count_, 0);
}

void Histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_count_ = 0;
  saturated_ = 0;
  min_ = INT64_MAX;
  max_ = 0;
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_count_ += other.total_count_;
  saturated_ += other.saturated_;
  if (other.total_count_ > 0) {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
}

int64_t Histogram::value_from_index(int32_t index) const {
  int32_t b = (index >> sub_bucket_half_count_magnitude_) - 1;
  int32_t sub = (index & (sub_bucket_half_count_ - 1)) + sub_bucket_half_count_;
  if (b < 0) {
    sub -= sub_bucket_half_count_;
    b = 0;
  }
  return static_cast<int64_t>(sub) << (b + unit_magnitude_);
}

int64_t Histogram::lowest_equivalent(int64_t value) const {
  const int32_t b = bucket_index(value);
  const int64_t sub = value >> (b + unit_magnitude_);
  return sub << (b + unit_magnitude_);
}

int64_t Histogram::equivalent_range_size(int64_t value) const {
  int32_t b = bucket_index(value);
  const int64_t sub = value >> (b + unit_magnitude_);
  if (sub >= sub_bucket_count_) ++b;
  return int64_t{1} << (unit_magnitude_ + b);
}

int64_t Histogram::highest_equivalent(int64_t value) const {
  return lowest_equivalent(value) + equivalent_range_size(value) - 1;
}

int64_t Histogram::median_equivalent(int64_t value) const {
  return lowest_equivalent(value) + (equivalent_range_size(value) >> 1);
}

int64_t Histogram::min_value() const {
  if (total_count_ == 0 || counts_[0] > 0) return 0;
  return lowest_equivalent(min_);
}

int64_t Histogram::max_value() const { return max_ == 0 ? 0 : highest_equivalent(max_); }

double Histogram::mean() const {
  if (total_count_ == 0) return 0.0;
  // Integer accumulation, as HdrHistogram does, so the means agree exactly.
  __int128 total = 0;
  for (size_t i = 0; i < counts_.size(); ++i)
    if (counts_[i]) total += static_cast<__int128>(counts_[i]) * median_equivalent(value_from_index(static_cast<int32_t>(i)));
  return static_cast<double>(total) / static_cast<double>(total_count_);
}

double Histogram::stddev() const {
  if (total_count_ == 0) return 0.0;
  const double m = mean();
  double sum = 0.0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (!counts_[i]) continue;
    const double dev = static_cast<double>(median_equivalent(value_from_index(static_cast<int32_t>(i)))) - m;
    sum += dev * dev * static_cast<double>(counts_[i]);
  }
  return std::sqrt(sum / static_cast<double>(total_count_));
}

int64_t Histogram::value_at_percentile(double percentile) const {
  const double requested = std::min(percentile, 100.0);
  int64_t target = static_cast<int64_t>(requested * static_cast<double>(total_count_) / 100 + 0.5);
  target = std::max<int64_t>(target, 1);
  int64_t running = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    running += counts_[i];
    if (running >= target) {
      const int64_t v = value_from_index(static_cast<int32_t>(i));
      return percentile != 0.0 ? highest_equivalent(v) : lowest_equivalent(v);
    }
  }
  return 0;
}

std::string Histogram::encode() const {
  std::string varints;
  const size_t limit = total_count_ ? static_cast<size_t>(counts_index_for(max_)) + 1 : 0;
  for (size_t i = 0; i < limit;) {
    const int64_t count = counts_[i++];
    if (count != 0) {
      put_zigzag(varints, count);
      continue;
    }
    int64_t zeros = 1;
    while (i < limit && counts_[i] == 0) {
      ++zeros;
      ++i;
    }
    put_zigzag(varints, zeros > 1 ? -zeros : 0);
  }

  std::string payload;
  put_be32(payload, kEncodingCookie);
  put_be32(payload, static_cast<uint32_t>(varints.size()));
  put_be32(payload, 0);  // normalizing index offset
  put_be32(payload, kSignificantFigures);
  put_be64(payload, kLowest);
  put_be64(payload, kHighest);
  const double conversion_ratio = 1.0;
  uint64_t ratio_bits;
  static_assert(sizeof(ratio_bits) == sizeof(conversion_ratio));
  std::memcpy(&ratio_bits, &conversion_ratio, sizeof(ratio_bits));
  put_be64(payload, ratio_bits);
  payload += varints;

  uLongf compressed_size = compressBound(payload.size());
  std::string compressed(compressed_size, '\0');
  if (compress(reinterpret_cast<Bytef*>(compressed.data()), &compressed_size,
               reinterpret_cast<const Bytef*>(payload.data()), payload.size()) != Z_OK)
    throw std::runtime_error("zlib failed to compress a histogram");
  compressed.resize(compressed_size);

  std::string wire;
  put_be32(wire, kCompressionCookie);
  put_be32(wire, static_cast<uint32_t>(compressed.size()));
  wire += compressed;
  return base64_encode(wire);
}

}  // namespace infermeter
