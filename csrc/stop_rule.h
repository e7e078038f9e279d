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

namespace infermeter {

// What the coordinator knows at a check, without stopping the workers.
struct Progress {
  int64_t elapsed_ns = 0;   // since measuring began
  int64_t completed = 0;    // measured requests completed so far
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
  nlohmann::json describe() const override;

 private:
  std::vector<std::unique_ptr<StopRule>> rules_;
};

}  // namespace infermeter
