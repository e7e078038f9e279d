// The dynamic-batching load (csrc/dynamic_batching.{h,cpp}): each of the
// batcher's rules on schedules worked out by hand (constant spacing at rate r
// puts arrival k at k * 1e9 / r ns), its options' checks, and the padding
// table graph runners use.
#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "batch_stats.h"
#include "clock.h"
#include "dynamic_batching.h"
#include "test_support.h"

using namespace infermeter;
using namespace infermeter::testing;

namespace {

constexpr int64_t kMs = 1'000'000;

DynamicBatching batcher(double rate, int64_t max_items, int64_t delay_ns, std::vector<int64_t> preferred = {},
                        int64_t request_items = 1, int64_t max_requests = 0) {
  return DynamicBatching(ArrivalProcess::kConstant, rate, 0, 3'600'000'000'000, max_requests,
                         {.request_items = request_items,
                          .max_items = max_items,
                          .max_queue_delay_ns = delay_ns,
                          .preferred_items = std::move(preferred)});
}

// The index in the schedule of a dispatch's first request, at 1000/s.
int64_t first_index_at_1000(const Dispatch& d) { return (d.due_ns(0) - d.base_ns) / kMs; }

}  // namespace

TEST_CASE("dynamic batching: with max_batch items queued, the oldest max_batch go at once, in arrival order") {
  auto load = batcher(1000.0, 4, 1'000 * kMs);
  const int64_t start = now_ns() - 1'000 * kMs;  // a second of arrivals already queued
  load.start(start);
  std::atomic<bool> stopping{false};
  const auto first = load.next(stopping);
  REQUIRE(first.has_value());
  CHECK(first->requests == 4);
  CHECK(first_index_at_1000(*first) == 0);
  CHECK(first->due_ns(3) == start + 3 * kMs);
  CHECK(first->event_ns == start + 3 * kMs);  // the rule held once the 4th arrived
  const auto second = load.next(stopping);
  REQUIRE(second.has_value());
  CHECK(second->requests == 4);
  CHECK(first_index_at_1000(*second) == 4);
  CHECK(load.max_batch_items() == 4);
  CHECK(load.schedules_ahead());
}

TEST_CASE("dynamic batching: a batch fills as requests arrive and goes when the max_batch-th arrives") {
  auto load = batcher(1000.0, 3, 1'000 * kMs);
  const int64_t start = now_ns();
  load.start(start);
  std::atomic<bool> stopping{false};
  const auto d = load.next(stopping);
  const int64_t returned = now_ns();
  REQUIRE(d.has_value());
  CHECK(d->requests == 3);
  CHECK(d->event_ns == start + 2 * kMs);
  CHECK(returned >= start + 2 * kMs);
  CHECK(returned - d->event_ns < kMs);  // the waiting worker spins for the last millisecond
}

TEST_CASE("dynamic batching: a preferred size the queue reaches goes at once, the largest one reached") {
  std::atomic<bool> stopping{false};
  SUBCASE("one preferred size") {
    auto load = batcher(1000.0, 8, 1'000 * kMs, {3});
    load.start(now_ns() - 1'000 * kMs);
    const auto d = load.next(stopping);
    REQUIRE(d.has_value());
    CHECK(d->requests == 8);  // 8 queued: a full batch comes first
  }
  SUBCASE("below max_batch, the largest preferred size within the queue") {
    auto load = batcher(1000.0, 8, 1'000 * kMs, {2, 5});
    const int64_t start = now_ns() - 6 * kMs - kMs / 2;  // arrivals at 0..6 ms: 7 queued
    load.start(start);
    const auto d = load.next(stopping);
    REQUIRE(d.has_value());
    CHECK(d->requests == 5);
    CHECK(d->event_ns == start + 4 * kMs);  // when the 5th arrived
    const auto rest = load.next(stopping);  // 2 left, a preferred size
    REQUIRE(rest.has_value());
    CHECK(rest->requests == 2);
    CHECK(first_index_at_1000(*rest) == 5);
  }
}

TEST_CASE("dynamic batching: once the oldest has waited max_queue_delay, every queued request goes") {
  std::atomic<bool> stopping{false};
  SUBCASE("a lone request waits exactly the delay") {
    auto load = batcher(10.0, 8, 5 * kMs);  // arrivals 100 ms apart
    const int64_t start = now_ns();
    load.start(start);
    const auto d = load.next(stopping);
    const int64_t returned = now_ns();
    REQUIRE(d.has_value());
    CHECK(d->requests == 1);
    CHECK(d->event_ns == start + 5 * kMs);
    CHECK(returned >= start + 5 * kMs);
    CHECK(returned < start + 60 * kMs);
  }
  SUBCASE("no delay: whatever is queued goes at once") {
    auto load = batcher(1000.0, 8, 0);
    const int64_t start = now_ns() - 2 * kMs - kMs / 2;  // arrivals at 0, 1, 2 ms
    load.start(start);
    const auto d = load.next(stopping);
    REQUIRE(d.has_value());
    CHECK(d->requests == 3);
    CHECK(d->event_ns == start);  // the oldest's deadline is its arrival
  }
}

TEST_CASE("dynamic batching: requests of several items fill a batch by items, never past max_batch") {
  auto load = batcher(1000.0, 5, 1'000 * kMs, {}, 2);
  load.start(now_ns() - 1'000 * kMs);
  std::atomic<bool> stopping{false};
  const auto d = load.next(stopping);
  REQUIRE(d.has_value());
  CHECK(d->requests == 2);  // 4 items; a third request would make 6
}

TEST_CASE("dynamic batching: every arrival is dispatched once, in order, by workers taking turns") {
  auto load = batcher(1000.0, 4, 0, {}, 1, 1000);
  load.start(now_ns() - 2'000 * kMs);  // all 1000 due
  std::atomic<bool> stopping{false};
  std::vector<std::vector<int64_t>> firsts(3);
  std::vector<int64_t> counts(3, 0);
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w)
    workers.emplace_back([&, w] {
      while (const auto d = load.next(stopping)) {
        firsts[w].push_back(first_index_at_1000(*d));
        counts[w] += d->requests;
        CHECK(d->requests == 4);
      }
    });
  for (auto& t : workers) t.join();
  std::set<int64_t> seen;
  for (const auto& list : firsts) seen.insert(list.begin(), list.end());
  CHECK(counts[0] + counts[1] + counts[2] == 1000);
  CHECK(seen.size() == 250);  // 250 distinct batches of 4
  CHECK(*seen.begin() == 0);
  CHECK(*seen.rbegin() == 996);
}

TEST_CASE("dynamic batching: a stop while a batch is forming ends the wait with nothing") {
  auto load = batcher(2.0, 8, 10'000 * kMs);  // the lone first request would wait 10 s
  load.start(now_ns());
  std::atomic<bool> stopping{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stopping = true;
  });
  const auto before = std::chrono::steady_clock::now();
  const auto d = load.next(stopping);
  stopper.join();
  CHECK_FALSE(d.has_value());
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::milliseconds(300));
}

TEST_CASE("dynamic batching: its section adds the batcher's settings and its batches to the open loop's") {
  auto load = batcher(1000.0, 4, 2 * kMs, {2, 4}, 2);
  BatchStats stats(4);
  stats.record(4, 4, 1'000'000);
  stats.record(2, 4, 900'000);  // padded to a captured 4
  Recorded r;
  r.requests = 3;
  r.stopped_ns = 1'000 * kMs;
  r.last_completion_ns = 1'000 * kMs;
  r.batches = &stats;
  const auto d = load.describe(r);
  CHECK(d["kind"] == "dynamic-batching");
  CHECK(d["batcher"]["max_batch"] == 4);
  CHECK(d["batcher"]["max_queue_delay_s"].get<double>() == doctest::Approx(0.002));
  CHECK(d["batcher"]["preferred_batches"] == nlohmann::json::array({2, 4}));
  CHECK(d["batcher"]["request_items"] == 2);
  CHECK(d["achieved_items_per_s"].get<double>() == doctest::Approx(6.0));
  CHECK(d["batches"]["batches"] == 2);
  CHECK(d["batches"]["mean_batch_items"].get<double>() == doctest::Approx(3.0));
  CHECK(d["batches"]["batches_by_items"] == nlohmann::json({{"2", 1}, {"4", 1}}));
  CHECK(d["batches"]["compute_by_size"]["4"]["batches"] == 2);
  CHECK(d["batches"]["compute_by_size"]["4"]["mean_ns"].get<double>() == doctest::Approx(950'000));
  CHECK(d["batches"]["padded_items"] == 2);
  CHECK(d["batches"]["padding_fraction"].get<double>() == doctest::Approx(0.25));
  CHECK(d.contains("sustained"));
}

TEST_CASE("batch stats: merging adds counts and keeps each size's extremes") {
  BatchStats a(8), b(8);
  a.record(3, 4, 100);
  b.record(4, 4, 300);
  b.record(8, 8, 500);
  a.merge(b);
  const auto d = a.describe();
  CHECK(d["batches"] == 3);
  CHECK(d["items"] == 15);
  CHECK(d["compute_by_size"]["4"]["min_ns"] == 100);
  CHECK(d["compute_by_size"]["4"]["max_ns"] == 300);
  CHECK(d["padded_items"] == 1);
}

TEST_CASE("dynamic batching: graph runners pad each batch to the smallest captured size that holds it") {
  CHECK(padded_sizes(8, {1, 2, 4, 8}) == std::vector<int64_t>{0, 1, 2, 4, 4, 8, 8, 8, 8});
  CHECK(padded_sizes(5, {4, 16}) == std::vector<int64_t>{0, 4, 4, 4, 4, 16});
  CHECK(capture_sizes(config_from({{"load", "dynamic-batching"}, {"rate", 10}, {"max_batch", 12}})) ==
        std::vector<int64_t>{1, 2, 4, 8, 12});
  CHECK(capture_sizes(config_from({{"load", "dynamic-batching"}, {"rate", 10}, {"max_batch", 1}})) ==
        std::vector<int64_t>{1});
  CHECK(capture_sizes(config_from(
            {{"load", "dynamic-batching"}, {"rate", 10}, {"max_batch", 8}, {"capture_batches", "8,2"}})) ==
        std::vector<int64_t>{2, 8});
}

TEST_CASE("dynamic batching: options that cannot work together are refused, naming them") {
  const nlohmann::json base = {{"load", "dynamic-batching"}, {"rate", 100}};
  auto with = [&](nlohmann::json extra) {
    nlohmann::json given = base;
    given.update(extra);
    return given;
  };
  CHECK(contains(invalid_argument_of([&] { config_from({{"load", "dynamic-batching"}}); }),
                 "load dynamic-batching needs a rate"));
  CHECK(contains(invalid_argument_of([&] { config_from(with({{"batch_size", 16}, {"max_batch", 8}})); }),
                 "exceeds max_batch"));
  CHECK(contains(invalid_argument_of([&] { config_from(with({{"batch_size", 2}, {"preferred_batches", "3"}})); }),
                 "preferred_batches: 3 must be a whole number of requests"));
  CHECK(contains(invalid_argument_of([&] { config_from(with({{"max_batch", 8}, {"preferred_batches", "16"}})); }),
                 "at most max_batch 8"));
  CHECK(contains(invalid_argument_of([&] { config_from(with({{"max_batch", 8}, {"capture_batches", "1,4"}})); }),
                 "capture_batches must reach max_batch (8)"));
  CHECK(contains(invalid_argument_of([&] { config_from(with({{"preferred_batches", "4,,8"}})); }),
                 "preferred_batches must be comma-separated sizes, e.g. 4,8"));
  CHECK(contains(invalid_argument_of([&] { config_from(with({{"capture_batches", "0,8"}})); }),
                 "capture_batches must be comma-separated sizes"));
  CHECK(contains(invalid_argument_of([&] { parse_sizes("capture_batches", "4,4"); }), "names a size twice"));
  CHECK(contains(invalid_argument_of([&] { config_from(with({{"max_queue_delay", -1}})); }),
                 "max_queue_delay must be >= 0 and at most 86400 s"));
  CHECK(contains(invalid_argument_of([&] { config_from({{"repeat", 3}, {"trace", "t.jsonl"}}); }),
                 "trace writes one run's requests: leave it out with repeat"));
}
