#include "open_loop.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
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
// An open loop's arrivals are drawn in advance, 8 bytes each.
constexpr double kMaxArrivals = 2e7;

const char* process_name(ArrivalProcess p) { return p == ArrivalProcess::kPoisson ? "poisson" : "constant"; }

}  // namespace

void check_arrivals(const RunConfig& c, const std::string& load) {
  if (!c.rate_per_s) throw std::invalid_argument("load " + load + " needs a rate: the mean arrival rate, requests/s");
  double arrivals = *c.rate_per_s * static_cast<double>(arrival_horizon_ns(c)) / 1e9;
  if (c.requests) arrivals = std::min(arrivals, static_cast<double>(*c.requests));
  if (arrivals > kMaxArrivals)
    throw std::invalid_argument("an open loop at " + std::to_string(*c.rate_per_s) +
                                " requests/s for this run draws more than 2e7 arrivals in advance; shorten the "
                                "duration or give a request count");
}

namespace {

std::string summary_line(const nlohmann::json& l) {
  char text[512];
  std::snprintf(text, sizeof text,
                "load         open loop, %s arrivals at %.1f/s offered; achieved %.1f/s, %lld queued at end, %s\n",
                l.value("arrival", "?").c_str(), l.at("offered_rate_per_s").get<double>(),
                l.at("achieved_rate_per_s").get<double>(), l.at("queued_at_end").get<long long>(),
                l.at("sustained").get<bool>() ? "sustained" : "NOT sustained (the workers fell behind)");
  return text;
}

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
      offsets_(arrival_offsets_until(process, rate_per_s, horizon_ns, seed, max_requests)),
      horizon_ns_(horizon_ns) {
  capped_ = max_requests > 0 && static_cast<int64_t>(offsets_.size()) == max_requests;
}

std::optional<Dispatch> OpenLoop::next(const std::atomic<bool>& stopping) noexcept {
  const size_t i = next_.fetch_add(1, std::memory_order_relaxed);
  if (i >= offsets_.size()) return std::nullopt;
  const int64_t due = start_ns_ + offsets_[i];
  wait_until(due, stopping);
  if (stopping.load(std::memory_order_relaxed)) return std::nullopt;
  return Dispatch{.requests = 1, .base_ns = start_ns_, .offsets_ns = &offsets_[i], .event_ns = due};
}

int64_t OpenLoop::due_by(int64_t offset_ns) const {
  const auto drawn = std::upper_bound(offsets_.begin(), offsets_.end(), offset_ns) - offsets_.begin();
  if (!capped_ || drawn < static_cast<int64_t>(offsets_.size())) return drawn;
  // The cap may have cut the schedule before `offset_ns`: the same schedule,
  // drawn on, but never past its horizon (a cap equal to the schedule's own
  // length cut nothing).
  ArrivalSchedule schedule(process_, rate_per_s_, seed_);
  int64_t count = 0;
  for (int64_t t = schedule.next(); t <= offset_ns && t < horizon_ns_; t = schedule.next()) ++count;
  return count;
}

double OpenLoop::requests_per_s(const Recorded& r) const {
  int64_t span = std::max(r.stopped_ns, r.last_completion_ns);
  // A schedule offered whole (its last arrival due before the stop, no cap
  // cutting it) spans its horizon, however early its last arrival came: 2
  // arrivals in a 1 s run are 2/s, not 2 over the 0.5 s up to the last one.
  const bool offered_whole = !capped_ && (offsets_.empty() || r.stopped_ns >= offsets_.back());
  if (offered_whole) span = std::max(span, horizon_ns_);
  return span > 0 ? static_cast<double>(r.requests) * 1e9 / static_cast<double>(span) : 0.0;
}

nlohmann::json OpenLoop::describe(const Recorded& r) const {
  const int64_t arrived = due_by(r.stopped_ns);
  const double served =
      arrived > 0 ? std::min(1.0, static_cast<double>(r.requests) / static_cast<double>(arrived)) : 1.0;
  return {{"kind", "open"},
          {"arrival", process_name(process_)},
          {"offered_rate_per_s", rate_per_s_},
          {"seed", seed_},
          {"scheduled", offsets_.size()},
          {"arrived", arrived},
          {"achieved_rate_per_s", requests_per_s(r)},
          {"queued_at_end", std::max<int64_t>(0, arrived - r.requests)},
          {"served_fraction", served},
          // The workers kept up when they served (nearly) every arrival of the
          // measured span; judged against what arrived, not the nominal rate,
          // so that a Poisson schedule's own variation does not count against them.
          {"sustained", served >= kSustainedShare}};
}

LoadKind open_loop_kind() {
  return {"open", [](const RunConfig& c) { check_arrivals(c, "open"); },
          [](const RunConfig& c) -> std::unique_ptr<LoadGenerator> {
            return std::make_unique<OpenLoop>(parse_arrival_process(c.arrival), *c.rate_per_s, c.seed,
                                              arrival_horizon_ns(c), c.requests.value_or(0));
          },
          summary_line};
}

}  // namespace infermeter
