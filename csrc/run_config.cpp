#include "infermeter/run_config.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <thread>

#include "arrival_schedule.h"
#include "runner_registry.h"

namespace infermeter {

namespace {

// Completion windows are preallocated per worker for the whole run, so their
// count is bounded: a window far below the duration would cost gigabytes.
constexpr double kMaxWindows = 1e6;
// An open loop's arrivals are drawn in advance, 8 bytes each.
constexpr double kMaxArrivals = 2e7;

// The longest a run can last: its duration plus a minute for stragglers, or
// an hour when only a request count ends it.
double horizon_s(const RunConfig& config) { return config.duration_s ? *config.duration_s + 60.0 : 3600.0; }

}  // namespace

void validate(const RunConfig& config) {
  if (config.model_path.empty()) throw std::invalid_argument("model path is empty");
  const auto runners = runner_names();
  if (std::find(runners.begin(), runners.end(), config.runner) == runners.end()) {
    std::string known;
    for (const auto& name : runners) known += (known.empty() ? "" : ", ") + name;
    throw std::invalid_argument("unknown runner '" + config.runner + "' (known: " + known + ")");
  }
  if (config.threads <= 0) throw std::invalid_argument("threads must be >= 1, got " + std::to_string(config.threads));
  if (config.replicas != "per-thread" && config.replicas != "shared" && config.replicas != "per-thread-load")
    throw std::invalid_argument("replicas must be 'per-thread' or 'shared' (or 'per-thread-load'), got '" +
                                config.replicas + "'");
  if (config.intra_op_threads && *config.intra_op_threads <= 0)
    throw std::invalid_argument("intra_op_threads must be >= 1, got " + std::to_string(*config.intra_op_threads));
  if (config.batch_size && *config.batch_size <= 0)
    throw std::invalid_argument("batch_size must be >= 1, got " + std::to_string(*config.batch_size));
  if (!(config.warmup_s >= 0)) throw std::invalid_argument("warmup must be >= 0 seconds");
  if (config.warmup_min_requests < 0) throw std::invalid_argument("warmup_min_requests must be >= 0");
  if (config.duration_s && !(*config.duration_s > 0)) throw std::invalid_argument("duration must be > 0 seconds");
  if (config.requests && *config.requests <= 0) throw std::invalid_argument("requests must be >= 1");
  if (!config.duration_s && !config.requests)
    throw std::invalid_argument("give a duration, a request count, or both, so that the run ends");
  if (!(config.window_s > 0)) throw std::invalid_argument("window must be > 0 seconds");
  const double horizon = horizon_s(config);
  if (horizon / config.window_s > kMaxWindows)
    throw std::invalid_argument("window " + std::to_string(config.window_s) + " s is too small for a run of up to " +
                                std::to_string(horizon) + " s (at most 1e6 windows; use a window of at least " +
                                std::to_string(horizon / kMaxWindows) + " s)");
  (void)parse_arrival_process(config.arrival);
  if (config.ci) {
    if (!config.duration_s) throw std::invalid_argument("ci needs a duration: the most the run may take");
    if (!(*config.ci > 0 && *config.ci < 1))
      throw std::invalid_argument("ci must be a relative half width between 0 and 1 (0.02 for +-2%), got " +
                                  std::to_string(*config.ci));
    if (!(config.ci_percentile > 0 && config.ci_percentile < 100))
      throw std::invalid_argument("ci_percentile must be between 0 and 100, got " +
                                  std::to_string(config.ci_percentile));
    if (!(config.min_duration_s >= 0 && config.min_duration_s <= *config.duration_s))
      throw std::invalid_argument("min_duration must be between 0 and the duration (the maximum), got " +
                                  std::to_string(config.min_duration_s));
  }
  if (config.rate_per_s) {
    if (!(*config.rate_per_s > 0) || !std::isfinite(*config.rate_per_s))
      throw std::invalid_argument("rate must be a positive number of requests per second, got " +
                                  std::to_string(*config.rate_per_s));
    double arrivals = *config.rate_per_s * static_cast<double>(arrival_horizon_ns(config)) / 1e9;
    if (config.requests) arrivals = std::min(arrivals, static_cast<double>(*config.requests));
    if (arrivals > kMaxArrivals)
      throw std::invalid_argument("an open loop at " + std::to_string(*config.rate_per_s) +
                                  " requests/s for this run draws more than 2e7 arrivals in advance; shorten the "
                                  "duration or give a request count");
  }
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
