#pragma once

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

namespace infermeter {

// Facts about the machine a result was measured on.
nlohmann::json describe_environment(const c10::Device& device);

}  // namespace infermeter
