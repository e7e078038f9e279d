// What decides when measuring stops: a duration, a request count, or both
// (whichever comes first).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

namespace infermeter {

class StopRule {
 public:
  StopRule(std::optional<double> duration_s, std::optional<int64_t> requests)
      : duration_ns_(duration_s ? std::optional<int64_t>(static_cast<int64_t>(*duration_s * 1e9)) : std::nullopt),
        requests_(requests) {}

  // A worker takes a ticket before each measured request; false means the
  // request budget is spent and the worker should stop.
  bool claim_request() noexcept {
    return !requests_ || issued_.fetch_add(1, std::memory_order_relaxed) < *requests_;
  }
  // Measurement end by time, relative to its start; nullopt when unlimited.
  std::optional<int64_t> duration_ns() const { return duration_ns_; }

 private:
  std::optional<int64_t> duration_ns_;
  std::optional<int64_t> requests_;
  std::atomic<int64_t> issued_{0};
};

}  // namespace infermeter
