// Confidence intervals that statistical stopping rules need: the rate of
// completions (batch means) and a percentile (order statistics). No torch here, so the
// C++ unit tests build without it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace infermeter {

class Histogram;

// Quantile of Student's t distribution with `dof` degrees of freedom:
// the t with P(T <= t) = p. Exact to about 1e-10 (inverts the regularized
// incomplete beta function), for dof >= 1 and 0 < p < 1.
double student_t_quantile(double p, double dof);

// P(X <= k) for X ~ Binomial(n, q), exact up to rounding; tail masses below
// about 1e-25 read as 0 (or 1). Costs O(sqrt(n q (1 - q))).
double binomial_cdf(int64_t k, int64_t n, double q);

// A completion rate with its confidence interval, from batch means.
struct RateInterval {
  double rate_per_s;   // completions per second over the windows used
  double half_width;   // of the interval, in completions per second
  int batches;         // batch count (the t distribution has batches - 1 dof)
  int64_t windows_per_batch;
  int64_t windows_used;  // batches * windows_per_batch: the latest windows
};

// Mean completion rate of equal windows of `window_s` seconds holding
// `counts` completions each, and its two-sided `confidence` interval: the
// windows are grouped into `batches` consecutive batches, long enough that
// their means are nearly independent even when adjacent windows are not,
// and the spread of the batch means gives the interval through Student's t.
// When the windows do not divide evenly, the earliest are left out (they are
// the ones nearest warm-up). Needs batches >= 2 and counts.size() >= batches.
RateInterval batch_means_rate(const std::vector<int64_t>& counts, double window_s, int batches = 20,
                              double confidence = 0.95);

// Throughput's interval, the one way both the statistical stop and the result
// compute it: batch means (at most kRateBatches) over the whole windows among
// `ended_windows` (completions per window from the measurement start, each
// one over). The first is left out: measured requests complete in it while
// warm-up requests still in flight finish too. nullopt with fewer than
// kMinRateWindows whole windows, or none of them holding a completion.
inline constexpr size_t kMinRateWindows = 5;
inline constexpr int kRateBatches = 20;
std::optional<RateInterval> whole_window_rate(const std::vector<int64_t>& ended_windows, double window_s,
                                              double confidence = 0.95);

// 1-based ranks of the sorted samples X_(lo) <= X_(hi) that bound the
// population q-quantile with probability >= confidence, distribution-free
// (exact binomial, equal tails of at most (1 - confidence) / 2 each).
struct RankInterval {
  int64_t lo;
  int64_t hi;
  double coverage;  // P(X_(lo) <= true quantile <= X_(hi)), >= confidence
};

// nullopt when n is too small for one of the two ranks to exist.
std::optional<RankInterval> percentile_rank_interval(int64_t n, double q, double confidence = 0.95);

// Smallest n with q^n <= 1 - confidence: even the largest of n samples bounds
// the q-quantile from above with this confidence only from this n on.
// This is MLPerf LoadGen's early-stopping minimum with no over-latency
// queries (299 for p99 at 95%, 459 at 99%).
int64_t min_samples_for_percentile(double q, double confidence = 0.95);

// The value of the sample of 1-based `rank` in `h` (HdrHistogram semantics:
// the highest value equivalent to the bucket holding it).
int64_t histogram_value_at_rank(const Histogram& h, int64_t rank);

// A percentile's confidence interval read off a histogram, in its units.
struct ValueInterval {
  int64_t lo;
  int64_t hi;
};
std::optional<ValueInterval> histogram_percentile_interval(const Histogram& h, double q, double confidence = 0.95);

}  // namespace infermeter
