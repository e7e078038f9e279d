// Public: what decides when measuring stops, and the registry that builds a
// run's rule from its options. Workers take a ticket before each measured
// request (cheap, lock-free); the coordinator asks the rule a few times a
// second whether the run has its answer, from the progress so far. A new rule
// is a class plus one line in stop_registry.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "infermeter/histogram.h"
#include "infermeter/run_config.h"

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

// A rule by name, and when a run's options call for it.
struct StopKind {
  std::string name;
  std::function<bool(const RunConfig&)> applies;
  std::function<std::unique_ptr<StopRule>(const RunConfig&)> make;
};

const std::vector<StopKind>& stop_kinds();

// The run's rule: the one its options call for, or a rule that stops when
// any of them would.
std::unique_ptr<StopRule> make_stop_rule(const RunConfig& config);

}  // namespace infermeter
