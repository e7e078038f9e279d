// How much the harness itself costs, reported beside every result so a reader
// can tell it from the model's own time.
#pragma once

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

namespace infermeter {

// clock_read_ns, histogram_record_ns, and noop_request_ns: a full engine
// request to a TorchScript module that returns its input, on `device`.
nlohmann::json calibrate(const c10::Device& device);

}  // namespace infermeter
