// The one place the result document (schema infermeter.result/1) is built,
// for the engine, the binary and the Python-loop backends alike.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "recorder.h"
#include "infermeter/run_config.h"

namespace infermeter {

inline constexpr const char* kResultSchema = "infermeter.result/1";
// The latency percentiles every summary states, under these keys.
inline constexpr std::pair<const char*, double> kPercentiles[] = {
    {"p50_ns", 50}, {"p90_ns", 90}, {"p95_ns", 95}, {"p99_ns", 99}, {"p99_9_ns", 99.9}};
// Launch time at or above this share of host latency (p50) means the CPU
// issuing kernels, not the GPU, sets a request's speed.
inline constexpr double kLaunchBoundShare = 0.9;
// An open loop sustained its rate when it served at least this share of the
// requests that arrived while measuring.
inline constexpr double kSustainedShare = 0.99;

// What a run measured, whoever ran it.
struct RunRecord {
  const Recorder* merged = nullptr;  // every worker's records, merged
  int64_t batch_size = 1;
  int64_t warmup_requests = 0;
  bool interrupted = false;
  std::string stop_reason;
  nlohmann::json stop_rule;  // StopRule::describe()
  nlohmann::json load;       // LoadGenerator::describe()
  int intra_op_threads = 1;
};

nlohmann::json build_result(const RunConfig& config, const nlohmann::json& model, const RunRecord& run,
                            const nlohmann::json& calibration, const nlohmann::json& environment);

// Every interval a result states is two-sided at this confidence.
inline constexpr double kConfidence = 0.95;

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
