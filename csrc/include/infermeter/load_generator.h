// Public: what generates load, and the registry that picks one by name (the
// `load` option). The worker pool issues requests; a load generator only says
// when each is due and which go together, and how its throughput and its
// section of the result are stated. A new load is a class plus one line in
// load_registry.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "infermeter/run_config.h"

namespace infermeter {

struct BatchStats;

// What a worker computes next: one request, or a batch of them that a
// batching load formed, oldest first.
struct Dispatch {
  int64_t requests = 1;
  int64_t base_ns = 0;  // the schedule's start (steady clock)
  // Each request's due time from base_ns, oldest first; null when the load
  // does not schedule ahead (a closed loop).
  const int64_t* offsets_ns = nullptr;
  // When the load's rule let it go (steady clock): an open-loop request's due
  // time; a batcher's moment of a full batch or of the oldest's deadline.
  int64_t event_ns = 0;
  int64_t due_ns(int64_t j) const { return base_ns + offsets_ns[j]; }
};

// What the workers recorded, as a load reads it to state its figures.
struct Recorded {
  int64_t requests = 0;            // measured requests completed
  int64_t last_completion_ns = 0;  // offset from the measurement start
  int64_t stopped_ns = 0;          // when the stop was decided, offset from the measurement start
  // Sum over workers of each one's completions over its own busy span
  // (first measured issue to last completion).
  double worker_rate_sum_per_s = 0;
  const BatchStats* batches = nullptr;  // a batching load's batches; null for the others
};

class LoadGenerator {
 public:
  virtual ~LoadGenerator() = default;
  // On the coordinator, the moment measuring begins (steady clock, ns).
  virtual void start(int64_t start_ns) {}
  // On a free worker before each measured dispatch: waits until the next
  // request (or batch) may be issued and returns it; nullopt when the load has
  // no more requests, or `stopping` turned true while waiting. Must not
  // allocate or throw; only a batching load's one queue may be contended.
  virtual std::optional<Dispatch> next(const std::atomic<bool>& stopping) noexcept = 0;
  // Whether requests are scheduled ahead of being issued, so that response
  // time and queue wait are measured from the schedule.
  virtual bool schedules_ahead() const = 0;
  // The most items a dispatch holds when the load batches requests (the
  // runner then computes batches of varying size); 0: each dispatch is one
  // request at the runner's own batch.
  virtual int64_t max_batch_items() const { return 0; }
  // Requests per second by this load's one definition of throughput, and
  // that definition in words, for the result.
  virtual double requests_per_s(const Recorded& recorded) const = 0;
  virtual std::string throughput_estimator() const = 0;
  // The load's section of the result: what was offered and what the
  // workers achieved of it. Its "kind" is the load's registered name.
  virtual nlohmann::json describe(const Recorded& recorded) const = 0;
};

// Each worker issues its next request as soon as its last one completes:
// nothing is scheduled, so nothing is waited for or timed here. A
// closed-loop worker is never idle between its first measured issue and its
// last completion, so the sum of each worker's rate over its own span has
// no bias from the warm-up requests in flight at the start or from the drain
// at the end.
class ClosedLoop : public LoadGenerator {
 public:
  std::optional<Dispatch> next(const std::atomic<bool>&) noexcept override { return Dispatch{}; }
  bool schedules_ahead() const override { return false; }
  double requests_per_s(const Recorded& recorded) const override { return recorded.worker_rate_sum_per_s; }
  std::string throughput_estimator() const override {
    return "sum over workers of completions / (first measured issue to last completion)";
  }
  nlohmann::json describe(const Recorded&) const override { return {{"kind", "closed"}}; }
};

// A load by name.
struct LoadKind {
  std::string name;
  // The rules its options must meet together, std::invalid_argument otherwise.
  std::function<void(const RunConfig&)> check;
  std::function<std::unique_ptr<LoadGenerator>(const RunConfig&)> make;
  // Its line in the console summary, from its section of a result document
  // (LoadGenerator::describe); empty: nothing to add.
  std::function<std::string(const nlohmann::json& load)> summary_line;
};

// In the order help texts list them, the default first.
const std::vector<LoadKind>& load_kinds();
std::vector<std::string> load_names();
// std::invalid_argument naming the known loads, unless `name` is one.
const LoadKind& load_kind(const std::string& name);

}  // namespace infermeter
