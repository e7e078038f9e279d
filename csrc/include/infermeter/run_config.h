// Public: what one measurement run is asked to do, as the engine reads it.
// Its fields are set from the option table (options.h), which owns every
// option's name, default and range; run_config_from() is the way to make one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace infermeter {

// A concrete input tensor handed over as raw bytes (no torch Python types
// cross the binding, so the extension needs no libtorch_python).
struct ExplicitInput {
  std::string name;
  std::vector<int64_t> shape;
  std::string dtype;  // float32, float16, bfloat16, int64, ...
  std::string bytes;
};

// Seconds measured when no duration is given; with a statistical stop, the
// most it may take (the option table's derived default for `duration`).
inline constexpr double kFixedDurationS = 5.0;
inline constexpr double kMaxCiDurationS = 60.0;

// The fields mirror the options of the same name (options.cpp says what each
// means); no defaults are kept here, so that there is one place for them.
struct RunConfig {
  std::string model_path;
  std::string device;
  std::string runner;
  std::optional<int64_t> batch_size;  // unset: the model's fixed batch, else 1
  int threads = 0;
  std::string replicas;
  bool trust = false;  // load an AOTInductor package infermeter did not export
  std::optional<int> intra_op_threads;  // unset: cores / threads
  double warmup_s = 0;
  int64_t warmup_min_requests = 0;
  std::optional<double> duration_s;
  std::optional<int64_t> requests;
  std::optional<double> ci;
  double ci_percentile = 0;
  double min_duration_s = 0;
  double window_s = 0;
  std::string load;  // a load generator's name (load_registry.h)
  std::optional<double> rate_per_s;
  std::string arrival;
  uint64_t seed = 0;
  // Dynamic batching (load dynamic-batching).
  int64_t max_batch = 0;
  double max_queue_delay_s = 0;
  std::string preferred_batches;  // comma-separated item counts; empty: none
  std::string capture_batches;    // comma-separated sizes; empty: the default list
  bool calibrate = false;
  std::optional<std::string> trace;  // JSON Lines of every measured request
  // Explicit inputs replace the model's stored input spec.
  std::vector<ExplicitInput> inputs;
};

// The rules that tie options together (each option's own range is the
// table's): throws std::invalid_argument naming the options concerned.
void validate(const RunConfig& config);

// How long after the start an open loop's arrivals are drawn for: the
// duration, or an hour when only a request count ends the run.
int64_t arrival_horizon_ns(const RunConfig& config);

// How many completion windows a worker preallocates: room for the whole run
// plus stragglers (an unbounded run gets an hour).
size_t window_count(const RunConfig& config);

// The intra-op thread count a worker uses: the configured one, or the cores
// shared out among the client threads.
int intra_op_threads_for(const RunConfig& config);

}  // namespace infermeter
