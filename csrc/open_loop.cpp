#include "open_loop.h"

#include <algorithm>
#include <thread>

#include "clock.h"

namespace infermeter {

namespace {

// Closer than this to the due time, a worker spins: the scheduler's wake-up
// after a sleep is late by up to about 100 us on a VM, and a 100 us window let
// that lateness add 31% to M/D/1 queue waits (docs/open-loop.md). The cost:
// each idle worker due within the window holds a core, which at high rates
// on a CPU device is taken from the model's own threads.
constexpr int64_t kSpinNs = 1'000'000;
// A sleeping worker wakes at least this often to see a stop.
constexpr int64_t kLongestSleepNs = 10'000'000;

const char* process_name(ArrivalProcess p) { return p == ArrivalProcess::kPoisson ? "poisson" : "constant"; }

}  // namespace

void wait_until(int64_t due_ns, const std::atomic<bool>& stopping) noexcept {
  for (;;) {
    const int64_t left = due_ns - now_ns();
    if (left <= 0 || stopping.load(std::memory_order_relaxed)) return;
    if (left > 2 * kSpinNs)
      std::this_thread::sleep_for(std::chrono::nanoseconds(std::min(left - kSpinNs, kLongestSleepNs)));
  }
}

OpenLoop::OpenLoop(ArrivalProcess process, double rate_per_s, uint64_t seed, int64_t horizon_ns,
                   int64_t max_requests)
    : process_(process),
      rate_per_s_(rate_per_s),
      seed_(seed),
      offsets_(arrival_offsets_until(process, rate_per_s, horizon_ns, seed, max_requests)) {}

std::optional<int64_t> OpenLoop::next_due(const std::atomic<bool>& stopping) noexcept {
  const size_t i = next_.fetch_add(1, std::memory_order_relaxed);
  if (i >= offsets_.size()) return std::nullopt;
  const int64_t due = start_ns_ + offsets_[i];
  wait_until(due, stopping);
  if (stopping.load(std::memory_order_relaxed)) return std::nullopt;
  return due;
}

nlohmann::json OpenLoop::describe(int64_t end_ns) const {
  const auto due = std::upper_bound(offsets_.begin(), offsets_.end(), end_ns - start_ns_) - offsets_.begin();
  return {{"kind", "open"},
          {"arrival", process_name(process_)},
          {"offered_rate_per_s", rate_per_s_},
          {"seed", seed_},
          {"scheduled", offsets_.size()},
          {"arrived", static_cast<int64_t>(due)}};
}

}  // namespace infermeter
