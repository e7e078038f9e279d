// Runs one measurement end to end: model, load, stop rule, recorders, and the
// result document that the Python facade and the binary both emit.
#pragma once

#include <nlohmann/json.hpp>

#include "histogram.h"
#include "run_config.h"
#include "worker_pool.h"

namespace infermeter {

struct Measurement {
  nlohmann::json result;
  Histogram host;            // for the binary's interval log
  double start_epoch_s = 0;  // wall-clock time when measuring began
};

Measurement measure(const RunConfig& config, const AbortCheck& should_abort, bool with_calibration);

}  // namespace infermeter
