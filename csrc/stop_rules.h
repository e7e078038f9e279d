// The stop rules (the interface is infermeter/stop_rule.h): a duration, a
// request count, any of several, and the statistical rule.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "infermeter/histogram.h"
#include "infermeter/stop_rule.h"

namespace infermeter {

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
  double half_width_rel;  // of throughput and of the percentile, at 95%
  double percentile;      // the latency percentile that must be known
  double min_duration_s;
  double max_duration_s;
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
