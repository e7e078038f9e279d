#include "closed_loop.h"

#include <c10/core/StreamGuard.h>
#include <c10/core/InferenceMode.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "clock.h"
#include "device.h"
#include "errors.h"

namespace infermeter {

namespace {

enum Phase : int { kWarmup, kMeasure, kStop };

struct Shared {
  std::atomic<int> phase{kWarmup};
  std::atomic<int64_t> measure_start_ns{0};
  std::atomic<int> finished{0};
  std::mutex mutex;
  std::condition_variable changed;
  std::string error;  // first failure, under mutex
  bool out_of_memory = false;
};

struct Worker {
  std::unique_ptr<Replica> replica;
  std::unique_ptr<DeviceTimer> timer;
  std::optional<Recorder> recorder;
  std::atomic<int64_t> warmup_done{0};
  std::thread thread;
};

void worker_loop(Worker& w, Shared& shared, StopRule& stop) {
  std::optional<c10::StreamGuard> stream_guard;
  if (w.timer) stream_guard.emplace(w.timer->stream());
  c10::InferenceMode inference_mode;
  try {
    for (;;) {
      const int phase = shared.phase.load(std::memory_order_acquire);
      if (phase == kStop) break;
      const bool measured = phase == kMeasure;
      if (measured && !stop.claim_request()) break;
      const int64_t t0 = now_ns();
      if (w.timer) w.timer->start();
      c10::IValue output = w.replica->infer();
      const int64_t launched = w.timer ? now_ns() : 0;
      if (w.timer) w.timer->stop_and_wait();
      const int64_t t1 = now_ns();
      output = c10::IValue();
      if (!measured) {
        w.warmup_done.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      w.recorder->record(t1 - shared.measure_start_ns.load(std::memory_order_relaxed), t1 - t0);
      if (w.timer) w.recorder->record_gpu(launched - t0, w.timer->elapsed_ns());
    }
  } catch (const std::exception& e) {
    std::lock_guard lock(shared.mutex);
    if (shared.error.empty()) {
      shared.error = short_message(e);
      shared.out_of_memory = is_out_of_memory(e);
    }
  } catch (...) {
    std::lock_guard lock(shared.mutex);
    if (shared.error.empty()) shared.error = "unknown failure";
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

}  // namespace

ClosedLoopOutcome run_closed_loop(ModelRunner& model, const ClosedLoopPlan& plan, StopRule& stop,
                                  const AbortCheck& should_abort) {
  using namespace std::chrono_literals;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < plan.threads; ++i) {
    auto w = std::make_unique<Worker>();
    w->replica = model.make_replica(i);
    if (plan.device.is_cuda()) w->timer = std::make_unique<DeviceTimer>(plan.device);
    w->recorder.emplace(plan.window_ns, plan.windows);
    workers.push_back(std::move(w));
  }
  synchronize(plan.device);

  Shared shared;
  ClosedLoopOutcome outcome{Recorder(plan.window_ns, plan.windows)};
  const auto stop_workers = [&] {
    shared.phase.store(kStop, std::memory_order_release);
    for (auto& w : workers)
      if (w->thread.joinable()) w->thread.join();
  };
  try {
    for (auto& w : workers) w->thread = std::thread(worker_loop, std::ref(*w), std::ref(shared), std::ref(stop));

    const auto failed_or_done = [&] {
      std::lock_guard lock(shared.mutex);
      return !shared.error.empty() || shared.finished.load() == plan.threads;
    };
    const int64_t begin = now_ns();
    const auto warmup_ns = static_cast<int64_t>(plan.warmup_s * 1e9);
    while (!(now_ns() - begin >= warmup_ns && warmed_up(workers, plan.warmup_min_requests)) && !failed_or_done()) {
      if (should_abort()) {
        outcome.interrupted = true;
        break;
      }
      std::this_thread::sleep_for(2ms);
    }
    const int64_t start = now_ns();
    outcome.start_ns = start;
    shared.measure_start_ns.store(start, std::memory_order_relaxed);
    shared.phase.store(outcome.interrupted ? kStop : kMeasure, std::memory_order_release);

    std::unique_lock lock(shared.mutex);
    while (!outcome.interrupted && shared.error.empty() && shared.finished.load() < plan.threads) {
      auto wake = std::chrono::steady_clock::now() + 100ms;
      if (const auto d = stop.duration_ns()) {
        const int64_t left = start + *d - now_ns();
        if (left <= 0) break;
        wake = std::min(wake, std::chrono::steady_clock::now() + std::chrono::nanoseconds(left));
      }
      shared.changed.wait_until(lock, wake);
      lock.unlock();
      outcome.interrupted = should_abort();
      lock.lock();
    }
    lock.unlock();
  } catch (...) {
    stop_workers();
    throw;
  }
  stop_workers();

  if (shared.out_of_memory) throw OutOfMemory(shared.error);
  if (!shared.error.empty()) throw EngineError(shared.error);
  for (const auto& w : workers) {
    outcome.merged.merge(*w->recorder);
    outcome.warmup_requests += w->warmup_done.load();
  }
  outcome.measured_ns = outcome.merged.last_completion_ns();
  return outcome;
}

}  // namespace infermeter
