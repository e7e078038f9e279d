#include "infermeter/run_config.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <thread>

#include "arrival_schedule.h"
#include "runner_registry.h"
#include "statistics.h"

namespace infermeter {

namespace {

// Completion windows are preallocated per worker for the whole run, so their
// count is bounded: a window far below the duration would cost gigabytes.
constexpr double kMaxWindows = 1e6;
// An open loop's arrivals are drawn in advance, 8 bytes each.
constexpr double kMaxArrivals = 2e7;
// Each worker holds a replica, a thread and about 2 MB of histograms.
constexpr int kMaxThreads = 1024;
// CUDA workers each need a stream of their own, from c10's pool of 32 per
// device: a 33rd would share the first's and mix their device times.
constexpr int kMaxCudaThreads = 32;
// A day: far beyond any measurement, well inside int64 nanoseconds.
constexpr double kMaxSeconds = 86400.0;

void require_seconds(double value, const char* name, bool zero_allowed) {
  if (!std::isfinite(value) || value < 0 || (!zero_allowed && value == 0) || value > kMaxSeconds)
    throw std::invalid_argument(std::string(name) + " must be " + (zero_allowed ? ">= 0" : "> 0") +
                                " seconds and at most a day, got " + std::to_string(value));
}

// The longest a run can last: its duration plus a minute for stragglers, or
// an hour when only a request count ends it.
double horizon_s(const RunConfig& config) { return config.duration_s ? *config.duration_s + 60.0 : 3600.0; }

}  // namespace

void validate(const RunConfig& config) {
  if (config.model_path.empty()) throw std::invalid_argument("model path is empty");
  require_known_runner(config.runner);
  if (config.threads <= 0 || config.threads > kMaxThreads)
    throw std::invalid_argument("threads must be >= 1 and at most " + std::to_string(kMaxThreads) + ", got " +
                                std::to_string(config.threads));
  if (config.device.rfind("cuda", 0) == 0 && config.threads > kMaxCudaThreads)
    throw std::invalid_argument("threads must be at most " + std::to_string(kMaxCudaThreads) +
                                " on a CUDA device (one stream each from c10's pool), got " +
                                std::to_string(config.threads));
  if (config.replicas != "per-thread" && config.replicas != "shared" && config.replicas != "per-thread-load")
    throw std::invalid_argument("replicas must be 'per-thread' or 'shared' (or 'per-thread-load'), got '" +
                                config.replicas + "'");
  if (config.intra_op_threads && *config.intra_op_threads <= 0)
    throw std::invalid_argument("intra_op_threads must be >= 1, got " + std::to_string(*config.intra_op_threads));
  if (config.batch_size && *config.batch_size <= 0)
    throw std::invalid_argument("batch_size must be >= 1, got " + std::to_string(*config.batch_size));
  require_seconds(config.warmup_s, "warmup", true);
  if (config.warmup_min_requests < 0) throw std::invalid_argument("warmup_min_requests must be >= 0");
  if (config.duration_s) require_seconds(*config.duration_s, "duration", false);
  if (config.requests && *config.requests <= 0) throw std::invalid_argument("requests must be >= 1");
  if (!config.duration_s && !config.requests)
    throw std::invalid_argument("give a duration, a request count, or both, so that the run ends");
  require_seconds(config.window_s, "window", false);
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
    // Throughput's interval needs whole windows after the first (statistics.h).
    const double needed_s = static_cast<double>(kMinRateWindows + 1) * config.window_s;
    if (*config.duration_s < needed_s)
      throw std::invalid_argument("ci needs a duration of at least " + std::to_string(needed_s) + " s (" +
                                  std::to_string(kMinRateWindows + 1) + " windows of " +
                                  std::to_string(config.window_s) + " s) to estimate throughput's interval, got " +
                                  std::to_string(*config.duration_s));
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

void apply_default_duration(RunConfig& config) {
  if (config.ci)
    config.duration_s = kMaxCiDurationS;
  else if (config.requests)
    config.duration_s.reset();
  else
    config.duration_s = kFixedDurationS;
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
