// When an open-loop load generator issues each request: arrival offsets in
// nanoseconds from the start of the load, at a mean rate, either evenly
// spaced or as a Poisson process. Deterministic for a seed on every platform
// (std::mt19937_64 is fully specified; std:: distributions are not, so the
// exponential gaps are drawn by inverting their CDF here).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace infermeter {

enum class ArrivalProcess {
  kConstant,  // one arrival every 1 / rate seconds, the first at 0
  kPoisson,   // exponential gaps of mean 1 / rate, the first after one gap
};

// "constant" or "poisson"; anything else is std::invalid_argument.
ArrivalProcess parse_arrival_process(const std::string& name);

// Generates the offsets one at a time; an offset beyond int64's range is
// INT64_MAX.
class ArrivalSchedule {
 public:
  ArrivalSchedule(ArrivalProcess process, double rate_per_s, uint64_t seed = 0);

  // Offset of the next arrival in ns from the start; never decreases.
  int64_t next();

 private:
  ArrivalProcess process_;
  double rate_per_s_;
  std::mt19937_64 engine_;
  int64_t index_ = 0;      // arrivals issued so far (constant spacing)
  double elapsed_ns_ = 0;  // sum of the gaps drawn so far (Poisson)
};

// The first `count` offsets of a schedule.
std::vector<int64_t> arrival_offsets(ArrivalProcess process, double rate_per_s, int64_t count, uint64_t seed = 0);

// Every offset of a schedule before `horizon_ns`, at most `max_count` of them
// (0: no cap).
std::vector<int64_t> arrival_offsets_until(ArrivalProcess process, double rate_per_s, int64_t horizon_ns,
                                           uint64_t seed = 0, int64_t max_count = 0);

}  // namespace infermeter
