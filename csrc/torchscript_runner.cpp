#include "torchscript_runner.h"

#include <algorithm>
#include <filesystem>

#include "errors.h"

namespace infermeter {

namespace {

class TorchScriptReplica : public Replica {
 public:
  TorchScriptReplica(torch::jit::Module module, std::vector<c10::IValue> inputs)
      : module_(std::move(module)), forward_(module_.get_method("forward").function()), inputs_(std::move(inputs)) {
    stack_.reserve(inputs_.size() + 1);
  }

  // Runs through a reused stack so that a request allocates nothing of its own.
  c10::IValue infer() override {
    stack_.clear();
    stack_.emplace_back(module_._ivalue());
    for (const auto& input : inputs_) stack_.push_back(input);
    forward_.run(stack_);
    return stack_.back();
  }

 private:
  torch::jit::Module module_;
  torch::jit::Function& forward_;
  std::vector<c10::IValue> inputs_;
  torch::jit::Stack stack_;
};

nlohmann::json describe_inputs(const std::vector<c10::IValue>& values, const std::vector<std::string>& names) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < values.size(); ++i) {
    const auto& t = values[i].toTensor();
    out.push_back({{"name", i < names.size() ? names[i] : "input" + std::to_string(i)},
                   {"shape", t.sizes().vec()},
                   {"dtype", std::string(c10::toString(t.scalar_type()))}});
  }
  return out;
}

}  // namespace

TorchScriptRunner::TorchScriptRunner(const RunConfig& config, const c10::Device& device)
    : device_(device), replicas_(config.replicas), seed_(config.seed) {
  const auto& path = config.model_path;
  if (!std::filesystem::exists(path)) throw EngineError("model file not found: '" + path + "'");
  torch::jit::ExtraFilesMap extra{{kInputSpecFile, ""}, {kExportInfoFile, ""}};
  try {
    module_ = torch::jit::load(path, device_, extra);
  } catch (const std::exception& e) {
    throw EngineError("cannot load '" + path + "' as a TorchScript model: " + short_message(e));
  }
  module_.eval();
  if (!module_.find_method("forward")) throw EngineError("TorchScript model '" + path + "' has no forward method");

  std::vector<std::string> names;
  if (!config.inputs.empty()) {
    fixed_inputs_ = make_inputs(config.inputs, device_);
    for (const auto& input : config.inputs) names.push_back(input.name);
  } else if (!extra[kInputSpecFile].empty()) {
    specs_ = parse_input_spec(extra[kInputSpecFile]);
    for (const auto& spec : specs_) names.push_back(spec.name);
  } else {
    throw std::invalid_argument("model '" + path +
                                "' stores no input spec: export it with infermeter (infermeter.export or "
                                "infermeter.benchmark on an nn.Module), or pass inputs explicitly");
  }
  batch_size_ = resolve_batch_size(config.batch_size);
  description_ = {{"path", path},
                  {"format", "torchscript"},
                  {"inputs", describe_inputs(inputs_for(0), names)},
                  {"export", extra[kExportInfoFile].empty() ? nlohmann::json(nullptr)
                                                             : nlohmann::json::parse(extra[kExportInfoFile], nullptr, false)}};
}

TorchScriptRunner::TorchScriptRunner(torch::jit::Module module, std::vector<c10::IValue> inputs, const c10::Device& device)
    : device_(device), module_(std::move(module)), fixed_inputs_(std::move(inputs)) {
  module_.eval();
  description_ = {{"format", "torchscript"}};
}

int64_t TorchScriptRunner::resolve_batch_size(std::optional<int64_t> requested) const {
  std::optional<int64_t> fixed;
  if (!fixed_inputs_.empty()) {
    const auto& first = fixed_inputs_.front().toTensor();
    fixed = first.dim() > 0 ? first.size(0) : 1;
    if (requested && *requested != *fixed)
      throw std::invalid_argument("batch_size " + std::to_string(*requested) +
                                  " differs from the leading dimension of the explicit inputs (" +
                                  std::to_string(*fixed) + ")");
    return *fixed;
  }
  const bool dynamic = std::any_of(specs_.begin(), specs_.end(),
                                   [](const InputSpec& s) { return !s.shape.empty() && s.shape[0] == -1; });
  if (dynamic || specs_.empty() || specs_.front().shape.empty()) return requested.value_or(1);
  fixed = specs_.front().shape[0];
  if (requested && *requested != *fixed)
    throw std::invalid_argument("the model was exported for a fixed batch of " + std::to_string(*fixed) +
                                " (its traced graph does not run at other batch sizes); export it again with "
                                "batch size " + std::to_string(*requested));
  return *fixed;
}

std::vector<c10::IValue> TorchScriptRunner::inputs_for(int worker) const {
  if (!fixed_inputs_.empty()) {
    std::vector<c10::IValue> copies;
    for (const auto& v : fixed_inputs_) copies.emplace_back(v.toTensor().clone());
    return copies;
  }
  return make_inputs(specs_, batch_size_, device_, seed_ + static_cast<uint64_t>(worker));
}

std::unique_ptr<Replica> TorchScriptRunner::make_replica(int worker) {
  auto module = (replicas_ == Replicas::kPerThread && worker > 0) ? module_.deepcopy() : module_;
  return std::make_unique<TorchScriptReplica>(std::move(module), inputs_for(worker));
}

std::unique_ptr<ModelRunner> open_model(const RunConfig& config, const c10::Device& device) {
  return std::make_unique<TorchScriptRunner>(config, device);
}

}  // namespace infermeter
