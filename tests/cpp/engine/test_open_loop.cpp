// The open loop (csrc/open_loop.{h,cpp}), the closed loop
// (infermeter/load_generator.h) and the load registry (load_registry.cpp).
// Schedules are worked out by hand: constant spacing at rate r puts arrival k
// at k * 1e9 / r ns.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"
#include "clock.h"
#include "infermeter/load_generator.h"
#include "infermeter/options.h"
#include "open_loop.h"

using namespace infermeter;
using namespace infermeter::testing;
using nlohmann::json;

namespace {

Recorded recorded(int64_t requests, int64_t last_completion_ns, int64_t stopped_ns) {
  Recorded r;
  r.requests = requests;
  r.last_completion_ns = last_completion_ns;
  r.stopped_ns = stopped_ns;
  return r;
}

// An open loop's next arrival: one request, let go when it is due.
std::optional<int64_t> next_due(LoadGenerator& load, const std::atomic<bool>& stopping) {
  const auto d = load.next(stopping);
  if (!d) return std::nullopt;
  REQUIRE(d->requests == 1);
  REQUIRE(d->due_ns(0) == d->event_ns);
  return d->event_ns;
}

}  // namespace

// ------------------------------------------------------------------- OpenLoop

TEST_CASE("open loop, constant: each arrival is due at start + k * spacing, in order, then none after the horizon") {
  // 20000/s: one every 50 us; a 5 ms horizon holds arrivals 0, 50, ..., 4950 us.
  constexpr int64_t kSpacing = 50'000;
  constexpr int64_t kHorizon = 5'000'000;
  OpenLoop load(ArrivalProcess::kConstant, 20000.0, 0, kHorizon, 0);
  CHECK(load.schedules_ahead());
  std::atomic<bool> stopping{false};
  const int64_t start = now_ns() + 1'000'000;  // 1 ms ahead, so even the first arrival is waited for
  load.start(start);

  std::vector<int64_t> dues;
  std::vector<int64_t> late;  // when next() returned, less the due time
  for (;;) {
    const auto due = next_due(load, stopping);
    const int64_t returned = now_ns();
    if (!due) break;
    dues.push_back(*due);
    late.push_back(returned - *due);
    if (dues.size() > 1000) break;  // a runaway schedule
  }
  std::vector<int64_t> expected;
  for (int64_t k = 0; k * kSpacing < kHorizon; ++k) expected.push_back(start + k * kSpacing);
  REQUIRE(expected.size() == 100);
  CHECK(dues == expected);
  // It never hands out an arrival before it is due.
  int early = 0;
  for (const int64_t l : late) early += l < 0 ? 1 : 0;
  CHECK(early == 0);
  // Exhausted: it stays so.
  CHECK_FALSE(next_due(load, stopping).has_value());
  CHECK_FALSE(next_due(load, stopping).has_value());

  const json d = load.describe(recorded(100, kHorizon, kHorizon));
  CHECK(d["scheduled"] == 100);
  CHECK(d["arrived"] == 100);
}

