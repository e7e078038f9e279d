// What generates load: when each measured request is due. The worker pool
// (worker_pool.h) issues requests; a load generator only says when.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

namespace infermeter {

class LoadGenerator {
 public:
  virtual ~LoadGenerator() = default;
  // On the coordinator, the moment measuring begins (steady clock, ns).
  virtual void start(int64_t start_ns) {}
  // On a worker before each measured request: waits until the next request is
  // due and returns when it was scheduled (read only when schedules_ahead());
  // nullopt when the load has no more requests, or `stopping` turned true
  // while waiting.
  virtual std::optional<int64_t> next_due(const std::atomic<bool>& stopping) noexcept = 0;
  // Whether requests are scheduled ahead of being issued, so that response
  // time and queue wait are measured from the schedule.
  virtual bool schedules_ahead() const = 0;
  // The load, and what it achieved, for the result; `end_ns` is when
  // measuring stopped.
  virtual nlohmann::json describe(int64_t end_ns) const = 0;
};

// Each worker issues its next request as soon as its last one completes:
// nothing is scheduled, so nothing is waited for or timed here.
class ClosedLoop : public LoadGenerator {
 public:
  std::optional<int64_t> next_due(const std::atomic<bool>&) noexcept override { return 0; }
  bool schedules_ahead() const override { return false; }
  nlohmann::json describe(int64_t) const override { return {{"kind", "closed"}}; }
};

}  // namespace infermeter
