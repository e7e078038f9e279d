// Public: runs one measurement end to end (model, load, stop rule,
// recorders) and returns the result document (schema infermeter.result/1)
// that the Python facade and the binary both emit.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>

#include "histogram.h"
#include "infermeter/run_config.h"

namespace infermeter {

// Polled a few times a second; returning true stops the run early (Ctrl-C),
// keeping what was measured, marked interrupted.
using AbortCheck = std::function<bool()>;

struct Measurement {
  nlohmann::json result;
  Histogram host;            // for the binary's interval log
  double start_epoch_s = 0;  // wall-clock time when measuring began
};

// Throws std::invalid_argument for a bad config, EngineError (OutOfMemory for
// the device's memory) for a model or torch failure; every thread it started
// is joined before it returns or throws.
Measurement measure(const RunConfig& config, const AbortCheck& should_abort, bool with_calibration);

}  // namespace infermeter
