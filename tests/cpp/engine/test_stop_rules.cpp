// The stop rules (csrc/stop_rules.{h,cpp}) and the registry that picks a
// run's rule from its options (stop_registry.cpp). Expected figures are
// worked out by hand here, from the documented definitions, not read back
// from the engine.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"
#include "infermeter/options.h"
#include "infermeter/stop_rule.h"
#include "stop_rules.h"

using namespace infermeter;
using namespace infermeter::testing;
using nlohmann::json;

namespace {

// Student's t quantile t(0.975, 19): 20 batch means give 19 degrees of freedom.
constexpr double kT975_19 = 2.093024054408263;

// The relative half width of batch means over 20 windows of 0.1 s that
// alternate between `a` and `b` completions: the rates alternate a/0.1 and
// b/0.1, so each deviates from their mean by |a - b| / 0.2 per second.
double alternating_rel(double a, double b) {
  const double mean = (a + b) / 2 / 0.1;
  const double dev = std::fabs(a - b) / 2 / 0.1;
  const double stddev = std::sqrt(20 * dev * dev / 19);
  return kT975_19 * stddev / std::sqrt(20.0) / mean;
}

// 21 windows of 0.1 s: the first (left out as warm-up) then 20 whole windows
// alternating a, b, a, b, ...
std::vector<int64_t> alternating_windows(int64_t a, int64_t b) {
  std::vector<int64_t> w{a};
  for (int i = 0; i < 20; ++i) w.push_back(i % 2 == 0 ? a : b);
  return w;
}

int64_t sum(const std::vector<int64_t>& v) {
  int64_t s = 0;
  for (auto x : v) s += x;
  return s;
}

// `n` latencies spread evenly over [1.000, 1.010) ms: a tight histogram.
Histogram tight_histogram(int64_t n) {
  Histogram h;
  for (int64_t i = 0; i < n; ++i) h.record(1'000'000 + (i % 100) * 100);
  return h;
}

Progress progress_of(double elapsed_s, const std::vector<int64_t>& windows, const Histogram& h) {
  Progress p;
  p.elapsed_ns = static_cast<int64_t>(elapsed_s * 1e9);
  p.windows = windows;
  p.window_s = 0.1;
  p.completed = h.total_count();
  p.target = &h;
  return p;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

// ---------------------------------------------------------------- DurationRule

TEST_CASE("a duration rule stops at its duration and names it as the deadline") {
  DurationRule rule(0.5);
  Progress p;
  p.elapsed_ns = 499'999'999;
  CHECK_FALSE(rule.check(p).has_value());
  p.elapsed_ns = 500'000'000;
  CHECK(rule.check(p).has_value());
  CHECK(rule.deadline_ns() == 500'000'000);
}

TEST_CASE("a duration rule: reason, describe, unlimited claims, no progress wanted") {
  DurationRule rule(2.25);
  Progress p;
  p.elapsed_ns = 3'000'000'000;
  REQUIRE(rule.check(p).has_value());
  CHECK(*rule.check(p) == "duration reached");
  CHECK(rule.describe() == json{{"rule", "duration"}, {"duration_s", 2.25}});
  CHECK(rule.deadline_ns() == 2'250'000'000);
  CHECK_FALSE(rule.wants_progress());
  // A duration never refuses a request ticket.
  int granted = 0;
  for (int i = 0; i < 10'000; ++i) granted += rule.claim_request() ? 1 : 0;
  CHECK(granted == 10'000);
  CHECK(rule.exhausted_reason() == "request budget spent");
}

// ------------------------------------------------------------ RequestCountRule

TEST_CASE("a request count rule hands out exactly N tickets and never stops on a check") {
  RequestCountRule rule(3);
  CHECK(rule.claim_request());
  CHECK(rule.claim_request());
  CHECK(rule.claim_request());
  CHECK_FALSE(rule.claim_request());
  CHECK_FALSE(rule.claim_request());
  Progress p;
  p.elapsed_ns = 1'000'000'000'000;
  p.completed = 3;
  CHECK_FALSE(rule.check(p).has_value());
  CHECK_FALSE(rule.deadline_ns().has_value());
  CHECK_FALSE(rule.wants_progress());
  CHECK(rule.describe() == json{{"rule", "requests"}, {"requests", 3}});
}

TEST_CASE("a request count rule hands out exactly N tickets across concurrent claimers") {
  constexpr int64_t kBudget = 10'000;
  constexpr int kThreads = 8;
  RequestCountRule rule(kBudget);
  std::atomic<int64_t> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      int64_t mine = 0;
      for (int i = 0; i < 5'000; ++i) mine += rule.claim_request() ? 1 : 0;  // 40000 tries in all
      granted += mine;
    });
  for (auto& t : threads) t.join();
  CHECK(granted.load() == kBudget);
  CHECK_FALSE(rule.claim_request());
}

// ------------------------------------------------------------------- AnyOfRule

TEST_CASE("any-of: every rule sees every ticket; the claim fails once any rule refuses") {
  std::vector<std::unique_ptr<StopRule>> rules;
  rules.push_back(std::make_unique<RequestCountRule>(5));
  rules.push_back(std::make_unique<RequestCountRule>(2));
  AnyOfRule any(std::move(rules));
  CHECK(any.claim_request());
  CHECK(any.claim_request());
  CHECK_FALSE(any.claim_request());  // the budget of 2 is spent
  CHECK_FALSE(any.claim_request());
  CHECK(any.describe() == json{{"rule", "any-of"},
                               {"rules", json::array({json{{"rule", "requests"}, {"requests", 5}},
                                                      json{{"rule", "requests"}, {"requests", 2}}})}});
  CHECK_FALSE(any.deadline_ns().has_value());  // no member has a deadline
}

TEST_CASE("any-of: the earliest deadline, the first reason, and progress wanted when any member wants it") {
  std::vector<std::unique_ptr<StopRule>> rules;
  rules.push_back(std::make_unique<DurationRule>(2.0));
  rules.push_back(std::make_unique<RequestCountRule>(10));
  rules.push_back(std::make_unique<DurationRule>(0.75));
  AnyOfRule any(std::move(rules));
  REQUIRE(any.deadline_ns().has_value());
  CHECK(*any.deadline_ns() == 750'000'000);
  CHECK_FALSE(any.wants_progress());

  Progress p;
  p.elapsed_ns = 749'999'999;
  CHECK_FALSE(any.check(p).has_value());
  p.elapsed_ns = 750'000'000;
  REQUIRE(any.check(p).has_value());
  CHECK(*any.check(p) == "duration reached");

  int granted = 0;
  for (int i = 0; i < 10; ++i) granted += any.claim_request() ? 1 : 0;
  CHECK(granted == 10);
  CHECK_FALSE(any.claim_request());

  const json d = any.describe();
  CHECK(d["rule"] == "any-of");
  REQUIRE(d["rules"].size() == 3);
  CHECK(d["rules"][0] == json{{"rule", "duration"}, {"duration_s", 2.0}});
  CHECK(d["rules"][1] == json{{"rule", "requests"}, {"requests", 10}});
  CHECK(d["rules"][2] == json{{"rule", "duration"}, {"duration_s", 0.75}});

  std::vector<std::unique_ptr<StopRule>> with_ci;
  with_ci.push_back(std::make_unique<RequestCountRule>(10));
  with_ci.push_back(std::make_unique<ConfidenceRule>(ConfidenceTarget{0.05, 99, 1, 30}));
  AnyOfRule any_ci(std::move(with_ci));
  CHECK(any_ci.wants_progress());
  REQUIRE(any_ci.deadline_ns().has_value());
  CHECK(*any_ci.deadline_ns() == 30'000'000'000);
}

TEST_CASE("any-of: a ConfidenceRule member's verdict is the any-of's") {
  std::vector<std::unique_ptr<StopRule>> rules;
  rules.push_back(std::make_unique<ConfidenceRule>(ConfidenceTarget{0.05, 99, 1, 10}));
  rules.push_back(std::make_unique<DurationRule>(10));
  AnyOfRule any(std::move(rules));
  const Histogram h = tight_histogram(20'000);
  const auto steady = alternating_windows(1000, 1000);
  const auto reason = any.check(progress_of(2.1, steady, h));
  REQUIRE(reason.has_value());
  CHECK(starts_with(*reason, "converged: "));
}

// -------------------------------------------------------------- ConfidenceRule

TEST_CASE("ci: never stops before the minimum duration, even with converged data") {
  ConfidenceRule rule(ConfidenceTarget{0.05, 99, 1.0, 10.0});
  const Histogram h = tight_histogram(20'000);
  const auto steady = alternating_windows(1000, 1000);
  Progress p = progress_of(0.999999999, steady, h);
  CHECK_FALSE(rule.check(p).has_value());
  // The rule did not even estimate: nothing is stated at the stop yet.
  const json d = rule.describe();
  CHECK(d["converged"] == false);
  CHECK(d["at_stop"]["requests"] == 0);
  CHECK(d["at_stop"]["throughput_half_width_rel"].is_null());
  CHECK(d["at_stop"]["percentile_half_width_rel"].is_null());
  CHECK(rule.wants_progress());
  REQUIRE(rule.deadline_ns().has_value());
  CHECK(*rule.deadline_ns() == 10'000'000'000);
}

TEST_CASE("ci: steady windows and a tight histogram converge, with the throughput width worked out by hand") {
  ConfidenceRule rule(ConfidenceTarget{0.05, 99, 1.0, 10.0});
  const auto windows = alternating_windows(990, 1010);
  const Histogram h = tight_histogram(sum(windows));
  const double expected_rel = alternating_rel(990, 1010);  // 0.0048...
  REQUIRE(expected_rel == doctest::Approx(0.0048017).epsilon(1e-4));

  const auto reason = rule.check(progress_of(2.1, windows, h));
  REQUIRE(reason.has_value());
  // "%.2g%%" of 0.48 %, then the percentile's width, at 95 %.
  CHECK(starts_with(*reason, "converged: throughput +-0.48%, p99 +-"));
  CHECK(ends_with(*reason, "% (95%)"));

  const json d = rule.describe();
  CHECK(d["rule"] == "ci");
  CHECK(d["converged"] == true);
  CHECK(d["half_width_rel"] == 0.05);
  CHECK(d["percentile"] == 99.0);
  CHECK(d["confidence"] == 0.95);
  CHECK(d["min_duration_s"] == 1.0);
  CHECK(d["max_duration_s"] == 10.0);
  CHECK(d["at_stop"]["requests"] == sum(windows));
  CHECK(d["at_stop"]["throughput_half_width_rel"].get<double>() == doctest::Approx(expected_rel).epsilon(1e-9));
  // Every latency lies in [1.000, 1.010) ms, so the interval around p99 is at
  // most that 1 % wide plus the histogram's 0.1 % resolution.
  const double prel = d["at_stop"]["percentile_half_width_rel"].get<double>();
  CHECK(prel >= 0.0);
  CHECK(prel <= 0.011);
  CHECK(d["requests_needed"].is_null());
}

TEST_CASE("ci: never judged converged below the request count the percentile's two-sided interval needs") {
  // The top order statistic bounds the q-quantile from above with probability
  // 1 - q^n, so a two-sided 95 % interval (2.5 % a tail) exists from the first
  // n with q^n <= 0.025: 368 for p99 and 3688 for p99.9.
  for (const double percentile : {99.0, 99.9}) {
    const double q = percentile / 100;
    int64_t needed = 1;
    while (std::pow(q, static_cast<double>(needed)) > 0.025) ++needed;
    CAPTURE(percentile);
    CAPTURE(needed);
    CHECK(needed == (percentile == 99.0 ? 368 : 3688));
    const auto steady = alternating_windows(1000, 1000);  // throughput known exactly

    ConfidenceRule below(ConfidenceTarget{0.05, percentile, 1.0, 10.0});
    Histogram few;
    for (int64_t i = 0; i < needed - 1; ++i) few.record(1'000'000);  // every latency equal
    CHECK_FALSE(below.check(progress_of(2.1, steady, few)).has_value());
    CHECK(below.describe()["converged"] == false);
    CHECK(below.describe()["at_stop"]["percentile_half_width_rel"].is_null());
    CHECK(below.describe()["at_stop"]["requests"] == needed - 1);
    // Without a percentile width, no request estimate either.
    CHECK(below.describe()["requests_needed"].is_null());

    ConfidenceRule enough(ConfidenceTarget{0.05, percentile, 1.0, 10.0});
    Histogram more = few;
    more.record(1'000'000);
    const auto reason = enough.check(progress_of(2.1, steady, more));
    REQUIRE(reason.has_value());
    CHECK(starts_with(*reason, "converged: throughput +-0%, p"));
    CHECK(enough.describe()["converged"] == true);
    CHECK(enough.describe()["at_stop"]["percentile_half_width_rel"] == 0.0);
  }
}

TEST_CASE("ci: too few windows leaves throughput unknown, so it cannot converge") {
  ConfidenceRule rule(ConfidenceTarget{0.05, 99, 1.0, 10.0});
  const Histogram h = tight_histogram(5'000);
  // 5 ended windows: the first is left out, leaving 4 whole ones (5 needed).
  const std::vector<int64_t> windows{1000, 1000, 1000, 1000, 1000};
  CHECK_FALSE(rule.check(progress_of(1.5, windows, h)).has_value());
  CHECK(rule.describe()["at_stop"]["throughput_half_width_rel"].is_null());
  CHECK(rule.describe()["at_stop"]["percentile_half_width_rel"].is_number());
  // At the maximum, it says it never knew the throughput.
  const auto reason = rule.check(progress_of(10.0, windows, h));
  REQUIRE(reason.has_value());
  CHECK(starts_with(*reason, "maximum duration reached before converging: throughput +-?, p99 +-"));
}

TEST_CASE("ci: noisy windows do not converge; at the maximum it stops, saying so and estimating the need") {
  ConfidenceRule rule(ConfidenceTarget{0.05, 99, 1.0, 10.0});
  const auto windows = alternating_windows(500, 1500);
  const Histogram h = tight_histogram(sum(windows));
  const double rel = alternating_rel(500, 1500);  // 0.24
  REQUIRE(rel == doctest::Approx(0.240087).epsilon(1e-5));

  CHECK_FALSE(rule.check(progress_of(2.1, windows, h)).has_value());   // between min and max
  CHECK_FALSE(rule.check(progress_of(9.999, windows, h)).has_value());  // just before the maximum
  const auto reason = rule.check(progress_of(10.0, windows, h));
  REQUIRE(reason.has_value());
  CHECK(starts_with(*reason, "maximum duration reached before converging: throughput +-24%, p99 +-"));
  CHECK(ends_with(*reason, "% (95%)"));

  const json d = rule.describe();
  CHECK(d["converged"] == false);
  CHECK(d["at_stop"]["requests"] == sum(windows));
  CHECK(d["at_stop"]["throughput_half_width_rel"].get<double>() == doctest::Approx(rel).epsilon(1e-9));
  // Widths shrink as 1/sqrt(n): the worst (throughput's) reaches 5 % after
  // n * (rel / 0.05)^2 requests.
  const double needed = std::ceil(static_cast<double>(sum(windows)) * (rel / 0.05) * (rel / 0.05));
  REQUIRE(d["requests_needed"].is_number_integer());
  CHECK(static_cast<double>(d["requests_needed"].get<int64_t>()) == doctest::Approx(needed).epsilon(1e-6));
  CHECK(d["requests_needed"].get<int64_t>() > sum(windows) * 20);  // (0.24 / 0.05)^2 = 23
}

// ------------------------------------------------------------- make_stop_rule

TEST_CASE("make_stop_rule: the duration alone by default (5 s)") {
  const auto rule = make_stop_rule(config_from(json::object()));
  CHECK(rule->describe() == json{{"rule", "duration"}, {"duration_s", 5.0}});
  REQUIRE(rule->deadline_ns().has_value());
  CHECK(*rule->deadline_ns() == 5'000'000'000);
  CHECK_FALSE(rule->wants_progress());
  CHECK(dynamic_cast<DurationRule*>(rule.get()) != nullptr);
}

TEST_CASE("make_stop_rule: a request count alone is a request count rule with no deadline") {
  const auto rule = make_stop_rule(config_from({{"requests", 4}}));
  CHECK(dynamic_cast<RequestCountRule*>(rule.get()) != nullptr);
  CHECK(rule->describe() == json{{"rule", "requests"}, {"requests", 4}});
  CHECK_FALSE(rule->deadline_ns().has_value());
  int granted = 0;
  for (int i = 0; i < 10; ++i) granted += rule->claim_request() ? 1 : 0;
  CHECK(granted == 4);
}

TEST_CASE("make_stop_rule: duration and requests together stop at whichever comes first") {
  const auto rule = make_stop_rule(config_from({{"duration", 2.0}, {"requests", 3}}));
  REQUIRE(dynamic_cast<AnyOfRule*>(rule.get()) != nullptr);
  CHECK(rule->describe() == json{{"rule", "any-of"},
                                 {"rules", json::array({json{{"rule", "duration"}, {"duration_s", 2.0}},
                                                        json{{"rule", "requests"}, {"requests", 3}}})}});
  CHECK(*rule->deadline_ns() == 2'000'000'000);
  CHECK(rule->claim_request());
  CHECK(rule->claim_request());
  CHECK(rule->claim_request());
  CHECK_FALSE(rule->claim_request());
}

TEST_CASE("make_stop_rule: ci makes the statistical rule, its maximum the derived 60 s duration") {
  const auto rule = make_stop_rule(config_from({{"ci", 0.02}}));
  REQUIRE(dynamic_cast<ConfidenceRule*>(rule.get()) != nullptr);
  const json d = rule->describe();
  CHECK(d["rule"] == "ci");
  CHECK(d["half_width_rel"] == 0.02);
  CHECK(d["percentile"] == 99.0);
  CHECK(d["min_duration_s"] == 1.0);
  CHECK(d["max_duration_s"] == 60.0);
  CHECK(*rule->deadline_ns() == 60'000'000'000);
  CHECK(rule->wants_progress());
}

TEST_CASE("make_stop_rule: ci with its own duration, percentile and minimum; no separate duration rule") {
  const auto rule = make_stop_rule(
      config_from({{"ci", 0.1}, {"duration", 12.0}, {"ci_percentile", 99.9}, {"min_duration", 2.5}}));
  REQUIRE(dynamic_cast<ConfidenceRule*>(rule.get()) != nullptr);
  const json d = rule->describe();
  CHECK(d["half_width_rel"] == 0.1);
  CHECK(d["percentile"] == 99.9);
  CHECK(d["min_duration_s"] == 2.5);
  CHECK(d["max_duration_s"] == 12.0);
  CHECK(*rule->deadline_ns() == 12'000'000'000);
}

TEST_CASE("make_stop_rule: ci and a request count: any of the two") {
  const auto rule = make_stop_rule(config_from({{"ci", 0.05}, {"requests", 1000}}));
  REQUIRE(dynamic_cast<AnyOfRule*>(rule.get()) != nullptr);
  const json d = rule->describe();
  REQUIRE(d["rules"].size() == 2);
  CHECK(d["rules"][0]["rule"] == "ci");
  CHECK(d["rules"][0]["max_duration_s"] == 60.0);
  CHECK(d["rules"][1] == json{{"rule", "requests"}, {"requests", 1000}});
  CHECK(rule->wants_progress());
  CHECK(*rule->deadline_ns() == 60'000'000'000);
}

TEST_CASE("stop_kinds: each kind applies exactly to the options that call for it") {
  const auto& kinds = stop_kinds();
  REQUIRE(kinds.size() == 3);
  const auto applies = [&](const std::string& name, const RunConfig& c) {
    for (const auto& k : kinds)
      if (k.name == name) return k.applies(c);
    FAIL("no stop kind " << name);
    return false;
  };
  const RunConfig plain = config_from(json::object());
  CHECK(applies("duration", plain));
  CHECK_FALSE(applies("requests", plain));
  CHECK_FALSE(applies("ci", plain));
  const RunConfig ci = config_from({{"ci", 0.02}});
  CHECK(applies("ci", ci));
  CHECK_FALSE(applies("duration", ci));  // the duration is ci's maximum, not a rule of its own
  const RunConfig requests = config_from({{"requests", 9}});
  CHECK(applies("requests", requests));
  CHECK_FALSE(applies("duration", requests));
}
