// The per-worker Recorder (csrc/recorder.{h,cpp}) fed hand-made
// RequestTimings (csrc/request_timing.h). Latencies below 2048 ns are
// recorded exactly by the histogram (3 significant digits), so those figures
// can be checked to the nanosecond.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "recorder.h"
#include "request_timing.h"

using namespace infermeter;

namespace {

constexpr int64_t kStart = 5'000'000'000;  // the measurement start, steady clock
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kWindow = 100 * kMs;

// A closed-loop request on the host: issued and completed, offsets from kStart.
RequestTiming closed(int64_t issued_offset, int64_t completed_offset) {
  RequestTiming t;
  t.ready_ns = t.scheduled_ns = t.issued_ns = kStart + issued_offset;
  t.completed_ns = kStart + completed_offset;
  return t;
}

}  // namespace

TEST_CASE("recorder: a closed loop on the host records host latency only") {
  Recorder r(kWindow, 10);
  for (int64_t i = 1; i <= 10; ++i) r.record(closed(i * 10'000, i * 10'000 + i * 100), kStart, false);  // 100..1000 ns
  CHECK(r.count() == 10);
  CHECK(r.host().total_count() == 10);
  CHECK(r.host().min_value() == 100);
  CHECK(r.host().max_value() == 1000);
  CHECK(r.host().mean() == doctest::Approx(550.0));
  CHECK(r.host().value_at_percentile(50) == 500);
  CHECK(r.host().value_at_percentile(90) == 900);
  CHECK(r.host().value_at_percentile(100) == 1000);
  CHECK(r.response().total_count() == 0);
  CHECK(r.queue_wait().total_count() == 0);
  CHECK(r.dispatch().total_count() == 0);
  CHECK(r.launch().total_count() == 0);
  CHECK(r.device().total_count() == 0);
}

TEST_CASE("recorder: scheduled ahead, response and queue wait run from the schedule, dispatch from due-and-free") {
  Recorder r(kWindow, 10);
  // Due at 100, the worker free since 0, issued at 400, done at 1400.
  RequestTiming a;
  a.ready_ns = kStart + 0;
  a.scheduled_ns = kStart + 100;
  a.event_ns = a.scheduled_ns;  // an open loop lets a request go when it is due
  a.issued_ns = kStart + 400;
  a.completed_ns = kStart + 1400;
  // Due at 500, the worker free only at 600, issued at 650, done at 1650.
  RequestTiming b;
  b.ready_ns = kStart + 600;
  b.scheduled_ns = kStart + 500;
  b.event_ns = b.scheduled_ns;
  b.issued_ns = kStart + 650;
  b.completed_ns = kStart + 1650;
  r.record(a, kStart, true);
  r.record(b, kStart, true);

  CHECK(r.host().total_count() == 2);
  CHECK(r.host().min_value() == 1000);  // both took 1000 ns once issued
  CHECK(r.host().max_value() == 1000);
  CHECK(r.response().total_count() == 2);
  CHECK(r.response().min_value() == 1150);  // 1650 - 500
  CHECK(r.response().max_value() == 1300);  // 1400 - 100
  CHECK(r.queue_wait().total_count() == 2);
  CHECK(r.queue_wait().min_value() == 150);  // 650 - 500
  CHECK(r.queue_wait().max_value() == 300);  // 400 - 100
  CHECK(r.dispatch().total_count() == 2);
  CHECK(r.dispatch().min_value() == 50);   // 650 - max(600, 500)
  CHECK(r.dispatch().max_value() == 300);  // 400 - max(0, 100)
  CHECK(r.launch().total_count() == 0);
  CHECK(r.device().total_count() == 0);

  // The same timings not scheduled ahead: host only.
  Recorder closed_loop(kWindow, 10);
  closed_loop.record(a, kStart, false);
  CHECK(closed_loop.host().total_count() == 1);
  CHECK(closed_loop.response().total_count() == 0);
  CHECK(closed_loop.queue_wait().total_count() == 0);
  CHECK(closed_loop.dispatch().total_count() == 0);
}

TEST_CASE("recorder: launch and device time only when the request has a device time (device_ns >= 0)") {
  Recorder r(kWindow, 10);
  RequestTiming gpu = closed(1000, 3000);
  gpu.launched_ns = gpu.issued_ns + 120;
  gpu.device_ns = 700;
  r.record(gpu, kStart, false);
  RequestTiming zero = closed(4000, 5000);  // a device time of 0 is still a device time
  zero.launched_ns = zero.issued_ns + 80;
  zero.device_ns = 0;
  r.record(zero, kStart, false);
  RequestTiming cpu = closed(6000, 7000);  // -1: no device
  cpu.launched_ns = 0;
  r.record(cpu, kStart, false);

  CHECK(r.host().total_count() == 3);
  CHECK(r.launch().total_count() == 2);
  CHECK(r.launch().min_value() == 80);
  CHECK(r.launch().max_value() == 120);
  CHECK(r.device().total_count() == 2);
  CHECK(r.device().min_value() == 0);
  CHECK(r.device().max_value() == 700);
}

