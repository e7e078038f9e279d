// Runners by name: the run config's `runner` picks one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "infermeter/model_runner.h"

namespace infermeter {

// Opens config.model_path with the runner config.runner names; an unknown
// runner, or one this build or device cannot provide, is std::invalid_argument
// with the reason.
std::unique_ptr<ModelRunner> open_model(const RunConfig& config, const c10::Device& device);

// The runner names this build knows, the default first, for help texts.
std::vector<std::string> runner_names();

// std::invalid_argument naming the known runners, unless `name` is one.
void require_known_runner(const std::string& name);

}  // namespace infermeter
