#include "torchscript_runner.h"

#include <torch/csrc/jit/ir/constants.h>

#include <unordered_set>

#include "aoti_runner.h"
#include "infermeter/errors.h"
#include "export_facts.h"
#include "model_file.h"
#include "sha256.h"
#include "tensor_bytes.h"

namespace infermeter {

namespace {

// Bytes of a module's tensors: its attributes (parameters, buffers), and, in
// a frozen module, the constants its forward graph holds them as.
int64_t module_bytes(const torch::jit::Module& module) {
  std::unordered_set<const void*> seen;
  int64_t total = 0;
  for (const auto& attribute : module.named_attributes(/*recurse=*/true)) add_tensor_bytes(attribute.value, seen, total);
  if (module.find_method("forward"))
    for (const auto* node : module.get_method("forward").graph()->nodes())
      if (node->kind() == c10::prim::Constant && node->output()->type()->cast<c10::TensorType>())
        if (const auto value = torch::jit::toIValue(node->output())) add_tensor_bytes(*value, seen, total);
  return total;
}

}  // namespace

TorchScriptReplica::TorchScriptReplica(torch::jit::Module module, std::vector<c10::IValue> inputs,
                                       std::vector<std::vector<c10::IValue>> by_size)
    : module_(std::move(module)),
      forward_(module_.get_method("forward").function()),
      inputs_(std::move(inputs)),
      by_size_(std::move(by_size)) {
  stack_.reserve(inputs_.size() + 1);
}

c10::IValue TorchScriptReplica::run(const std::vector<c10::IValue>& inputs) {
  stack_.clear();
  stack_.emplace_back(module_._ivalue());
  for (const auto& input : inputs) stack_.push_back(input);
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
  require_model_file(path);
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
  weights_bytes_ = module_bytes(module_);
  description_ = {{"path", path}, {"sha256", sha256_of_file(path)}, {"format", "torchscript"},
                  {"inputs", inputs_->describe()}};
  add_export_facts(description_, extra[kExportInfoFile]);
}

TorchScriptRunner::TorchScriptRunner(torch::jit::Module module, const std::vector<ExplicitInput>& inputs,
                                     const c10::Device& device)
    : device_(device), module_(std::move(module)) {
  module_.eval();
  inputs_.emplace(inputs, "", std::nullopt, 0, device_, "in-memory module");
  weights_bytes_ = module_bytes(module_);
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

std::vector<int64_t> TorchScriptRunner::prepare_batches(int64_t max_items, const std::vector<int64_t>&) {
  return inputs_->prepare_every_size(max_items);
}

std::vector<std::vector<c10::IValue>> TorchScriptRunner::inputs_by_size_for(int worker) const {
  return inputs_->for_worker_by_size(worker);
}

std::unique_ptr<Replica> TorchScriptRunner::make_replica(int worker) {
  return std::make_unique<TorchScriptReplica>(module_for(worker), inputs_for(worker), inputs_by_size_for(worker));
}

}  // namespace infermeter
