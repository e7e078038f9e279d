// Public: what runs the model, the interface a runner implements. The engine sees only
// ModelRunner and Replica; runners are chosen by name (runner_registry.h).
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "infermeter/run_config.h"

namespace infermeter {

// One worker's handle on the model, holding its own inputs.
class Replica {
 public:
  virtual ~Replica() = default;
  // Issues one request; on a GPU it may return before the work is done (the
  // caller synchronizes the worker's stream). The returned output keeps its
  // memory alive until then. Must not allocate in the harness's own code.
  virtual c10::IValue infer() = 0;
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  // Prepares worker `worker`'s replica. Called on that worker's own thread,
  // with inference mode on and, on a GPU, the worker's stream current, so a
  // runner may capture a CUDA graph or bind a compiled model to that stream.
  // `worker` selects the replica: its own copy of the weights or the shared one.
  virtual std::unique_ptr<Replica> make_replica(int worker) = 0;
  // Format, runner, inputs and export facts, for the result.
  virtual nlohmann::json describe() const = 0;
  // Inferences per request.
  virtual int64_t batch_size() const = 0;
};

}  // namespace infermeter
