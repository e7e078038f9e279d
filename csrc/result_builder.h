// The one place the result document (schema infermeter.result/1) is built,
// for the engine, the binary and timings measured elsewhere alike.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "infermeter/load_generator.h"
#include "infermeter/run_config.h"
#include "recorder.h"

namespace infermeter {

inline constexpr const char* kResultSchema = "infermeter.result/1";
// The latency percentiles every summary states, under these keys.
inline constexpr std::pair<const char*, double> kPercentiles[] = {
    {"p50_ns", 50}, {"p90_ns", 90}, {"p95_ns", 95}, {"p99_ns", 99}, {"p99_9_ns", 99.9}};
// Launch time at or above this share of host latency (p50) means the CPU
// issuing kernels, not the GPU, sets a request's speed.
inline constexpr double kLaunchBoundShare = 0.9;

// What a run measured, whoever ran it.
struct RunRecord {
  const Recorder* merged = nullptr;  // every worker's records, merged
  const LoadGenerator* load = nullptr;
  int64_t batch_size = 1;
  int64_t warmup_requests = 0;
  int64_t stopped_ns = 0;  // when the stop was decided, from the measurement start
  double start_epoch_s = 0;  // wall-clock time when measuring began (0: not known)
  bool interrupted = false;
  std::string stop_reason;
  nlohmann::json stop_rule;  // StopRule::describe()
  int intra_op_threads = 1;
  nlohmann::json memory;  // ResourceMeter::memory() and the static bound; null when not metered
  nlohmann::json energy;  // ResourceMeter::energy(); null when not metered
};

// `environment` is describe_environment()'s, with the front end's own facts
// (its name under "front_end": python, infermeter-bench) merged in.
nlohmann::json build_result(const RunConfig& config, const nlohmann::json& model, const RunRecord& run,
                            const nlohmann::json& calibration, const nlohmann::json& environment);

// Every interval a result states is two-sided at this confidence, and says
// which kind it is: within one run (batch means, order statistics), or across
// repeated runs (a t interval for their mean, taking in how runs differ).
inline constexpr double kConfidence = 0.95;
inline constexpr const char* kWithinRun = "within-run";
inline constexpr const char* kAcrossRuns = "across-runs";
// The isolation of repeats that `repeat` makes: each run a fresh process, one
// after another (a sweep's rounds and merge --rounds say their own).
inline constexpr const char* kBackToBack = "fresh processes, back to back";

// K runs of one configuration as one document: the run of median
// throughput, with every run's figures and their agreement under "repeats"
// (repeats.h). With two runs or more, its throughput interval and the
// judged latency's percentile intervals are the across-run ones (the mean's
// t interval; the reported run's own throughput interval is kept under
// "within_run"); a percentile fewer than two runs state has no interval.
// `isolation`: what separated the runs, as the result says it ("fresh
// processes, back to back", "3 separate sweeps").
nlohmann::json combine_repeats(const std::vector<nlohmann::json>& runs, const std::string& isolation);

// A latency histogram's summary; null when it holds no samples. A percentile
// the sample count cannot support (MLPerf LoadGen's floor: fewer samples than
// it takes for the largest to bound it from above) is null, with the reason
// under "unsupported"; the others carry a distribution-free 95% interval under
// "intervals" (null while only an upper bound exists).
nlohmann::json latency_summary(const Histogram& h);

// The throughput estimate's 95% interval from the completion windows up to
// the last completion (whole_window_rate over all but the last, which the
// stop cut short); {"reason"} when there are too few windows.
nlohmann::json throughput_interval(const std::vector<int64_t>& windows, double window_s, double estimate_per_s,
                                   int64_t batch_size);

}  // namespace infermeter
