// Runs one measurement end to end: model, load, stop rule, recorders, and the
// result document that the Python facade and the binary both emit.
#pragma once

#include <nlohmann/json.hpp>

#include "closed_loop.h"
#include "run_config.h"

namespace infermeter {

inline constexpr const char* kResultSchema = "infermeter.result/1";

struct Measurement {
  nlohmann::json result;
  Histogram host;          // for the binary's interval log
  double start_epoch_s = 0;  // wall-clock time when measuring began
};

Measurement measure(const RunConfig& config, const AbortCheck& should_abort, bool with_calibration);

}  // namespace infermeter
