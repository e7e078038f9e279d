// What one measurement run is asked to do; shared by the extension and the binary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "input_spec.h"

namespace infermeter {

enum class Replicas { kPerThread, kShared };

struct RunConfig {
  std::string model_path;
  std::string device = "cpu";
  // Unset: the model's fixed batch if it has one, else 1.
  std::optional<int64_t> batch_size;
  int threads = 1;
  Replicas replicas = Replicas::kPerThread;
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

void validate(const RunConfig& config);

}  // namespace infermeter
