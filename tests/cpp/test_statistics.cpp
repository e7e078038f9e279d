// Statistics against closed forms, published tables, brute-force binomial
// sums and Monte Carlo coverage.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "arrival_schedule.h"
#include "statistics.h"

using namespace infermeter;

namespace {

// P(X <= k) for k = 0..n, X ~ Binomial(n, q): every term from lgamma in long
// double, summed from 0. Slow, but independent of the library's recurrence.
std::vector<long double> brute_binomial_cdfs(int64_t n, double q) {
  std::vector<long double> cdf(static_cast<size_t>(n) + 1);
  long double sum = 0.0L;
  for (int64_t j = 0; j <= n; ++j) {
    sum += std::exp(std::lgamma(static_cast<long double>(n) + 1) - std::lgamma(static_cast<long double>(j) + 1) -
                    std::lgamma(static_cast<long double>(n - j) + 1) + j * std::log(static_cast<long double>(q)) +
                    (n - j) * std::log1p(-static_cast<long double>(q)));
    cdf[static_cast<size_t>(j)] = sum;
  }
  return cdf;
}

long double brute_binomial_cdf(int64_t k, int64_t n, double q) {
  return brute_binomial_cdfs(n, q)[static_cast<size_t>(std::min(k, n))];
}

}  // namespace

TEST_CASE("t quantiles match the published table") {
  CHECK(student_t_quantile(0.975, 1) == doctest::Approx(12.706).epsilon(5e-5));
  CHECK(student_t_quantile(0.975, 9) == doctest::Approx(2.262).epsilon(5e-4));
  CHECK(student_t_quantile(0.975, 29) == doctest::Approx(2.045).epsilon(5e-4));
  CHECK(student_t_quantile(0.995, 19) == doctest::Approx(2.861).epsilon(5e-4));
  // Large dof tends to the normal quantile.
  CHECK(student_t_quantile(0.975, 1e7) == doctest::Approx(1.959964).epsilon(1e-6));
}

TEST_CASE("t quantiles match the closed forms for 1 and 2 dof to 1e-9") {
  const double pi = std::acos(-1.0);
  for (double p : {0.51, 0.6, 0.75, 0.9, 0.95, 0.975, 0.99, 0.999, 0.9999}) {
    CAPTURE(p);
    CHECK(student_t_quantile(p, 1) == doctest::Approx(std::tan(pi * (p - 0.5))).epsilon(1e-9));
    CHECK(student_t_quantile(p, 2) == doctest::Approx((2 * p - 1) / std::sqrt(2 * p * (1 - p))).epsilon(1e-9));
    CHECK(student_t_quantile(1 - p, 5) == doctest::Approx(-student_t_quantile(p, 5)).epsilon(1e-12));
  }
  CHECK(student_t_quantile(0.5, 3) == 0.0);
  CHECK_THROWS_AS(student_t_quantile(1.0, 3), std::invalid_argument);
  CHECK_THROWS_AS(student_t_quantile(0.9, 0.5), std::invalid_argument);
}

TEST_CASE("binomial_cdf agrees with a brute-force sum") {
  for (int64_t n : {1, 7, 50, 299, 2000}) {
    for (double q : {0.01, 0.3, 0.5, 0.9, 0.99}) {
      for (int64_t k : {int64_t{0}, n / 10, n / 2, n - n / 10, n - 1}) {
        CAPTURE(n);
        CAPTURE(q);
        CAPTURE(k);
        CHECK(binomial_cdf(k, n, q) == doctest::Approx(static_cast<double>(brute_binomial_cdf(k, n, q))).epsilon(1e-9));
      }
    }
  }
  CHECK(binomial_cdf(-1, 10, 0.5) == 0.0);
  CHECK(binomial_cdf(10, 10, 0.5) == 1.0);
}

TEST_CASE("batch means: mean of the latest whole batches, zero width for constant counts") {
  std::vector<int64_t> counts(45, 100);
  for (int i = 0; i < 5; ++i) counts[i] = 1'000'000;  // the 5 windows left over are the earliest
  const RateInterval r = batch_means_rate(counts, 0.1, 20);
  CHECK(r.batches == 20);
  CHECK(r.windows_per_batch == 2);
  CHECK(r.windows_used == 40);
  CHECK(r.rate_per_s == doctest::Approx(1000.0));
  CHECK(r.half_width == 0.0);
}

TEST_CASE("batch means: the half width is t * s / sqrt(k) over the batch rates") {
  // Two batches of one window each: rates 10/s and 30/s, s = sqrt(200).
  const RateInterval r = batch_means_rate({10, 30}, 1.0, 2);
  CHECK(r.rate_per_s == doctest::Approx(20.0));
  CHECK(r.half_width == doctest::Approx(12.706204736 * std::sqrt(200.0) / std::sqrt(2.0)).epsilon(1e-8));
}

TEST_CASE("batch means covers the true rate about 95% of the time on iid Poisson windows") {
  const double rate = 1000.0, window_s = 0.1;
  const int trials = 2000;
  int covered = 0;
  for (int seed = 0; seed < trials; ++seed) {
    std::mt19937_64 engine(static_cast<uint64_t>(seed));
    std::poisson_distribution<int64_t> poisson(rate * window_s);
    std::vector<int64_t> counts(400);
    for (auto& c : counts) c = poisson(engine);
    const RateInterval r = batch_means_rate(counts, window_s, 20);
    covered += std::fabs(r.rate_per_s - rate) <= r.half_width;
  }
  // The binomial standard error of the coverage over 2000 trials is 0.5%.
  const double coverage = static_cast<double>(covered) / trials;
  CHECK(coverage > 0.935);
  CHECK(coverage < 0.965);
}

