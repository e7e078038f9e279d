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
#include "load_generator.h"

namespace infermeter {

class OpenLoop : public LoadGenerator {
 public:
  // Arrivals at `rate_per_s` until `horizon_ns` after the start, at most
  // `max_requests` of them (0: no cap).
  OpenLoop(ArrivalProcess process, double rate_per_s, uint64_t seed, int64_t horizon_ns, int64_t max_requests);

  void start(int64_t start_ns) override { start_ns_ = start_ns; }
  std::optional<int64_t> next_due(const std::atomic<bool>& stopping) noexcept override;
  bool schedules_ahead() const override { return true; }
  // The offered load, and how many arrivals were due before `end_ns`.
  nlohmann::json describe(int64_t end_ns) const override;

 private:
  ArrivalProcess process_;
  double rate_per_s_;
  uint64_t seed_;
  std::vector<int64_t> offsets_;  // ns from the start, ascending
  int64_t start_ns_ = 0;
  std::atomic<size_t> next_{0};  // the next arrival a free worker takes
};

// Waits until the steady clock reaches `due_ns` or `stopping` turns true:
// sleeps while the wait is long, then spins for the last stretch, so an idle
// worker issues within a microsecond of the due time without holding a core
// for the whole gap.
void wait_until(int64_t due_ns, const std::atomic<bool>& stopping) noexcept;

}  // namespace infermeter
