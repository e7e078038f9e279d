#include "statistics.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "infermeter/histogram.h"

namespace infermeter {

namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

void require_probability(double p, const char* name) {
  require(p > 0.0 && p < 1.0, std::string(name) + " must be strictly between 0 and 1, got " + std::to_string(p));
}

// Continued fraction of the regularized incomplete beta function (modified
// Lentz), converging for x < (a + 1) / (a + b + 2).
double beta_continued_fraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEpsilon = 1e-16;
  constexpr int kMaxIterations = 100000;
  const double qab = a + b, qap = a + 1.0, qam = a - 1.0;
  double c = 1.0;
  double d = 1.0 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= kMaxIterations; ++m) {
    const int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < kEpsilon) return h;
  }
  throw std::runtime_error("incomplete beta function did not converge for a=" + std::to_string(a) +
                           " b=" + std::to_string(b));
}

// I_x(a, b), the regularized incomplete beta function.
double incomplete_beta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1.0) / (a + b + 2.0)) return front * beta_continued_fraction(a, b, x) / a;
  return 1.0 - front * beta_continued_fraction(b, a, 1.0 - x) / b;
}

// The binomial CDF over every value with non-negligible probability, built
// outward from the mode with the pmf's ratio recurrence (no underflow, O(spread)).
struct BinomialTable {
  int64_t first;            // smallest value in the table
  std::vector<double> cdf;  // cdf[i] = P(X <= first + i)

  double at(int64_t k) const {
    if (k < first) return 0.0;
    const int64_t i = k - first;
    return i >= static_cast<int64_t>(cdf.size()) ? 1.0 : cdf[static_cast<size_t>(i)];
  }
};

BinomialTable binomial_table(int64_t n, double q) {
  // Terms this far below the mode's carry a total tail mass far under 1e-20.
  constexpr double kNegligible = 1e-25;
  const int64_t mode = std::clamp<int64_t>(static_cast<int64_t>(std::floor((n + 1) * q)), 0, n);
  const double odds = q / (1.0 - q);
  std::vector<double> below;  // pmf(mode - 1), pmf(mode - 2), ...
  for (int64_t j = mode; j > 0;) {
    const double prev = (below.empty() ? 1.0 : below.back()) * static_cast<double>(j) /
                        (static_cast<double>(n - j + 1) * odds);
    if (prev < kNegligible) break;
    below.push_back(prev);
    --j;
  }
  std::vector<double> pmf(below.rbegin(), below.rend());
  pmf.push_back(1.0);  // the mode, relative
  for (int64_t j = mode; j < n;) {
    const double next = pmf.back() * static_cast<double>(n - j) * odds / static_cast<double>(j + 1);
    if (next < kNegligible) break;
    pmf.push_back(next);
    ++j;
  }
  long double total = 0.0L;
  for (double p : pmf) total += p;
  BinomialTable table{mode - static_cast<int64_t>(below.size()), {}};
  table.cdf.reserve(pmf.size());
  long double running = 0.0L;
  for (double p : pmf) {
    running += p;
    table.cdf.push_back(static_cast<double>(running / total));
  }
  return table;
}

// Smallest rank r in 1..n whose F(r - 1) satisfies `reached` (monotone in
// r), or n + 1 when none does.
template <typename Predicate>
int64_t first_rank(const BinomialTable& table, int64_t n, Predicate reached) {
  int64_t lo = 1, hi = n + 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (reached(table.at(mid - 1))) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

}  // namespace

double student_t_quantile(double p, double dof) {
  require_probability(p, "student_t_quantile: p");
  require(dof >= 1.0, "student_t_quantile: dof must be >= 1, got " + std::to_string(dof));
  if (p == 0.5) return 0.0;
  if (p < 0.5) return -student_t_quantile(1.0 - p, dof);
  // P(T > t) = I_x(dof/2, 1/2) / 2 with x = dof / (dof + t^2); I_x rises with
  // x, so bisect x for I_x = 2 (1 - p) down to adjacent doubles.
  const double target = 2.0 * (1.0 - p);
  double lo = 0.0, hi = 1.0;
  for (int i = 0; i < 2000; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    (incomplete_beta(0.5 * dof, 0.5, mid) < target ? lo : hi) = mid;
  }
  const double x = 0.5 * (lo + hi);
  return std::sqrt(dof * (1.0 - x) / x);
}

double binomial_cdf(int64_t k, int64_t n, double q) {
  require(n >= 0, "binomial_cdf: n must be >= 0, got " + std::to_string(n));
  require(q >= 0.0 && q <= 1.0, "binomial_cdf: q must be in [0, 1], got " + std::to_string(q));
  if (k < 0) return 0.0;
  if (k >= n) return 1.0;
  if (q == 0.0) return 1.0;
  if (q == 1.0) return 0.0;
  return binomial_table(n, q).at(k);
}

