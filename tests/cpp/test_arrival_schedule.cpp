#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "arrival_schedule.h"

using namespace infermeter;

TEST_CASE("constant spacing is exact and does not drift") {
  const auto ms = arrival_offsets(ArrivalProcess::kConstant, 1000.0, 5);
  CHECK(ms == std::vector<int64_t>{0, 1'000'000, 2'000'000, 3'000'000, 4'000'000});

  // 1/3 s does not divide into whole ns: each offset is rounded from its
  // index, so every third lands exactly on a second even after 3000.
  const auto thirds = arrival_offsets(ArrivalProcess::kConstant, 3.0, 3001);
  for (size_t i = 0; i < thirds.size(); i += 3) CHECK(thirds[i] == static_cast<int64_t>(i / 3) * 1'000'000'000);
  for (size_t i = 1; i < thirds.size(); ++i) {
    const int64_t gap = thirds[i] - thirds[i - 1];
    CHECK((gap == 333'333'333 || gap == 333'333'334));
  }
}

TEST_CASE("arrivals before a horizon") {
  const auto offsets = arrival_offsets_until(ArrivalProcess::kConstant, 1000.0, 1'000'000'000);
  CHECK(offsets.size() == 1000);
  CHECK(offsets.back() == 999'000'000);
  CHECK(arrival_offsets_until(ArrivalProcess::kPoisson, 1000.0, 0).empty());

  const auto poisson = arrival_offsets_until(ArrivalProcess::kPoisson, 10'000.0, 10'000'000'000, 3);
  REQUIRE_FALSE(poisson.empty());
  CHECK(poisson.back() < 10'000'000'000);
  // 100000 expected; a Poisson count's standard deviation is sqrt(100000) = 316.
  CHECK(static_cast<double>(poisson.size()) == doctest::Approx(100'000.0).epsilon(0.015));

  CHECK(arrival_offsets_until(ArrivalProcess::kConstant, 1000.0, 1'000'000'000, 0, 7).size() == 7);
}

TEST_CASE("offsets beyond int64's range read as never, so a horizon still ends the schedule") {
  constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  // One arrival every 1e10 s: the second is 1e19 ns away, past int64.
  CHECK(arrival_offsets(ArrivalProcess::kConstant, 1e-10, 3) == std::vector<int64_t>{0, kNever, kNever});
  const auto poisson = arrival_offsets(ArrivalProcess::kPoisson, 1e-12, 3, 5);
  CHECK(std::is_sorted(poisson.begin(), poisson.end()));
  CHECK(poisson.back() == kNever);
  CHECK(arrival_offsets_until(ArrivalProcess::kConstant, 1e-10, 10'000'000'000) == std::vector<int64_t>{0});
}

TEST_CASE("Poisson arrivals have the requested mean rate and exponential gaps") {
  const double rate = 10'000.0;
  const int64_t n = 100'000;
  const auto offsets = arrival_offsets(ArrivalProcess::kPoisson, rate, n, 42);
  CHECK(std::is_sorted(offsets.begin(), offsets.end()));
  CHECK(offsets.front() > 0);
  const double mean_gap = static_cast<double>(offsets.back()) / static_cast<double>(n);
  CHECK(mean_gap == doctest::Approx(1e9 / rate).epsilon(0.015));
  // An exponential distribution's standard deviation equals its mean.
  double squares = 0.0;
  int64_t previous = 0;
  for (int64_t t : offsets) {
    const double d = static_cast<double>(t - previous) - mean_gap;
    squares += d * d;
    previous = t;
  }
  CHECK(std::sqrt(squares / static_cast<double>(n)) == doctest::Approx(mean_gap).epsilon(0.03));
}

TEST_CASE("a seed fixes the schedule") {
  const auto a = arrival_offsets(ArrivalProcess::kPoisson, 500.0, 1000, 9);
  CHECK(a == arrival_offsets(ArrivalProcess::kPoisson, 500.0, 1000, 9));
  CHECK(a != arrival_offsets(ArrivalProcess::kPoisson, 500.0, 1000, 10));

  ArrivalSchedule one_at_a_time(ArrivalProcess::kPoisson, 500.0, 9);
  for (int64_t expected : a) CHECK(one_at_a_time.next() == expected);
}

TEST_CASE("bad rates and names are rejected by name") {
  for (double rate : {0.0, -1.0, std::numeric_limits<double>::infinity(), std::nan("")})
    CHECK_THROWS_WITH_AS(ArrivalSchedule(ArrivalProcess::kPoisson, rate), doctest::Contains("arrival rate"),
                         std::invalid_argument);
  CHECK_THROWS_AS(arrival_offsets(ArrivalProcess::kConstant, 1.0, -1), std::invalid_argument);
  CHECK(parse_arrival_process("poisson") == ArrivalProcess::kPoisson);
  CHECK(parse_arrival_process("constant") == ArrivalProcess::kConstant);
  CHECK_THROWS_WITH_AS(parse_arrival_process("uniform"), doctest::Contains("'uniform'"), std::invalid_argument);
}
