#include "worker_pool.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/StreamGuard.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "clock.h"
#include "device.h"
#include "infermeter/errors.h"
#include "interval_histogram.h"
#include "tensor_bytes.h"

namespace infermeter {

namespace {

enum Phase : int { kWarmup, kMeasure, kStop };

struct Shared {
  std::atomic<int> phase{kWarmup};
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> measure_start_ns{0};
  std::atomic<int> finished{0};
  std::atomic<int> prepared{0};
  std::atomic<bool> load_exhausted{false};
  std::mutex mutex;
  std::condition_variable changed;
  std::optional<WorkerFailure> failure;  // the first one, under mutex
  std::atomic<bool> failure_unrecorded{false};  // one whose message could not be kept (out of memory)
  std::atomic<int64_t> next_batch{0};  // dispatches numbered for the trace
  std::atomic<int64_t> output_bytes{0};  // worker 0's first output
};

struct Worker {
  int index = 0;
  std::unique_ptr<Recorder> recorder;
  // The stop rule's latency, handed over while measuring; only for a rule
  // that reads it (wants_progress).
  std::unique_ptr<IntervalHistogram> progress;
  std::unique_ptr<RequestTrace> trace;  // when the plan traces
  std::atomic<int64_t> warmup_done{0};  // written by the worker alone
  std::thread thread;
};

// Records a worker's failure (`e` null: not a std::exception). Called from its
// catch handlers, so it must not throw itself.
void fail(Shared& shared, const std::exception* e, bool before_measuring) noexcept {
  try {
    const std::string message = e ? short_message(*e) : "unknown failure";
    std::lock_guard lock(shared.mutex);
    if (!shared.failure) shared.failure.emplace(message, e && is_out_of_memory(*e), before_measuring);
  } catch (...) {
    // Out of memory, or a broken mutex: the run still fails, without the message.
    shared.failure_unrecorded.store(true);
  }
}

// The distinct sizes a batching load's batches are computed at, ascending.
std::vector<int64_t> distinct_sizes(const std::vector<int64_t>& computed_at) {
  std::vector<int64_t> sizes;
  for (size_t n = 1; n < computed_at.size(); ++n)
    if (sizes.empty() || sizes.back() != computed_at[n]) sizes.push_back(computed_at[n]);
  return sizes;
}

void worker_loop(Worker& w, ModelRunner& model, LoadGenerator& load, StopRule& stop, const PoolPlan& plan,
                 Shared& shared) {
  bool prepared = false;
  try {
    // Per thread under OpenMP: this worker's own intra-op pool size.
    at::set_num_threads(plan.intra_op_threads);
    std::optional<DeviceTimer> timer;
    std::optional<c10::StreamGuard> stream_guard;
    if (plan.device.is_cuda()) {
      timer.emplace(plan.device);
      stream_guard.emplace(timer->stream());
    }
    c10::InferenceMode inference_mode;
    const auto replica = model.make_replica(w.index);
    const bool batching = !plan.computed_at.empty();
    // Warm-up cycles through every size a batch may be computed at.
    const std::vector<int64_t> warm_sizes = batching ? distinct_sizes(plan.computed_at) : std::vector<int64_t>{};
    size_t warm_next = 0;
    // One request (one batch of each size) before any is timed: lazy
    // initialisation happens here, and a model that does not take its inputs
    // fails with its own message.
    c10::IValue first;
    bool whole_pass = true;
    if (batching) {
      // Thousands of sizes take a while: a stop (Ctrl-C) ends the pass.
      for (const int64_t size : warm_sizes) {
        if (shared.stopping.load(std::memory_order_relaxed)) {
          whole_pass = false;
          break;
        }
        first = replica->infer_batch(size);
      }
    } else {
      first = replica->infer();
    }
    if (timer) timer->stop_and_wait();
    // The largest size's output, which a pass cut short never computed.
    if (w.index == 0 && whole_pass) shared.output_bytes.store(tensor_bytes(first));
    first = c10::IValue();
    prepared = true;
    shared.prepared.fetch_add(1);
    if (plan.warmup_s == 0 && plan.warmup_min_requests == 0) {
      // No warm-up asked for: issue nothing until measuring begins.
      while (shared.phase.load(std::memory_order_acquire) == kWarmup)
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    const bool scheduled_ahead = load.schedules_ahead();
    IntervalHistogram* const progress = w.progress.get();
    RequestTrace* const trace = w.trace.get();
    int64_t measure_start_ns = -1;  // read once, when measuring begins
    RequestTiming t;
    for (;;) {
      const int phase = shared.phase.load(std::memory_order_acquire);
      if (phase == kStop) break;
      const bool measured = phase == kMeasure;
      Dispatch dispatch;
      int64_t size = 0;  // a batch's computed size
      if (measured) {
        if (measure_start_ns < 0) measure_start_ns = shared.measure_start_ns.load(std::memory_order_relaxed);
        if (!stop.claim_request()) break;
        // Only a schedule makes the time a worker turned free worth reading.
        if (scheduled_ahead) t.ready_ns = now_ns();
        const auto next = load.next(shared.stopping);
        if (!next) {
          if (!shared.stopping.load(std::memory_order_relaxed)) shared.load_exhausted.store(true);
          break;
        }
        dispatch = *next;
        t.event_ns = dispatch.event_ns;
        if (batching) size = plan.computed_at[dispatch.requests * plan.request_items];
      } else if (batching) {
        size = warm_sizes[warm_next++ % warm_sizes.size()];
      }
      t.issued_ns = now_ns();
      if (timer) timer->start();
      c10::IValue output = batching ? replica->infer_batch(size) : replica->infer();
      if (timer) {
        t.launched_ns = now_ns();
        timer->stop_and_wait();
      }
      t.completed_ns = now_ns();
      output = c10::IValue();
      if (!measured) {
        w.warmup_done.store(w.warmup_done.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        continue;
      }
      if (timer) t.device_ns = timer->elapsed_ns();
      const int64_t batch = trace ? shared.next_batch.fetch_add(1, std::memory_order_relaxed) : 0;
      const int64_t items = dispatch.requests * plan.request_items;
      // Each request of the dispatch is recorded with its own due time.
      for (int64_t j = 0; j < dispatch.requests; ++j) {
        t.scheduled_ns = scheduled_ahead ? dispatch.due_ns(j) : t.issued_ns;
        w.recorder->record(t, measure_start_ns, scheduled_ahead);
        if (progress) progress->record(t.completed_ns - t.scheduled_ns);
        if (trace)
          trace->add({.due_ns = t.scheduled_ns - measure_start_ns,
                      .dispatched_ns = t.issued_ns - measure_start_ns,
                      .completed_ns = t.completed_ns - measure_start_ns,
                      .batch = batch,
                      .items = static_cast<int32_t>(batching ? items : plan.request_items),
                      .computed = static_cast<int32_t>(batching ? size : plan.request_items),
                      .worker = w.index});
      }
      if (batching) w.recorder->record_batch(items, size, t.completed_ns - t.issued_ns);
    }
  } catch (const std::exception& e) {
    fail(shared, &e, !prepared);
  } catch (...) {
    fail(shared, nullptr, !prepared);
  }
  {
    std::lock_guard lock(shared.mutex);
    shared.finished.fetch_add(1);
  }
  shared.changed.notify_all();
}

bool warmed_up(const std::vector<std::unique_ptr<Worker>>& workers, int64_t min_requests) {
  for (const auto& w : workers)
    if (w->warmup_done.load(std::memory_order_relaxed) < min_requests) return false;
  return true;
}

int64_t completed(const std::vector<std::unique_ptr<Worker>>& workers) {
  int64_t total = 0;
  for (const auto& w : workers) total += w->recorder->count();
  return total;
}

// The progress a stop rule reads, gathered from the workers without pausing
// them; `target` accumulates every latency handed over so far.
Progress gather(const std::vector<std::unique_ptr<Worker>>& workers, const PoolPlan& plan, bool detailed,
                int64_t elapsed_ns, Histogram& target) {
  Progress p;
  p.elapsed_ns = elapsed_ns;
  p.completed = completed(workers);
  if (!detailed) return p;
  p.window_s = static_cast<double>(plan.window_ns) / 1e9;
  p.windows.assign(std::min(static_cast<size_t>(elapsed_ns / plan.window_ns), plan.windows), 0);
  for (const auto& w : workers) {
    w->recorder->add_completions_to(p.windows);
    // A worker busy with a long request hands its latencies over at the next check.
    (void)w->progress->take_into(target);
  }
  p.target = &target;
  return p;
}

// The largest size a batching load's batches are computed at; 0 for the other loads.
int64_t largest_size(const PoolPlan& plan) { return plan.computed_at.empty() ? 0 : plan.computed_at.back(); }

std::vector<std::unique_ptr<Worker>> make_workers(const PoolPlan& plan, bool with_progress) {
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < plan.threads; ++i) {
    auto w = std::make_unique<Worker>();
    w->index = i;
    w->recorder = std::make_unique<Recorder>(plan.window_ns, plan.windows, largest_size(plan));
    if (with_progress) w->progress = std::make_unique<IntervalHistogram>();
    if (plan.trace) w->trace = std::make_unique<RequestTrace>();
    workers.push_back(std::move(w));
  }
  return workers;
}

bool failed_or_done(Shared& shared, int threads) {
  std::lock_guard lock(shared.mutex);
  return shared.failure.has_value() || shared.finished.load() == threads;
}

// Until every replica is prepared (copied, loaded, captured: that can take
// long) and then the warm-up's time and requests are done; false when Ctrl-C
// came first.
bool warm_up(const std::vector<std::unique_ptr<Worker>>& workers, const PoolPlan& plan, Shared& shared,
             const AbortCheck& should_abort) {
  std::optional<int64_t> begin;
  const auto warmup_ns = static_cast<int64_t>(plan.warmup_s * 1e9);
  const auto warm = [&] {
    if (!begin) {
      if (shared.prepared.load() < plan.threads) return false;
      begin = now_ns();
    }
    return now_ns() - *begin >= warmup_ns && warmed_up(workers, plan.warmup_min_requests);
  };
  while (!warm() && !failed_or_done(shared, plan.threads)) {
    if (should_abort()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// The coordinator while measuring: asks the stop rule a few times a second
// (and at its deadline) until it, the load, a failure or Ctrl-C ends the run.
// `target` gathers the rule's latency; it is made before measuring starts,
// so that the coordinator takes no core from the workers at their start (on
// a machine with as many cores as workers, that delayed one worker's first
// request and read as a higher throughput over its shorter span).
void coordinate(const std::vector<std::unique_ptr<Worker>>& workers, const PoolPlan& plan, StopRule& stop,
                Shared& shared, const AbortCheck& should_abort, const CoordinatorHooks& hooks, Histogram& target,
                PoolOutcome& outcome) {
  using namespace std::chrono_literals;
  const bool detailed_progress = stop.wants_progress();
  const int64_t start = outcome.start_ns;
  std::unique_lock lock(shared.mutex);
  while (!outcome.interrupted) {
    if (shared.failure) break;
    if (shared.finished.load() == plan.threads) {
      outcome.stop_reason = shared.load_exhausted ? "schedule complete" : stop.exhausted_reason();
      break;
    }
    auto wake = std::chrono::steady_clock::now() + 100ms;
    if (const auto deadline = stop.deadline_ns()) {
      const int64_t left = start + *deadline - now_ns();
      wake = std::min(wake, std::chrono::steady_clock::now() + std::chrono::nanoseconds(std::max<int64_t>(0, left)));
    }
    shared.changed.wait_until(lock, wake);
    if (shared.failure || shared.finished.load() == plan.threads) continue;
    lock.unlock();
    if (hooks.on_check) hooks.on_check();
    if (auto reason = stop.check(gather(workers, plan, detailed_progress, now_ns() - start, target)))
      outcome.stop_reason = std::move(*reason);
    outcome.interrupted = should_abort();
    lock.lock();
    if (!outcome.stop_reason.empty()) break;
  }
}

}  // namespace

PoolOutcome run_workers(ModelRunner& model, LoadGenerator& load, StopRule& stop, const PoolPlan& plan,
                        const AbortCheck& should_abort, const MeasuringNotice& on_measuring,
                        const CoordinatorHooks& hooks) {
  auto workers = make_workers(plan, stop.wants_progress());
  Shared shared;
  PoolOutcome outcome;
  outcome.merged = std::make_unique<Recorder>(plan.window_ns, plan.windows, largest_size(plan));
  const auto stop_workers = [&] {
    shared.stopping.store(true, std::memory_order_release);
    shared.phase.store(kStop, std::memory_order_release);
    for (auto& w : workers)
      if (w->thread.joinable()) w->thread.join();
  };
  try {
    for (auto& w : workers)
      w->thread = std::thread(worker_loop, std::ref(*w), std::ref(model), std::ref(load), std::ref(stop),
                              std::cref(plan), std::ref(shared));
    outcome.interrupted = !warm_up(workers, plan, shared, should_abort);
    if (!outcome.interrupted && hooks.on_start) hooks.on_start();
    Histogram target;
    outcome.start_ns = now_ns();
    load.start(outcome.start_ns);
    shared.measure_start_ns.store(outcome.start_ns, std::memory_order_relaxed);
    shared.phase.store(outcome.interrupted ? kStop : kMeasure, std::memory_order_release);
    if (!outcome.interrupted && on_measuring) on_measuring();
    coordinate(workers, plan, stop, shared, should_abort, hooks, target, outcome);
    outcome.end_ns = now_ns();
  } catch (...) {
    stop_workers();
    throw;
  }
  stop_workers();
  if (hooks.on_stop) hooks.on_stop();

  if (shared.failure) throw *shared.failure;
  if (shared.failure_unrecorded)
    throw WorkerFailure("a worker failed, and its message could not be kept", false, false);
  if (outcome.interrupted) outcome.stop_reason = "interrupted";
  for (auto& w : workers) {
    outcome.merged->merge(*w->recorder);
    outcome.warmup_requests += w->warmup_done.load();
    if (w->trace) outcome.traces.push_back(std::move(w->trace));
  }
  outcome.output_bytes = shared.output_bytes.load();
  return outcome;
}

}  // namespace infermeter
