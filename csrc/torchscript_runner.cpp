#include "torchscript_runner.h"

#include <filesystem>

#include "aoti_runner.h"
#include "infermeter/errors.h"
#include "export_facts.h"

namespace infermeter {

TorchScriptReplica::TorchScriptReplica(torch::jit::Module module, std::vector<c10::IValue> inputs)
    : module_(std::move(module)), forward_(module_.get_method("forward").function()), inputs_(std::move(inputs)) {
  stack_.reserve(inputs_.size() + 1);
}

c10::IValue TorchScriptReplica::infer() {
  stack_.clear();
  stack_.emplace_back(module_._ivalue());
  for (const auto& input : inputs_) stack_.push_back(input);
  forward_.run(stack_);
  return stack_.back();
}

TorchScriptRunner::TorchScriptRunner(const RunConfig& config, const c10::Device& device)
    : device_(device),
      path_(config.model_path),
      copies_(config.replicas == "shared"            ? Copies::kShared
              : config.replicas == "per-thread-load" ? Copies::kLoad
                                                     : Copies::kDeepCopy) {
  const auto& path = config.model_path;
  if (!std::filesystem::exists(path)) throw EngineError("model file not found: '" + path + "'");
  torch::jit::ExtraFilesMap extra{{kInputSpecFile, ""}, {kExportInfoFile, ""}};
  try {
    module_ = torch::jit::load(path, device_, extra);
  } catch (const std::exception& e) {
    if (is_aoti_package(path))
      throw EngineError("'" + path + "' is an AOTInductor package: measure it with runner aoti or aoti-graph, not " +
                        config.runner);
    throw EngineError("cannot load '" + path + "' as a TorchScript model: " + short_message(e));
  }
  module_.eval();
  if (!module_.find_method("forward")) throw EngineError("TorchScript model '" + path + "' has no forward method");
  inputs_.emplace(config.inputs, extra[kInputSpecFile], config.batch_size, config.seed, device_, path);
  description_ = {{"path", path}, {"format", "torchscript"}, {"inputs", inputs_->describe()}};
  add_export_facts(description_, extra[kExportInfoFile]);
}

TorchScriptRunner::TorchScriptRunner(torch::jit::Module module, const std::vector<ExplicitInput>& inputs,
                                     const c10::Device& device)
    : device_(device), module_(std::move(module)) {
  module_.eval();
  inputs_.emplace(inputs, "", std::nullopt, 0, device_, "in-memory module");
  description_ = {{"format", "torchscript"}};
}

torch::jit::Module TorchScriptRunner::module_for(int worker) const {
  // Worker 0 uses the loaded module itself; the others copy it, or load the
  // file again, when each worker is to have its own weights.
  if (worker == 0 || copies_ == Copies::kShared) return module_;
  if (copies_ == Copies::kDeepCopy) return module_.deepcopy();
  auto loaded = torch::jit::load(path_, device_);
  loaded.eval();
  return loaded;
}

std::unique_ptr<Replica> TorchScriptRunner::make_replica(int worker) {
  return std::make_unique<TorchScriptReplica>(module_for(worker), inputs_for(worker));
}

}  // namespace infermeter
