// Runs a TorchScript module through the interpreter, one request at a time.
#pragma once

#include <torch/script.h>

#include <optional>

#include "model_inputs.h"
#include "infermeter/model_runner.h"

namespace infermeter {

class TorchScriptRunner : public ModelRunner {
 public:
  TorchScriptRunner(const RunConfig& config, const c10::Device& device);
  // From a module built in memory (calibration's no-op): `inputs` are sent as given.
  TorchScriptRunner(torch::jit::Module module, const std::vector<ExplicitInput>& inputs, const c10::Device& device);

  std::unique_ptr<Replica> make_replica(int worker) override;
  nlohmann::json describe() const override { return description_; }
  int64_t batch_size() const override { return inputs_->batch_size(); }

  // The worker's module (its own copy or the shared one) and inputs, for
  // runners that replay or wrap TorchScript.
  torch::jit::Module module_for(int worker) const;
  std::vector<c10::IValue> inputs_for(int worker) const { return inputs_->for_worker(worker); }

 private:
  enum class Copies { kShared, kDeepCopy, kLoad };

  c10::Device device_;
  std::string path_;
  Copies copies_ = Copies::kShared;
  torch::jit::Module module_;
  std::optional<ModelInputs> inputs_;
  nlohmann::json description_;
};

// A TorchScript forward run through a reused stack, so a request allocates
// nothing of the harness's own.
class TorchScriptReplica : public Replica {
 public:
  TorchScriptReplica(torch::jit::Module module, std::vector<c10::IValue> inputs);
  c10::IValue infer() override;

 private:
  torch::jit::Module module_;
  torch::jit::Function& forward_;
  std::vector<c10::IValue> inputs_;
  torch::jit::Stack stack_;
};

}  // namespace infermeter
