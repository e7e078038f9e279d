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
  nlohmann::json footprint() const override {
    return {{"weights_bytes", weights_bytes_}, {"input_bytes", inputs_->bytes()}};
  }
  // Any size up to max_items: the interpreter runs the batch it is given.
  std::vector<int64_t> prepare_batches(int64_t max_items, const std::vector<int64_t>& capture_sizes) override;

  // The worker's module (its own copy or the shared one) and inputs, for
  // runners that replay or wrap TorchScript.
  torch::jit::Module module_for(int worker) const;
  std::vector<c10::IValue> inputs_for(int worker) const { return inputs_->for_worker(worker); }
  // Its inputs at each prepared batch size (empty when none were prepared).
  std::vector<std::vector<c10::IValue>> inputs_by_size_for(int worker) const;

 private:
  enum class Copies { kShared, kDeepCopy, kLoad };

  c10::Device device_;
  std::string path_;
  Copies copies_ = Copies::kShared;
  torch::jit::Module module_;
  std::optional<ModelInputs> inputs_;
  int64_t weights_bytes_ = 0;
  nlohmann::json description_;
};

// A TorchScript forward run through a reused stack, so a request allocates
// nothing of the harness's own.
class TorchScriptReplica : public Replica {
 public:
  // `by_size`: inputs at each batch size it may be asked for (entry s for size s).
  TorchScriptReplica(torch::jit::Module module, std::vector<c10::IValue> inputs,
                     std::vector<std::vector<c10::IValue>> by_size = {});
  c10::IValue infer() override { return run(inputs_); }
  c10::IValue infer_batch(int64_t size) override { return run(by_size_.at(size)); }

 private:
  c10::IValue run(const std::vector<c10::IValue>& inputs);

  torch::jit::Module module_;
  torch::jit::Function& forward_;
  std::vector<c10::IValue> inputs_;
  std::vector<std::vector<c10::IValue>> by_size_;
  torch::jit::Stack stack_;
};

}  // namespace infermeter