RateInterval batch_means_rate(const std::vector<int64_t>& counts, double window_s, int batches, double confidence) {
  require(window_s > 0.0, "batch_means_rate: window_s must be > 0, got " + std::to_string(window_s));
  require(batches >= 2, "batch_means_rate: needs at least 2 batches, got " + std::to_string(batches));
  require(static_cast<int64_t>(counts.size()) >= batches,
          "batch_means_rate: " + std::to_string(counts.size()) + " windows cannot form " + std::to_string(batches) +
              " batches");
  require_probability(confidence, "batch_means_rate: confidence");
  for (int64_t c : counts) require(c >= 0, "batch_means_rate: window counts must be >= 0, got " + std::to_string(c));

  const int64_t per_batch = static_cast<int64_t>(counts.size()) / batches;
  const size_t skip = counts.size() - static_cast<size_t>(per_batch * batches);
  std::vector<double> rates(static_cast<size_t>(batches));
  for (int b = 0; b < batches; ++b) {
    int64_t sum = 0;
    for (int64_t w = 0; w < per_batch; ++w) sum += counts[skip + static_cast<size_t>(b * per_batch + w)];
    rates[static_cast<size_t>(b)] = static_cast<double>(sum) / (static_cast<double>(per_batch) * window_s);
  }
  double mean = 0.0;
  for (double r : rates) mean += r;
  mean /= batches;
  double squares = 0.0;
  for (double r : rates) squares += (r - mean) * (r - mean);
  const double stddev = std::sqrt(squares / (batches - 1));
  const double t = student_t_quantile(0.5 + 0.5 * confidence, batches - 1);
  return {mean, t * stddev / std::sqrt(static_cast<double>(batches)), batches, per_batch, per_batch * batches};
}

std::optional<RateInterval> whole_window_rate(const std::vector<int64_t>& ended_windows, double window_s,
                                              double confidence) {
  if (ended_windows.size() < kMinRateWindows + 1) return std::nullopt;
  const std::vector<int64_t> whole(ended_windows.begin() + 1, ended_windows.end());
  const int batches = static_cast<int>(std::min<size_t>(kRateBatches, whole.size()));
  const RateInterval rate = batch_means_rate(whole, window_s, batches, confidence);
  if (!(rate.rate_per_s > 0)) return std::nullopt;
  return rate;
}

std::optional<RankInterval> percentile_rank_interval(int64_t n, double q, double confidence) {
  require(n >= 1, "percentile_rank_interval: needs at least 1 sample, got " + std::to_string(n));
  require_probability(q, "percentile_rank_interval: q");
  require_probability(confidence, "percentile_rank_interval: confidence");
  // X_(r) <= true quantile unless fewer than r samples fall below it:
  // P(X_(r) > quantile) = F(r - 1) for F the CDF of Binomial(n, q).
  const double tail = 0.5 * (1.0 - confidence);
  const BinomialTable table = binomial_table(n, q);
  if (table.at(0) > tail || table.at(n - 1) < 1.0 - tail) return std::nullopt;
  const int64_t lo = first_rank(table, n, [&](double f) { return f > tail; }) - 1;
  const int64_t hi = first_rank(table, n, [&](double f) { return f >= 1.0 - tail; });
  return RankInterval{lo, hi, table.at(hi - 1) - table.at(lo - 1)};
}

int64_t min_samples_for_percentile(double q, double confidence) {
  require_probability(q, "min_samples_for_percentile: q");
  require_probability(confidence, "min_samples_for_percentile: confidence");
  // The largest of n samples is below the q-quantile with probability q^n.
  auto enough = [&](int64_t n) { return std::pow(q, static_cast<double>(n)) <= 1.0 - confidence; };
  int64_t n = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(std::log1p(-confidence) / std::log(q))));
  while (!enough(n)) ++n;
  while (n > 1 && enough(n - 1)) --n;
  return n;
}

int64_t histogram_value_at_rank(const Histogram& h, int64_t rank) {
  require(rank >= 1 && rank <= h.total_count(), "histogram_value_at_rank: rank " + std::to_string(rank) +
                                                    " is outside 1.." + std::to_string(h.total_count()));
  // value_at_percentile picks the sample of rank round(p * count / 100).
  return h.value_at_percentile(100.0 * static_cast<double>(rank) / static_cast<double>(h.total_count()));
}

std::optional<ValueInterval> histogram_percentile_interval(const Histogram& h, double q, double confidence) {
  if (h.total_count() == 0) return std::nullopt;
  const auto ranks = percentile_rank_interval(h.total_count(), q, confidence);
  if (!ranks) return std::nullopt;
  return ValueInterval{histogram_value_at_rank(h, ranks->lo), histogram_value_at_rank(h, ranks->hi)};
}

}  // namespace infermeter
