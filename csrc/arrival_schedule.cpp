#include "arrival_schedule.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace infermeter {

namespace {

// Offsets past int64's range (a tiny rate, or a Poisson schedule run for
// centuries) read as "never", so a caller's horizon ends the schedule.
int64_t offset_ns(double ns) {
  constexpr double kNever = static_cast<double>(std::numeric_limits<int64_t>::max());
  return ns >= kNever ? std::numeric_limits<int64_t>::max() : std::llround(ns);
}

}  // namespace

ArrivalProcess parse_arrival_process(const std::string& name) {
  if (name == "constant") return ArrivalProcess::kConstant;
  if (name == "poisson") return ArrivalProcess::kPoisson;
  throw std::invalid_argument("arrival process must be 'constant' or 'poisson', got '" + name + "'");
}

ArrivalSchedule::ArrivalSchedule(ArrivalProcess process, double rate_per_s, uint64_t seed)
    : process_(process), rate_per_s_(rate_per_s), engine_(seed) {
  if (!(rate_per_s > 0.0) || !std::isfinite(rate_per_s))
    throw std::invalid_argument("arrival rate must be a positive number of requests per second, got " +
                                std::to_string(rate_per_s));
}

int64_t ArrivalSchedule::next() {
  if (process_ == ArrivalProcess::kConstant) {
    // From the index rather than by adding gaps, so rounding never drifts.
    return offset_ns(static_cast<double>(index_++) * 1e9 / rate_per_s_);
  }
  // 53 random bits give u uniform in [0, 1); -log(1 - u) is then Exp(1).
  const double u = static_cast<double>(engine_() >> 11) * 0x1.0p-53;
  elapsed_ns_ += -std::log1p(-u) * 1e9 / rate_per_s_;
  return offset_ns(elapsed_ns_);
}

std::vector<int64_t> arrival_offsets(ArrivalProcess process, double rate_per_s, int64_t count, uint64_t seed) {
  if (count < 0) throw std::invalid_argument("arrival count must be >= 0, got " + std::to_string(count));
  ArrivalSchedule schedule(process, rate_per_s, seed);
  std::vector<int64_t> offsets(static_cast<size_t>(count));
  for (auto& offset : offsets) offset = schedule.next();
  return offsets;
}

std::vector<int64_t> arrival_offsets_until(ArrivalProcess process, double rate_per_s, int64_t horizon_ns,
                                           uint64_t seed, int64_t max_count) {
  if (horizon_ns < 0) throw std::invalid_argument("arrival horizon must be >= 0 ns, got " + std::to_string(horizon_ns));
  ArrivalSchedule schedule(process, rate_per_s, seed);
  std::vector<int64_t> offsets;
  for (int64_t t = schedule.next(); t < horizon_ns; t = schedule.next()) {
    if (max_count > 0 && static_cast<int64_t>(offsets.size()) >= max_count) break;
    offsets.push_back(t);
  }
  return offsets;
}

}  // namespace infermeter
