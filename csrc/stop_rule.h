// What decides when measuring stops. Workers take a ticket before each
// measured request (cheap, lock-free); the coordinator asks the rule a few
// times a second whether the run has its answer, from the progress so far.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "histogram.h"

namespace infermeter {

// What the coordinator knows at a check, without stopping the workers.
struct Progress {
  int64_t elapsed_ns = 0;  // since measuring began
  int64_t completed = 0;   // measured requests completed so far
  // Completions in each window that has ended, from the measurement start;
  // filled only for rules that ask (wants_progress).
  std::vector<int64_t> windows;
  double window_s = 0.1;
  // The latency the rule judges (response time in an open loop, host latency
  // in a closed one), every measured request so far; likewise.
  const Histogram* target = nullptr;
};

class StopRule {
 public:
  virtual ~StopRule() = default;
  // Before each measured request, on the worker's thread: false means the rule
  // allows no more requests and the worker should stop issuing.
  virtual bool claim_request() noexcept { return true; }
  // A few times a second, on the coordinator: the reason to stop now, if any.
  virtual std::optional<std::string> check(const Progress& progress) = 0;
  // When the next check is due at the latest (since measuring began), so a
  // deadline is met to the millisecond; nullopt: no deadline.
  virtual std::optional<int64_t> deadline_ns() const { return std::nullopt; }
  // The reason to give when every worker stopped issuing (claims refused).
  virtual std::string exhausted_reason() const { return "request budget spent"; }
  // Whether check() reads Progress's windows and target histogram, which
  // the workers then record for it.
  virtual bool wants_progress() const { return false; }
  // The rule, for the result.
  virtual nlohmann::json describe() const = 0;
};

// Stops once `duration_s` has passed since measuring began.
class DurationRule : public StopRule {
 public:
  explicit DurationRule(double duration_s);
  std::optional<std::string> check(const Progress& progress) override;
  std::optional<int64_t> deadline_ns() const override { return duration_ns_; }
  nlohmann::json describe() const override;

 private:
  int64_t duration_ns_;
};

// Hands out exactly `requests` tickets.
class RequestCountRule : public StopRule {
 public:
  explicit RequestCountRule(int64_t requests) : requests_(requests) {}
  bool claim_request() noexcept override {
    return issued_.fetch_add(1, std::memory_order_relaxed) < requests_;
  }
  std::optional<std::string> check(const Progress&) override { return std::nullopt; }
  nlohmann::json describe() const override;

 private:
  int64_t requests_;
  std::atomic<int64_t> issued_{0};
};

// Stops when any of its rules would.
class AnyOfRule : public StopRule {
 public:
  explicit AnyOfRule(std::vector<std::unique_ptr<StopRule>> rules) : rules_(std::move(rules)) {}
  bool claim_request() noexcept override;
  std::optional<std::string> check(const Progress& progress) override;
  std::optional<int64_t> deadline_ns() const override;
  bool wants_progress() const override;
  nlohmann::json describe() const override;

 private:
  std::vector<std::unique_ptr<StopRule>> rules_;
};

// What a statistical stop aims for.
struct ConfidenceTarget {
  double half_width_rel = 0.02;  // of throughput and of the percentile, at 95%
  double percentile = 99.0;      // the latency percentile that must be known
  double min_duration_s = 1.0;
  double max_duration_s = 60.0;
};

// Stops once both the throughput (batch means over the completion windows)
// and the target percentile (an order-statistics binomial interval, as
// LoadGen's early stopping uses) are known to within +-half_width_rel at 95%,
// between the minimum and maximum durations. The minimum request count is the
// one the percentile's two-sided interval needs to exist at all (about 300
// for p99, 3000 for p99.9), below which it is never judged known.
class ConfidenceRule : public StopRule {
 public:
  explicit ConfidenceRule(ConfidenceTarget target);
  std::optional<std::string> check(const Progress& progress) override;
  std::optional<int64_t> deadline_ns() const override;
  bool wants_progress() const override { return true; }
  // The target, whether it converged, the widths at the last check and, if
  // it did not converge, about how many requests it would have needed.
  nlohmann::json describe() const override;

 private:
  struct Estimate {
    std::optional<double> throughput_rel;  // half width / rate; unset while too few windows
    std::optional<double> percentile_rel;  // the wider side of the interval / the percentile
    int64_t requests = 0;
  };
  Estimate estimate(const Progress& progress) const;
  // Requests for both widths to reach the target, from how they shrink (as 1 / sqrt(n)).
  std::optional<int64_t> requests_needed(const Estimate& e) const;

  ConfidenceTarget target_;
  Estimate last_;
  bool converged_ = false;
};

}  // namespace infermeter
