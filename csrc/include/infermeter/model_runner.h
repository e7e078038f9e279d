// Public: what runs the model, the interface a runner implements. The engine sees only
// ModelRunner and Replica; runners are chosen by name (runner_registry.h).
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

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
  // Issues one batch of `size` items, a size its runner was readied for
  // (ModelRunner::prepare_batches); the same contract as infer().
  virtual c10::IValue infer_batch(int64_t size) {
    throw std::logic_error("this replica computes only its runner's fixed batch, not " + std::to_string(size));
  }
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
  // Bytes of one copy of the weights and of one worker's inputs (null where
  // not known), for the result's static memory bound.
  virtual nlohmann::json footprint() const { return {{"weights_bytes", nullptr}, {"input_bytes", nullptr}}; }
  // For a load that batches requests, before any replica is made: readies
  // the runner to compute batches of 1 to `max_items` items, and returns the
  // size each is computed at (entry n for n items; entry 0 unused): n itself,
  // or, for a runner that can only replay what it captured, the smallest of
  // `capture_sizes` (ascending) that holds n. std::invalid_argument when the
  // model runs only at a fixed batch.
  virtual std::vector<int64_t> prepare_batches(int64_t max_items, const std::vector<int64_t>& capture_sizes) {
    (void)max_items;
    (void)capture_sizes;
    throw std::invalid_argument("this runner computes only a fixed batch; dynamic batching needs the "
                                "torchscript, cuda-graph, aoti or aoti-graph runner");
  }
};

}  // namespace infermeter