TEST_CASE("open loop: the request cap limits the schedule to max_requests arrivals") {
  OpenLoop load(ArrivalProcess::kConstant, 20000.0, 0, 5'000'000, 7);
  std::atomic<bool> stopping{false};
  const int64_t start = now_ns();
  load.start(start);
  std::vector<int64_t> dues;
  while (const auto due = next_due(load, stopping)) {
    dues.push_back(*due);
    if (dues.size() > 100) break;
  }
  REQUIRE(dues.size() == 7);
  for (size_t k = 0; k < dues.size(); ++k) CHECK(dues[k] == start + static_cast<int64_t>(k) * 50'000);
  CHECK(load.describe(recorded(7, 400'000, 400'000))["scheduled"] == 7);
}

TEST_CASE("open loop: a stop already asked for hands out nothing, without waiting") {
  // One arrival a second: waiting for the second would take a second.
  OpenLoop load(ArrivalProcess::kConstant, 1.0, 0, 10'000'000'000, 0);
  std::atomic<bool> stopping{true};
  load.start(now_ns());
  const auto before = std::chrono::steady_clock::now();
  CHECK_FALSE(next_due(load, stopping).has_value());  // even the first, due at once
  CHECK_FALSE(next_due(load, stopping).has_value());
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::milliseconds(200));
}

TEST_CASE("open loop: a stop asked for while waiting ends the wait with no arrival") {
  // 2/s: the second arrival is due 500 ms after the start.
  OpenLoop load(ArrivalProcess::kConstant, 2.0, 0, 10'000'000'000, 0);
  std::atomic<bool> stopping{false};
  const int64_t start = now_ns();
  load.start(start);
  const auto first = next_due(load, stopping);
  REQUIRE(first.has_value());
  CHECK(*first == start);
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stopping = true;
  });
  const auto before = std::chrono::steady_clock::now();
  const auto second = next_due(load, stopping);
  const auto waited = std::chrono::steady_clock::now() - before;
  stopper.join();
  CHECK_FALSE(second.has_value());
  CHECK(waited < std::chrono::milliseconds(300));  // wakes at least every 10 ms to see the stop
}

