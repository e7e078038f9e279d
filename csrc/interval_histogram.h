// A worker's latencies, readable by the coordinator while the worker runs,
// without a lock: the worker records into one of two histograms and, when the
// coordinator asks, switches to the other at its next record; the coordinator
// then takes the one left behind (HdrHistogram's interval Recorder, for one
// writer and one reader). A worker busy with a long request simply hands over
// at its next record.
#pragma once

#include <atomic>
#include <cstdint>

#include "infermeter/histogram.h"

namespace infermeter {

class IntervalHistogram {
 public:
  // On the worker.
  void record(int64_t value) noexcept {
    const uint64_t asked = requested_.load(std::memory_order_acquire);
    if (asked != switched_) {
      switched_ = asked;
      served_.store(asked, std::memory_order_release);
    }
    buffers_[switched_ % 2].record(value);
  }

  // On the coordinator: adds what the worker recorded since the last take to
  // `into` and asks for the next switch; false (nothing taken) while the
  // worker has not switched yet.
  bool take_into(Histogram& into) {
    const uint64_t asked = requested_.load(std::memory_order_relaxed);
    if (served_.load(std::memory_order_acquire) != asked) return false;
    Histogram& left = buffers_[(asked + 1) % 2];
    into.merge(left);
    left.reset();
    requested_.store(asked + 1, std::memory_order_release);
    return true;
  }

 private:
  Histogram buffers_[2];
  uint64_t switched_ = 0;  // worker's own: the last switch it made
  std::atomic<uint64_t> requested_{0};
  std::atomic<uint64_t> served_{0};
};

}  // namespace infermeter
