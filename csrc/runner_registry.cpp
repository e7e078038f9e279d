#include "runner_registry.h"

#include <functional>
#include <map>
#include <stdexcept>

#include "aoti_runner.h"
#include "cuda_graph_runner.h"
#include "torchscript_runner.h"

namespace infermeter {

namespace {

using Factory = std::function<std::unique_ptr<ModelRunner>(const RunConfig&, const c10::Device&)>;

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> known = {
      {"torchscript",
       [](const RunConfig& c, const c10::Device& d) { return std::make_unique<TorchScriptRunner>(c, d); }},
      {"cuda-graph", make_cuda_graph_runner},
      {"aoti", make_aoti_runner},
  };
  return known;
}

}  // namespace

std::unique_ptr<ModelRunner> open_model(const RunConfig& config, const c10::Device& device) {
  const auto found = factories().find(config.runner);
  if (found == factories().end()) throw std::invalid_argument("unknown runner '" + config.runner + "'");
  auto runner = found->second(config, device);
  return runner;
}

std::vector<std::string> runner_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories()) names.push_back(name);
  return names;
}

}  // namespace infermeter
