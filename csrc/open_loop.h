// The open loop: requests arrive on a schedule drawn in advance (constant
// spacing or Poisson, MLPerf LoadGen's Server scenario), whether or not the
// workers have finished the last ones. A free worker takes the next arrival
// in order; when every worker is busy, arrivals wait in that order, and the
// time they wait is measured from when they were due, so queueing delay is
// never hidden (no coordinated omission).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "arrival_schedule.h"
#include "infermeter/load_generator.h"

namespace infermeter {

class OpenLoop : public LoadGenerator {
 public:
  // Arrivals at `rate_per_s` until `horizon_ns` after the start, at most
  // `max_requests` of them (0: no cap).
  OpenLoop(ArrivalProcess process, double rate_per_s, uint64_t seed, int64_t horizon_ns, int64_t max_requests);

  void start(int64_t start_ns) override { start_ns_ = start_ns; }
  std::optional<Dispatch> next(const std::atomic<bool>& stopping) noexcept override;
  bool schedules_ahead() const override { return true; }
  // Completions over the schedule's span: from its start to the later of
  // the stop and the last completion, and at least to its horizon when the
  // schedule was offered whole (a run that ends on its last few arrivals is
  // not read as a burst of completions).
  double requests_per_s(const Recorded& recorded) const override;
  std::string throughput_estimator() const override {
    return "completions / (schedule start to the later of the stop, the last completion and, when the whole "
           "schedule was offered, its horizon)";
  }
  // The offered load and what the workers made of it. "arrived" counts every
  // arrival of the schedule due before the stop, also those a request cap
  // never let be issued, so that a run cut short by its cap while the
  // workers fell behind is not called sustained.
  nlohmann::json describe(const Recorded& recorded) const override;

 protected:
  // Arrivals of the uncapped schedule due at or before `offset_ns`.
  int64_t due_by(int64_t offset_ns) const;

  ArrivalProcess process_;
  double rate_per_s_;
  uint64_t seed_;
  bool capped_;
  std::vector<int64_t> offsets_;  // ns from the start, ascending
  int64_t horizon_ns_;
  int64_t start_ns_ = 0;
  std::atomic<size_t> next_{0};  // the next arrival a free worker takes
};

// An open loop's arrival options, checked (a rate, and no more arrivals than
// can be drawn in advance).
void check_arrivals(const RunConfig& config, const std::string& load);

// Waits until the steady clock reaches `due_ns` or `stopping` turns true:
// sleeps while the wait is long, then spins for the last stretch, so an idle
// worker issues within a microsecond of the due time without holding a core
// for the whole gap.
void wait_until(int64_t due_ns, const std::atomic<bool>& stopping) noexcept;

// An open loop sustained its rate when it served at least this share of the
// requests that arrived while measuring.
inline constexpr double kSustainedShare = 0.99;

// The open load's registry entry (load_registry.cpp).
LoadKind open_loop_kind();

}  // namespace infermeter
