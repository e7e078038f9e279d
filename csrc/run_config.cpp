#include "infermeter/run_config.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <thread>

#include "infermeter/load_generator.h"
#include "statistics.h"

namespace infermeter {

namespace {

// Completion windows are preallocated per worker for the whole run, so their
// count is bounded: a window far below the duration would cost gigabytes.
constexpr double kMaxWindows = 1e6;
// An open loop's arrivals are drawn in advance, 8 bytes each.
constexpr double kMaxArrivals = 2e7;
// CUDA workers each need a stream of their own, from c10's pool of 32 per
// device: a 33rd would share the first's and mix their device times.
constexpr int kMaxCudaThreads = 32;

// The longest a run can last: its duration plus a minute for stragglers, or
// an hour when only a request count ends it.
double horizon_s(const RunConfig& config) { return config.duration_s ? *config.duration_s + 60.0 : 3600.0; }

}  // namespace

void validate(const RunConfig& config) {
  if (config.model_path.empty()) throw std::invalid_argument("model path is empty");
  if (config.device.rfind("cuda", 0) == 0 && config.threads > kMaxCudaThreads)
    throw std::invalid_argument("threads must be at most " + std::to_string(kMaxCudaThreads) +
                                " on a CUDA device (one stream each from c10's pool), got " +
                                std::to_string(config.threads));
  if (!config.duration_s && !config.requests)
    throw std::invalid_argument("give a duration, a request count, or both, so that the run ends");
  const double horizon = horizon_s(config);
  if (horizon / config.window_s > kMaxWindows)
    throw std::invalid_argument("window " + std::to_string(config.window_s) + " s is too small for a run of up to " +
                                std::to_string(horizon) + " s (at most 1e6 windows; use a window of at least " +
                                std::to_string(horizon / kMaxWindows) + " s)");
  if (config.ci) {
    if (!config.duration_s) throw std::invalid_argument("ci needs a duration: the most the run may take");
    if (config.min_duration_s > *config.duration_s)
      throw std::invalid_argument("min_duration must be between 0 and the duration (the maximum), got " +
                                  std::to_string(config.min_duration_s));
    // Throughput's interval needs whole windows after the first (statistics.h).
    const double needed_s = static_cast<double>(kMinRateWindows + 1) * config.window_s;
    // A relative slack: 6 * 0.1 is 0.6000000000000001 in floating point, and
    // a duration of 0.6 s does end six 0.1 s windows.
    if (*config.duration_s < needed_s * (1 - 1e-9))
      throw std::invalid_argument("ci needs a duration of at least " + std::to_string(needed_s) + " s (" +
                                  std::to_string(kMinRateWindows + 1) + " windows of " +
                                  std::to_string(config.window_s) + " s) to estimate throughput's interval, got " +
                                  std::to_string(*config.duration_s));
  }
  load_kind(config.load).check(config);
}

int64_t arrival_horizon_ns(const RunConfig& config) {
  return static_cast<int64_t>((config.duration_s ? *config.duration_s : 3600.0) * 1e9);
}

size_t window_count(const RunConfig& config) {
  return static_cast<size_t>(std::ceil(horizon_s(config) / config.window_s)) + 1;
}

int intra_op_threads_for(const RunConfig& config) {
  if (config.intra_op_threads) return *config.intra_op_threads;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / config.threads);
}

}  // namespace infermeter
