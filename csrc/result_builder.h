// The one place the result document (schema infermeter.result/1) is built,
// for the engine, the binary and the Python-loop backends alike.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "recorder.h"
#include "run_config.h"

namespace infermeter {

inline constexpr const char* kResultSchema = "infermeter.result/1";
// Launch time at or above this share of host latency (p50) means the CPU
// issuing kernels, not the GPU, sets a request's speed.
inline constexpr double kLaunchBoundShare = 0.9;

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

// A latency histogram's summary; null when it holds no samples.
nlohmann::json latency_summary(const Histogram& h);

}  // namespace infermeter
