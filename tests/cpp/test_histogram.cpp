// Histogram against values worked out by hand from HdrHistogram's layout at
// 3 significant digits: values below 2048 have their own bucket, 2048-4095
// share buckets of 2, 4096-8191 of 4, 8192-16383 of 8.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>

#include "infermeter/histogram.h"
#include "statistics.h"

using infermeter::Histogram;

TEST_CASE("histogram of 1..100 has exact percentiles, mean and stddev") {
  Histogram h;
  for (int v = 1; v <= 100; ++v) h.record(v);
  CHECK(h.total_count() == 100);
  CHECK(h.min_value() == 1);
  CHECK(h.max_value() == 100);
  CHECK(h.value_at_percentile(50) == 50);
  CHECK(h.value_at_percentile(99) == 99);
  CHECK(h.value_at_percentile(100) == 100);
  CHECK(h.value_at_percentile(0) == 1);
  CHECK(h.mean() == doctest::Approx(50.5).epsilon(1e-12));
  // Population standard deviation of 1..N is sqrt((N^2 - 1) / 12).
  CHECK(h.stddev() == doctest::Approx(std::sqrt((100.0 * 100.0 - 1.0) / 12.0)).epsilon(1e-12));
  CHECK(h.saturated() == 0);
}

TEST_CASE("values share buckets of 2^k above 2047") {
  Histogram h;
  h.record(10000);  // bucket [10000, 10007]
  CHECK(h.min_value() == 10000);
  CHECK(h.max_value() == 10007);
  CHECK(h.value_at_percentile(50) == 10007);
  CHECK(h.mean() == doctest::Approx(10004.0));  // the bucket's median equivalent

  Histogram g;
  g.record(2049);  // bucket [2048, 2049]
  CHECK(g.min_value() == 2048);
  CHECK(g.max_value() == 2049);
}

TEST_CASE("negative values count as 0") {
  Histogram h;
  h.record(-5);
  h.record(3);
  CHECK(h.total_count() == 2);
  CHECK(h.min_value() == 0);
  CHECK(h.value_at_percentile(50) == 0);
}

TEST_CASE("values above an hour are clamped and counted as saturated") {
  Histogram h;
  h.record(Histogram::kHighest - 1);
  h.record(Histogram::kHighest + 1);
  h.record(2 * Histogram::kHighest);
  CHECK(h.total_count() == 3);
  CHECK(h.saturated() == 2);
  CHECK(h.max_value() >= Histogram::kHighest);
  // Clamped values are within the last bucket's resolution (0.1%) of an hour.
  CHECK(h.value_at_percentile(100) <= Histogram::kHighest + Histogram::kHighest / 1000);
}

TEST_CASE("merge equals recording everything into one histogram") {
  Histogram a, b, all;
  for (int64_t v = 1; v < 200000; v += 7) {
    (v % 3 ? a : b).record(v);
    all.record(v);
  }
  b.record(Histogram::kHighest * 3);
  all.record(Histogram::kHighest * 3);
  a.merge(b);
  CHECK(a.total_count() == all.total_count());
  CHECK(a.saturated() == 1);
  CHECK(a.min_value() == all.min_value());
  CHECK(a.max_value() == all.max_value());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) CHECK(a.value_at_percentile(p) == all.value_at_percentile(p));
  CHECK(a.mean() == all.mean());
  CHECK(a.encode() == all.encode());
}

TEST_CASE("merging an empty histogram changes nothing") {
  Histogram a, empty;
  a.record(42);
  a.merge(empty);
  CHECK(a.total_count() == 1);
  CHECK(a.min_value() == 42);
  CHECK(a.max_value() == 42);
}

TEST_CASE("histogram_value_at_rank reads the sample of each rank") {
  Histogram h;
  for (int v = 1000; v >= 1; --v) h.record(v);
  for (int64_t rank : {1, 2, 500, 999, 1000}) CHECK(infermeter::histogram_value_at_rank(h, rank) == rank);
  CHECK_THROWS_AS(infermeter::histogram_value_at_rank(h, 0), std::invalid_argument);
  CHECK_THROWS_AS(infermeter::histogram_value_at_rank(h, 1001), std::invalid_argument);
}

TEST_CASE("histogram_percentile_interval brackets the percentile by its ranks") {
  Histogram h;
  for (int v = 1; v <= 1000; ++v) h.record(v);
  const auto ranks = infermeter::percentile_rank_interval(1000, 0.9);
  const auto values = infermeter::histogram_percentile_interval(h, 0.9);
  REQUIRE(ranks);
  REQUIRE(values);
  CHECK(values->lo == ranks->lo);
  CHECK(values->hi == ranks->hi);
  CHECK(values->lo < 900);
  CHECK(values->hi > 900);

  Histogram small;
  for (int v = 1; v <= 100; ++v) small.record(v);
  CHECK_FALSE(infermeter::histogram_percentile_interval(small, 0.99));
  CHECK_FALSE(infermeter::histogram_percentile_interval(Histogram(), 0.5));
}