TEST_CASE("recorder: completions are counted per window from the start; late ones land in the last window") {
  Recorder r(kWindow, 10);  // windows of 100 ms: [0, 100), [100, 200), ..., [900, 1000) ms
  const std::vector<int64_t> completed_at = {
      -5 * kMs,         // before the start (a request issued in warm-up): window 0
      0,                // window 0
      100 * kMs - 1,    // window 0
      100 * kMs,        // window 1
      250 * kMs,        // window 2
      999 * kMs,        // window 9
      5'000 * kMs,      // past the last window: clamped to window 9
  };
  for (const int64_t c : completed_at) r.record(closed(c - 1000, c), kStart, false);
  CHECK(r.count() == 7);
  CHECK(r.completions() == std::vector<int64_t>{3, 1, 1, 0, 0, 0, 0, 0, 0, 2});
  CHECK(r.completions(3) == std::vector<int64_t>{3, 1, 1});
  CHECK(r.completions(100).size() == 10);
  std::vector<int64_t> counts{10, 10, 10, 10};
  r.add_completions_to(counts);
  CHECK(counts == std::vector<int64_t>{13, 11, 11, 10});
  CHECK(r.last_completion_ns() == 5'000 * kMs);
}

TEST_CASE("recorder: a worker's rate is its completions over first measured issue to last completion") {
  Recorder r(kWindow, 10);
  CHECK(r.worker_rate_sum_per_s() == 0.0);  // nothing yet
  // 4 requests of 25 ms back to back from 20 ms: first issue 20 ms, last completion 120 ms.
  for (int64_t k = 0; k < 4; ++k) r.record(closed(20 * kMs + k * 25 * kMs, 20 * kMs + (k + 1) * 25 * kMs), kStart, false);
  CHECK(r.last_completion_ns() == 120 * kMs);
  CHECK(r.worker_rate_sum_per_s() == doctest::Approx(4 / 0.100));  // 40/s, not 4 / 0.12 s
}

TEST_CASE("recorder: merging workers sums histograms and windows, and each worker's own rate") {
  // Worker A: 10 requests of 10 ms back to back from 0: 10 in 100 ms, 100/s.
  Recorder a(kWindow, 10);
  for (int64_t k = 0; k < 10; ++k) a.record(closed(k * 10 * kMs, (k + 1) * 10 * kMs), kStart, false);
  // Worker B: 5 requests of 20 ms back to back from 10 ms: 5 in 100 ms, 50/s.
  Recorder b(kWindow, 10);
  for (int64_t k = 0; k < 5; ++k) b.record(closed(10 * kMs + k * 20 * kMs, 10 * kMs + (k + 1) * 20 * kMs), kStart, false);
  CHECK(a.worker_rate_sum_per_s() == doctest::Approx(100.0));
  CHECK(b.worker_rate_sum_per_s() == doctest::Approx(50.0));

  // As the engine merges: every worker into a fresh recorder.
  Recorder merged(kWindow, 10);
  merged.merge(a);
  merged.merge(b);
  CHECK(merged.worker_rate_sum_per_s() == doctest::Approx(150.0));
  // Not the pooled count over the pooled span (15 / 0.11 s = 136/s).
  CHECK(merged.worker_rate_sum_per_s() != doctest::Approx(15 / 0.110));

  CHECK(merged.host().total_count() == 15);
  CHECK(merged.host().value_at_percentile(50) == doctest::Approx(10 * kMs).epsilon(0.001));  // 10 of 15 took 10 ms
  CHECK(merged.host().max_value() == doctest::Approx(20 * kMs).epsilon(0.001));
  CHECK(merged.host().mean() == doctest::Approx((10 * 10.0 + 5 * 20.0) / 15 * kMs).epsilon(0.001));
  CHECK(merged.last_completion_ns() == 110 * kMs);
  // A completes at 10..100 ms (9 in window 0, 1 in window 1); B at 30, 50, 70, 90, 110 ms (4 and 1).
  CHECK(merged.completions() == std::vector<int64_t>{13, 2, 0, 0, 0, 0, 0, 0, 0, 0});
  // The workers' own records are untouched.
  CHECK(a.host().total_count() == 10);
  CHECK(b.host().total_count() == 5);
}

TEST_CASE("recorder: merging open-loop workers merges response, queue wait, dispatch, launch and device too") {
  Recorder a(kWindow, 4);
  Recorder b(kWindow, 4);
  for (int64_t k = 0; k < 3; ++k) {
    RequestTiming t;
    t.ready_ns = kStart;
    t.scheduled_ns = kStart + k * 1000;
    t.issued_ns = t.scheduled_ns + 10;
    t.launched_ns = t.issued_ns + 5;
    t.completed_ns = t.issued_ns + 500;
    t.device_ns = 400;
    a.record(t, kStart, true);
  }
  RequestTiming t;
  t.ready_ns = kStart;
  t.scheduled_ns = kStart + 50;
  t.issued_ns = kStart + 90;
  t.launched_ns = kStart + 100;
  t.completed_ns = kStart + 1090;
  t.device_ns = 900;
  b.record(t, kStart, true);

  Recorder merged(kWindow, 4);
  merged.merge(a);
  merged.merge(b);
  CHECK(merged.response().total_count() == 4);
  CHECK(merged.response().min_value() == 510);
  CHECK(merged.response().max_value() == 1040);
  CHECK(merged.queue_wait().min_value() == 10);
  CHECK(merged.queue_wait().max_value() == 40);
  CHECK(merged.dispatch().total_count() == 4);
  CHECK(merged.launch().total_count() == 4);
  CHECK(merged.launch().max_value() == 10);
  CHECK(merged.device().total_count() == 4);
  CHECK(merged.device().min_value() == 400);
  CHECK(merged.device().max_value() == 900);
  CHECK(merged.completions() == std::vector<int64_t>{4, 0, 0, 0});
}