TEST_CASE("open loop: throughput is completions over the start to the later of the stop and the last completion") {
  OpenLoop load(ArrivalProcess::kConstant, 1000.0, 0, 1'000'000'000, 0);
  // 90 completions; stop at 100 ms, last completion at 120 ms: 90 / 0.12 s.
  CHECK(load.requests_per_s(recorded(90, 120'000'000, 100'000'000)) == doctest::Approx(750.0));
  // The stop after the last completion: 90 / 0.15 s.
  CHECK(load.requests_per_s(recorded(90, 100'000'000, 150'000'000)) == doctest::Approx(600.0));
  // No span, no rate.
  CHECK(load.requests_per_s(recorded(0, 0, 0)) == 0.0);
  // The worker rate sum is a closed loop's estimator; the open loop ignores it.
  Recorded r = recorded(50, 100'000'000, 100'000'000);
  r.worker_rate_sum_per_s = 12345.0;
  CHECK(load.requests_per_s(r) == doctest::Approx(500.0));
  CHECK(load.throughput_estimator() ==
        "completions / (schedule start to the later of the stop, the last completion and, when the whole schedule "
        "was offered, its horizon)");
}

TEST_CASE("open loop: a schedule offered whole spans its horizon; one cut by its request cap spans to its stop") {
  // 2/s over 1 s: arrivals at 0 and 500 ms. Both served by 550 ms, the run
  // stopped at 600 ms: 2 over the whole second, not 2 over 0.6 s.
  OpenLoop whole(ArrivalProcess::kConstant, 2.0, 0, 1'000'000'000, 0);
  CHECK(whole.requests_per_s(recorded(2, 550'000'000, 600'000'000)) == doctest::Approx(2.0));
  // A slow server past the horizon: to its last completion.
  CHECK(whole.requests_per_s(recorded(2, 1'250'000'000, 1'250'000'000)) == doctest::Approx(1.6));
  // Stopped before the last arrival was due (a stop rule, Ctrl-C): to the stop.
  CHECK(whole.requests_per_s(recorded(1, 100'000'000, 400'000'000)) == doctest::Approx(2.5));
  // A cap of 1 request: the schedule ends with it.
  OpenLoop capped(ArrivalProcess::kConstant, 2.0, 0, 1'000'000'000, 1);
  CHECK(capped.requests_per_s(recorded(1, 80'000'000, 100'000'000)) == doctest::Approx(10.0));
}

TEST_CASE("open loop: describe states arrivals due by the stop, the queue left and whether it was sustained") {
  // 1000/s constant over 1 s: arrivals at 0, 1, ..., 999 ms. By a stop at
  // 100 ms, those at 0..100 ms (101 of them) are due.
  OpenLoop load(ArrivalProcess::kConstant, 1000.0, 42, 1'000'000'000, 0);

  const json behind = load.describe(recorded(95, 100'000'000, 100'000'000));
  CHECK(behind["kind"] == "open");
  CHECK(behind["arrival"] == "constant");
  CHECK(behind["offered_rate_per_s"] == 1000.0);
  CHECK(behind["seed"] == 42);
  CHECK(behind["scheduled"] == 1000);
  CHECK(behind["arrived"] == 101);
  CHECK(behind["queued_at_end"] == 6);
  CHECK(behind["served_fraction"].get<double>() == doctest::Approx(95.0 / 101.0));
  CHECK(behind["achieved_rate_per_s"].get<double>() == doctest::Approx(950.0));
  CHECK(behind["sustained"] == false);

  // Sustained means serving at least 99 % of what arrived: 100 / 101 is, 99 / 101 is not.
  const json just = load.describe(recorded(100, 100'000'000, 100'000'000));
  CHECK(just["served_fraction"].get<double>() == doctest::Approx(100.0 / 101.0));
  CHECK(just["queued_at_end"] == 1);
  CHECK(just["sustained"] == true);
  CHECK(load.describe(recorded(99, 100'000'000, 100'000'000))["sustained"] == false);

  // Served everything: nothing queued, a served fraction of exactly 1.
  const json all = load.describe(recorded(101, 101'000'000, 100'000'000));
  CHECK(all["queued_at_end"] == 0);
  CHECK(all["served_fraction"] == 1.0);
  CHECK(all["sustained"] == true);
  // Completions of arrivals due before the measuring began (more than arrived) never read as more than all.
  CHECK(load.describe(recorded(150, 101'000'000, 100'000'000))["served_fraction"] == 1.0);
  // No arrival yet (a stop before the first offset of a Poisson schedule): nothing to fall behind on.
  OpenLoop poisson(ArrivalProcess::kPoisson, 1.0, 3, 1'000'000'000'000, 0);
  const json none = poisson.describe(recorded(0, 0, 0));
  CHECK(none["arrived"] == 0);
  CHECK(none["served_fraction"] == 1.0);
  CHECK(none["sustained"] == true);
  CHECK(none["arrival"] == "poisson");
}

TEST_CASE("open loop: a request cap that cut the schedule still counts the arrivals that came after it") {
  // 1000/s capped at 10 arrivals (0..9 ms); by a stop at 50 ms the uncapped
  // schedule has had 51 arrivals (0..50 ms), 41 of them never issued.
  OpenLoop load(ArrivalProcess::kConstant, 1000.0, 0, 1'000'000'000, 10);
  const json d = load.describe(recorded(10, 12'000'000, 50'000'000));
  CHECK(d["scheduled"] == 10);
  CHECK(d["arrived"] == 51);
  CHECK(d["queued_at_end"] == 41);
  CHECK(d["sustained"] == false);
}

TEST_CASE("open loop: a cap equal to the schedule's own length changes nothing about what arrived (see report)") {
  // 10/s over a 1 s horizon: arrivals at 0, 100, ..., 900 ms, 10 in all;
  // the next (1000 ms) is at the horizon and not part of the schedule. A
  // request cap of 10 cuts nothing, so a stop at the 1 s duration must see
  // the same 10 arrivals, all served, as the uncapped schedule does.
  OpenLoop uncapped(ArrivalProcess::kConstant, 10.0, 0, 1'000'000'000, 0);
  OpenLoop capped(ArrivalProcess::kConstant, 10.0, 0, 1'000'000'000, 10);
  const Recorded r = recorded(10, 950'000'000, 1'000'000'000);
  const json u = uncapped.describe(r);
  const json c = capped.describe(r);
  CHECK(u["scheduled"] == 10);
  CHECK(c["scheduled"] == 10);
  CHECK(u["arrived"] == 10);
  CHECK(u["sustained"] == true);
  // Engine defect: the capped one draws the schedule on past its horizon and
  // counts the 1000 ms arrival too (11 arrived, 1 queued, 10/11 served: "NOT sustained").
  CHECK(c["arrived"] == 10);
  CHECK(c["queued_at_end"] == 0);
  CHECK(c["sustained"] == true);
}

TEST_CASE("open loop, poisson: a seeded schedule of about rate * horizon arrivals, the first after one gap") {
  // 1000/s over 1 s: Poisson(1000) arrivals, within 5 standard deviations (sqrt(1000) = 31.6) of 1000.
  OpenLoop a(ArrivalProcess::kPoisson, 1000.0, 7, 1'000'000'000, 0);
  OpenLoop b(ArrivalProcess::kPoisson, 1000.0, 7, 1'000'000'000, 0);
  const json da = a.describe(recorded(0, 0, 1'000'000'000));
  const int64_t n = da["scheduled"].get<int64_t>();
  CHECK(n > 1000 - 158);
  CHECK(n < 1000 + 158);
  CHECK(da["arrived"] == n);  // every drawn arrival is before the horizon, hence due by a stop at it
  CHECK(b.describe(recorded(0, 0, 1'000'000'000))["scheduled"] == n);  // same seed, same schedule

  // Arrivals ascend, the first strictly after the start.
  std::atomic<bool> stopping{false};
  const int64_t start = now_ns() - 10'000'000'000;  // all due already: no waiting
  a.start(start);
  int64_t previous = start;
  int64_t handed = 0, out_of_order = 0;
  while (const auto due = next_due(a, stopping)) {
    out_of_order += (handed == 0 ? *due <= previous : *due < previous) ? 1 : 0;
    previous = *due;
    ++handed;
  }
  CHECK(handed == n);
  CHECK(out_of_order == 0);
  CHECK(previous < start + 1'000'000'000);
}

// ----------------------------------------------------------------- ClosedLoop

TEST_CASE("closed loop: nothing is scheduled, its rate is the workers' rate sum, its section says closed") {
  ClosedLoop load;
  std::atomic<bool> stopping{false};
  const auto dispatch = load.next(stopping);
  REQUIRE(dispatch.has_value());
  CHECK(dispatch->requests == 1);
  CHECK(dispatch->offsets_ns == nullptr);  // nothing scheduled
  stopping = true;
  CHECK(load.next(stopping).has_value());  // the stop is the rule's business, not the closed loop's
  CHECK_FALSE(load.schedules_ahead());
  Recorded r = recorded(1000, 2'000'000'000, 2'000'000'000);  // would be 500/s by count over span
  r.worker_rate_sum_per_s = 612.5;
  CHECK(load.requests_per_s(r) == 612.5);
  CHECK(load.describe(r) == json{{"kind", "closed"}});
  CHECK(load.throughput_estimator() == "sum over workers of completions / (first measured issue to last completion)");
}

// ------------------------------------------------------------------- Registry

TEST_CASE("load registry: closed first (the default), then open and dynamic-batching; unknown names are refused naming the known") {
  CHECK(load_names() == std::vector<std::string>{"closed", "open", "dynamic-batching"});
  CHECK(load_kind("closed").name == "closed");
  CHECK(load_kind("open").name == "open");
  CHECK_THROWS_WITH_AS(load_kind("half-open"), "unknown load 'half-open' (known: closed, open, dynamic-batching)", std::invalid_argument);
  CHECK_THROWS_AS(load_kind(""), std::invalid_argument);
}

TEST_CASE("load registry: the closed kind makes a ClosedLoop and refuses a rate") {
  const RunConfig c = config_from(json::object());
  CHECK(c.load == "closed");
  const auto load = load_kind("closed").make(c);
  CHECK(dynamic_cast<ClosedLoop*>(load.get()) != nullptr);
  CHECK(load_kind("closed").summary_line(json{{"kind", "closed"}}).empty());

  RunConfig with_rate = c;
  with_rate.rate_per_s = 100.0;
  CHECK_THROWS_WITH_AS(load_kind("closed").check(with_rate),
                       "rate is an open-loop arrival rate: it needs load open (the default when a rate is given)",
                       std::invalid_argument);
  // The same through the options, where validate() runs the kind's check.
  const std::string why = invalid_argument_of([] { normalise_options({{"load", "closed"}, {"rate", 100.0}}); });
  CHECK(contains(why, "rate"));
  CHECK(contains(why, "load open"));
}

TEST_CASE("load registry: the open kind needs a rate and refuses schedules of more than 2e7 arrivals") {
  RunConfig c = config_from({{"rate", 1000.0}});
  CHECK(c.load == "open");
  CHECK_NOTHROW(load_kind("open").check(c));

  RunConfig no_rate = c;
  no_rate.rate_per_s.reset();
  CHECK_THROWS_WITH_AS(load_kind("open").check(no_rate), "load open needs a rate: the mean arrival rate, requests/s",
                       std::invalid_argument);
  CHECK(contains(invalid_argument_of([] { normalise_options({{"load", "open"}}); }), "load open needs a rate"));

  // 1e6/s for 60 s is 6e7 arrivals drawn in advance.
  const std::string too_many = invalid_argument_of([] { normalise_options({{"rate", 1e6}, {"duration", 60.0}}); });
  CHECK(contains(too_many, "an open loop at 1000000"));
  CHECK(contains(too_many, "more than 2e7 arrivals"));
  CHECK(contains(too_many, "shorten the duration or give a request count"));
  // Exactly 2e7 (1e6/s for 20 s) is allowed; so is any rate with a small request cap.
  CHECK_NOTHROW(normalise_options({{"rate", 1e6}, {"duration", 20.0}}));
  CHECK_NOTHROW(normalise_options({{"rate", 1e6}, {"duration", 60.0}, {"requests", 1000}}));
  // Only a request count: the arrivals are drawn for an hour, capped at the count.
  CHECK_NOTHROW(normalise_options({{"rate", 1e6}, {"requests", 1000}}));
  CHECK_THROWS_AS(normalise_options({{"rate", 1e4}, {"requests", 100'000'000}}), std::invalid_argument);  // 3.6e7
}

TEST_CASE("load registry: the open kind makes an OpenLoop from the rate, arrival, seed, duration and cap") {
  const RunConfig c = config_from({{"rate", 20000.0}, {"arrival", "constant"}, {"duration", 0.005}, {"seed", 9}});
  const auto load = load_kind("open").make(c);
  REQUIRE(dynamic_cast<OpenLoop*>(load.get()) != nullptr);
  const json d = load->describe(recorded(0, 0, 0));
  CHECK(d["kind"] == "open");
  CHECK(d["arrival"] == "constant");
  CHECK(d["offered_rate_per_s"] == 20000.0);
  CHECK(d["seed"] == 9);
  CHECK(d["scheduled"] == 100);  // 20000/s * 5 ms
  CHECK(d["arrived"] == 1);      // the first constant arrival is at 0

  const RunConfig capped = config_from({{"rate", 20000.0}, {"arrival", "constant"}, {"requests", 7}});
  CHECK(load_kind("open").make(capped)->describe(recorded(0, 0, 0))["scheduled"] == 7);

  const RunConfig poisson = config_from({{"rate", 50.0}});
  CHECK(poisson.arrival == "poisson");  // the default arrival process
  CHECK(load_kind("open").make(poisson)->describe(recorded(0, 0, 0))["arrival"] == "poisson");
}

TEST_CASE("load registry: the open kind's console line, from its section of the result") {
  OpenLoop load(ArrivalProcess::kConstant, 1000.0, 0, 1'000'000'000, 0);
  const json behind = load.describe(recorded(95, 100'000'000, 100'000'000));
  CHECK(load_kind("open").summary_line(behind) ==
        "load         open loop, constant arrivals at 1000.0/s offered; achieved 950.0/s, 6 queued at end, "
        "NOT sustained (the workers fell behind)\n");
  const json kept_up = load.describe(recorded(101, 100'000'000, 100'000'000));
  CHECK(load_kind("open").summary_line(kept_up) ==
        "load         open loop, constant arrivals at 1000.0/s offered; achieved 1010.0/s, 0 queued at end, "
        "sustained\n");
}
