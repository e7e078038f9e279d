// What records: one per worker, so the hot path takes no lock; merged after.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "batch_stats.h"
#include "infermeter/histogram.h"
#include "request_timing.h"

namespace infermeter {

class Recorder {
 public:
  // Completions are counted per window of `window_ns` from the measurement
  // start; completions past the last window land in it.
  // `batch_sizes`: for a batching load, the largest size a batch is computed
  // at (its batches are recorded by size); 0 for the others.
  Recorder(int64_t window_ns, size_t windows, int64_t batch_sizes = 0)
      : window_ns_(window_ns),
        completions_(windows),
        batches_(batch_sizes > 0 ? std::make_unique<BatchStats>(batch_sizes) : nullptr) {}

  // `start_ns`: when measuring began. Records host latency (issue to
  // completion) always; response time and queue wait (from the scheduled
  // time) when the load generator schedules ahead; launch and device time on
  // a GPU.
  void record(const RequestTiming& t, int64_t start_ns, bool scheduled_ahead) noexcept {
    host_.record(t.completed_ns - t.issued_ns);
    if (scheduled_ahead) {
      response_.record(t.completed_ns - t.scheduled_ns);
      queue_wait_.record(t.issued_ns - t.scheduled_ns);
      // The harness's own lateness: from when it could have issued (the load
      // let it go, and a worker was free) to when it did.
      dispatch_.record(t.issued_ns - std::max(t.ready_ns, t.event_ns));
    }
    if (t.device_ns >= 0) {
      launch_.record(t.launched_ns - t.issued_ns);
      device_.record(t.device_ns);
    }
    const int64_t completed_at = t.completed_ns - start_ns;
    const auto w = static_cast<size_t>(std::max<int64_t>(0, completed_at) / window_ns_);
    // Single writer: the coordinator reads the windows while measuring.
    auto& window = completions_[std::min(w, completions_.size() - 1)];
    window.store(window.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (count_ == 0) first_issue_ns_ = t.issued_ns - start_ns;
    if (completed_at > last_completion_ns_) last_completion_ns_ = completed_at;
    // Single writer: a plain increment published for the coordinator's
    // progress checks, with no read-modify-write on the hot path.
    count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  // One batch of a batching load (its requests are record()ed one by one).
  void record_batch(int64_t items, int64_t size, int64_t compute_ns) noexcept {
    batches_->record(items, size, compute_ns);
  }

  // Adds another worker's records; per-worker spans are kept apart for the
  // throughput estimate. Merge only into a recorder that records nothing
  // itself (the engine's merged one): count() and the worker's own span stay
  // this recorder's own recordings, and the merged total is host().total_count().
  void merge(const Recorder& other);

  const Histogram& host() const { return host_; }
  const Histogram& response() const { return response_; }
  const Histogram& queue_wait() const { return queue_wait_; }
  const Histogram& dispatch() const { return dispatch_; }
  const Histogram& launch() const { return launch_; }
  const Histogram& device() const { return device_; }
  // A batching load's batches; null for the others.
  const BatchStats* batches() const { return batches_.get(); }
  // Completions per window; `first` windows from the start (all by default).
  std::vector<int64_t> completions(size_t first = SIZE_MAX) const;
  // Adds this worker's completions to the first counts.size() windows.
  void add_completions_to(std::vector<int64_t>& counts) const;
  int64_t count() const { return count_.load(std::memory_order_relaxed); }
  // Offset from the measurement start of the last completion.
  int64_t last_completion_ns() const { return last_completion_ns_; }
  // Sum over the merged workers of each one's completions over its own busy
  // span (first measured issue to last completion): in a closed loop each
  // worker is never idle over that span, so this rate has no bias from the
  // warm-up requests in flight at the start or from the drain at the end.
  double worker_rate_sum_per_s() const { return rate_sum_per_s_ + own_rate_per_s(); }

 private:
  double own_rate_per_s() const;

  int64_t window_ns_;
  Histogram host_;
  Histogram response_;
  Histogram queue_wait_;
  Histogram dispatch_;
  Histogram launch_;
  Histogram device_;
  std::vector<std::atomic<int64_t>> completions_;
  std::atomic<int64_t> count_{0};
  int64_t first_issue_ns_ = 0;
  int64_t last_completion_ns_ = 0;
  double rate_sum_per_s_ = 0;  // of the workers merged in
  std::unique_ptr<BatchStats> batches_;
};

}  // namespace infermeter
