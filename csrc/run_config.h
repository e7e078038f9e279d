// What one measurement run is asked to do: the one description of a run's
// options. The extension binds it as a class, the binary fills it from flags,
// and validate() holds every rule, so an option is one field plus its flag.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "input_spec.h"

namespace infermeter {

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
  // even when the warm-up time is short.
  int64_t warmup_min_requests = 2;
  std::optional<double> duration_s = 5.0;
  std::optional<int64_t> requests;
  double window_s = 0.1;
  uint64_t seed = 0;
  // Explicit inputs replace the model's stored input spec.
  std::vector<ExplicitInput> inputs;
};

// Throws std::invalid_argument naming the first option that is out of range.
void validate(const RunConfig& config);

// How many completion windows a worker preallocates: room for the whole run
// plus stragglers (an unbounded run gets an hour).
size_t window_count(const RunConfig& config);

// The intra-op thread count a worker uses: the configured one, or the cores
// shared out among the client threads.
int intra_op_threads_for(const RunConfig& config);

}  // namespace infermeter
