// How much the harness itself costs, reported beside every result so a reader
// can tell it from the model's own time.
#pragma once

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include "infermeter/run_config.h"

namespace infermeter {

// Medians of: a steady-clock read, a histogram record, and the floor of one
// request's harness cost on an idle device (a whole engine request to a module
// that does nothing, through the run's runner).
nlohmann::json calibrate(const RunConfig& config, const c10::Device& device);

}  // namespace infermeter
