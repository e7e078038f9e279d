#include "runner_registry.h"

#include <functional>
#include <utility>
#include <vector>
#include <stdexcept>

#include "aoti_runner.h"
#include "cuda_graph_runner.h"
#include "torchscript_runner.h"

namespace infermeter {

namespace {

using Factory = std::function<std::unique_ptr<ModelRunner>(const RunConfig&, const c10::Device&)>;

// In the order they are listed to users, the default first.
const std::vector<std::pair<std::string, Factory>>& factories() {
  static const std::vector<std::pair<std::string, Factory>> known = {
      {"torchscript",
       [](const RunConfig& c, const c10::Device& d) { return std::make_unique<TorchScriptRunner>(c, d); }},
      {"cuda-graph", make_cuda_graph_runner},
      {"aoti", [](const RunConfig& c, const c10::Device& d) { return make_aoti_runner(c, d); }},
      {"aoti-graph", make_aoti_graph_runner},
  };
  return known;
}

const Factory& factory_for(const std::string& name) {
  std::string known;
  for (const auto& [known_name, factory] : factories()) {
    if (known_name == name) return factory;
    known += (known.empty() ? "" : ", ") + known_name;
  }
  throw std::invalid_argument("unknown runner '" + name + "' (known: " + known + ")");
}

}  // namespace

std::unique_ptr<ModelRunner> open_model(const RunConfig& config, const c10::Device& device) {
  return factory_for(config.runner)(config, device);
}

void require_known_runner(const std::string& name) { (void)factory_for(name); }

std::vector<std::string> runner_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories()) names.push_back(name);
  return names;
}

}  // namespace infermeter