TEST_CASE("batch means rejects bad input by name") {
  CHECK_THROWS_WITH_AS(batch_means_rate({1, 2, 3}, 0.1, 1), doctest::Contains("at least 2 batches"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(batch_means_rate({1, 2, 3}, 0.1, 4), doctest::Contains("3 windows cannot form 4 batches"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(batch_means_rate({1, 2}, 0.0, 2), doctest::Contains("window_s"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(batch_means_rate({1, -2}, 0.1, 2), doctest::Contains(">= 0"), std::invalid_argument);
}

TEST_CASE("percentile rank interval is the equal-tailed exact binomial interval") {
  for (int64_t n : {20, 50, 100, 299, 500, 1000, 5000}) {
    for (double q : {0.5, 0.9, 0.95, 0.99}) {
      CAPTURE(n);
      CAPTURE(q);
      // Brute force over every rank: largest lo with F(lo - 1) <= 2.5%,
      // smallest hi with F(hi - 1) >= 97.5%.
      const auto cdf = brute_binomial_cdfs(n, q);
      int64_t lo = 0, hi = 0;
      for (int64_t r = 1; r <= n; ++r) {
        const long double f = cdf[static_cast<size_t>(r - 1)];
        if (f <= 0.025L) lo = r;
        if (f >= 0.975L && hi == 0) hi = r;
      }
      const auto interval = percentile_rank_interval(n, q);
      if (lo == 0 || hi == 0) {
        CHECK_FALSE(interval);
        continue;
      }
      REQUIRE(interval);
      CHECK(interval->lo == lo);
      CHECK(interval->hi == hi);
      CHECK(interval->coverage >= 0.95);
      CHECK(interval->coverage ==
            doctest::Approx(static_cast<double>(cdf[static_cast<size_t>(hi - 1)] - cdf[static_cast<size_t>(lo - 1)])));
    }
  }
}

TEST_CASE("percentile rank interval covers the true quantile of sampled data") {
  // Uniform(0, 1) samples: the true q-quantile is q itself.
  const int64_t n = 200;
  const double q = 0.9;
  const auto interval = percentile_rank_interval(n, q);
  REQUIRE(interval);
  std::mt19937_64 engine(7);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const int trials = 4000;
  int covered = 0;
  std::vector<double> samples(n);
  for (int t = 0; t < trials; ++t) {
    for (auto& s : samples) s = uniform(engine);
    std::sort(samples.begin(), samples.end());
    covered += samples[interval->lo - 1] <= q && q <= samples[interval->hi - 1];
  }
  // Standard error of the observed coverage: sqrt(0.05 * 0.95 / 4000) = 0.35%.
  CHECK(static_cast<double>(covered) / trials == doctest::Approx(interval->coverage).epsilon(0.012));
}

TEST_CASE("percentile rank interval stays fast and sensible for large n") {
  const auto interval = percentile_rank_interval(100'000'000, 0.99);
  REQUIRE(interval);
  // Normal approximation: 1.96 * sqrt(n q (1 - q)) = 1950 ranks either side of n q.
  CHECK(interval->lo == doctest::Approx(99'000'000 - 1950).epsilon(2e-6));
  CHECK(interval->hi == doctest::Approx(99'000'000 + 1950).epsilon(2e-6));
}

TEST_CASE("minimum samples for a percentile follows LoadGen's early-stopping floor") {
  CHECK(min_samples_for_percentile(0.99, 0.95) == 299);
  CHECK(min_samples_for_percentile(0.99, 0.99) == 459);
  CHECK(min_samples_for_percentile(0.9, 0.95) == 29);
  CHECK(min_samples_for_percentile(0.5, 0.95) == 5);
  for (double q : {0.5, 0.9, 0.95, 0.99, 0.999}) {
    CAPTURE(q);
    const int64_t n = min_samples_for_percentile(q);
    // P(the largest of n >= the q-quantile) = P(at most n - 1 fall below it).
    CHECK(brute_binomial_cdf(n - 1, n, q) >= 0.95L);
    CHECK(brute_binomial_cdf(n - 2, n - 1, q) < 0.95L);
  }
  CHECK_THROWS_AS(min_samples_for_percentile(1.0), std::invalid_argument);
}

TEST_CASE("Poisson arrivals from the schedule give M/D/1's mean wait") {
  // Wq = rho / (2 mu (1 - rho)): Poisson arrivals at `rate`, one server taking exactly `service`.
  const auto md1_mean_queue_wait = [](double rate, double service) {
    const double rho = rate * service;
    return rho * service / (2.0 * (1.0 - rho));
  };
  // rho = 0.8 with a 1 ms service: 0.8 * 1 / (2 * 0.2) = 2 ms.
  CHECK(md1_mean_queue_wait(800.0, 1e-3) == doctest::Approx(2e-3));

  // Lindley's recursion over Poisson arrivals from the schedule: W' = max(0, W + S - gap).
  const double service_ns = 1e6, rate = 500.0;  // rho = 0.5
  const auto arrivals = arrival_offsets(ArrivalProcess::kPoisson, rate, 400'000, 11);
  double wait = 0.0, total = 0.0;
  for (size_t i = 1; i < arrivals.size(); ++i) {
    wait = std::max(0.0, wait + service_ns - static_cast<double>(arrivals[i] - arrivals[i - 1]));
    total += wait;
  }
  const double simulated = total / static_cast<double>(arrivals.size() - 1);
  CHECK(simulated == doctest::Approx(md1_mean_queue_wait(rate / 1e9, service_ns)).epsilon(0.03));
}
