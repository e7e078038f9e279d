// What runs the model. The engine only sees ModelRunner and Replica, so other
// formats (torch.export / AOTInductor packages) can be added beside TorchScript.
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "run_config.h"

namespace infermeter {

// One worker's handle on the model, holding its own inputs.
class Replica {
 public:
  virtual ~Replica() = default;
  // Issues one request; on a GPU it may return before the work is done (the
  // caller synchronizes). The returned output keeps its memory alive until then.
  virtual c10::IValue infer() = 0;
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  // `worker` selects the replica: its own copy of the weights or the shared one.
  virtual std::unique_ptr<Replica> make_replica(int worker) = 0;
  // Format, inputs and export facts, for the result.
  virtual nlohmann::json describe() const = 0;
  // Inferences per request.
  virtual int64_t batch_size() const = 0;
};

std::unique_ptr<ModelRunner> open_model(const RunConfig& config, const c10::Device& device);

}  // namespace infermeter
