#pragma once

#include <torch/script.h>

#include "model_runner.h"

namespace infermeter {

class TorchScriptRunner : public ModelRunner {
 public:
  TorchScriptRunner(const RunConfig& config, const c10::Device& device);
  // From a module built in memory (calibration's no-op); inputs are explicit.
  TorchScriptRunner(torch::jit::Module module, std::vector<c10::IValue> inputs, const c10::Device& device);

  std::unique_ptr<Replica> make_replica(int worker) override;
  nlohmann::json describe() const override { return description_; }
  int64_t batch_size() const override { return batch_size_; }

 private:
  std::vector<c10::IValue> inputs_for(int worker) const;
  int64_t resolve_batch_size(std::optional<int64_t> requested) const;

  c10::Device device_;
  Replicas replicas_ = Replicas::kShared;
  torch::jit::Module module_;
  std::vector<InputSpec> specs_;
  std::vector<c10::IValue> fixed_inputs_;
  int64_t batch_size_ = 1;
  uint64_t seed_ = 0;
  nlohmann::json description_;
};

}  // namespace infermeter
