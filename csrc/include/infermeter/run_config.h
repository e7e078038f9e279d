// Public: what one measurement run is asked to do, the one description of a
// run's options. The extension binds it as a class, the binary fills it from
// flags, and validate() holds every rule, so an option is one field plus its
// flag.
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
// most it may take.
inline constexpr double kFixedDurationS = 5.0;
inline constexpr double kMaxCiDurationS = 60.0;

struct RunConfig {
  std::string model_path;
  std::string device = "cpu";
  // What runs the model: torchscript, cuda-graph or aoti (runner_registry.h).
  std::string runner = "torchscript";
  // Unset: the model's fixed batch if it has one, else 1.
  std::optional<int64_t> batch_size;
  int threads = 1;
  // per-thread (a copy of the weights per worker), shared, or
  // per-thread-load (each worker's copy loaded from the file on its own, for
  // runtimes that place each load on its own device, as AWS Neuron does).
  std::string replicas = "per-thread";
  // torch's intra-op threads on each worker; unset: max(1, cores / threads),
  // so that client threads do not contend for the cores.
  std::optional<int> intra_op_threads;
  double warmup_s = 1.0;
  // Each worker also completes this many requests before measuring starts, so
  // that lazy work (TorchScript's profiling runs, cuDNN autotuning) is excluded
  // even when the warm-up time is short; a warm-up of 0 s means none at all.
  int64_t warmup_min_requests = 2;
  // Measuring time; with `ci`, the most it may take. Left to its default,
  // apply_default_duration() fits it to the stop asked for.
  std::optional<double> duration_s = kFixedDurationS;
  std::optional<int64_t> requests;
  // Statistical stop: measuring ends once throughput and the ci_percentile
  // of latency are both known to +-ci (relative, 95% confidence), after at
  // least min_duration_s and at most duration_s.
  std::optional<double> ci;
  double ci_percentile = 99.0;
  double min_duration_s = 1.0;
  double window_s = 0.1;
  // Open loop: requests arrive at this mean rate (requests per second),
  // whatever the workers are doing; unset: a closed loop, each worker issuing
  // its next request when its last completes. `threads` caps concurrency.
  std::optional<double> rate_per_s;
  // How open-loop arrivals are spaced: poisson (exponential gaps, seeded by
  // `seed`) or constant.
  std::string arrival = "poisson";
  // Seeds the generated inputs and the Poisson arrivals.
  uint64_t seed = 0;
  // Explicit inputs replace the model's stored input spec.
  std::vector<ExplicitInput> inputs;
};

// Throws std::invalid_argument naming the first option that is out of range.
void validate(const RunConfig& config);

// The duration when none was given, after the other options are set: with
// `ci`, its maximum (kMaxCiDurationS); with a request count alone, none (the
// count ends the run); otherwise kFixedDurationS.
void apply_default_duration(RunConfig& config);

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
