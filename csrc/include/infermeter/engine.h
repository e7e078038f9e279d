// Public: runs one measurement end to end (model, load, stop rule,
// recorders) and returns the result document (schema infermeter.result/1)
// that the Python facade and the binary both emit.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>

#include "infermeter/load_generator.h"
#include "infermeter/model_runner.h"
#include "infermeter/run_config.h"
#include "infermeter/stop_rule.h"

namespace infermeter {

// Polled a few times a second; returning true stops the run early (Ctrl-C),
// keeping what was measured, marked interrupted.
using AbortCheck = std::function<bool()>;

// Called once, on the calling thread, when warm-up is done and measuring
// begins: a front end's progress line, and a test's readiness signal.
using MeasuringNotice = std::function<void()>;

// Returns the result document. Opens the model with the runner
// config.runner names, and the load and stop rule its options call for
// (load_generator.h, stop_rule.h). `front_end`
// names what asked ({"front_end": "python", ...}); it is merged into the
// result's environment. Throws std::invalid_argument for a bad config,
// EngineError (OutOfMemory for the device's memory) for a model or torch
// failure; every thread it started is joined before it returns or throws.
nlohmann::json measure(const RunConfig& config, const AbortCheck& should_abort,
                    const nlohmann::json& front_end = nlohmann::json::object(),
                    const MeasuringNotice& on_measuring = {});

// The same with the caller's own runner, load and stop rule: `config` still
// gives the device, threads, warm-up, window and calibration.
nlohmann::json measure(const RunConfig& config, ModelRunner& model, LoadGenerator& load, StopRule& stop,
                    const AbortCheck& should_abort, const nlohmann::json& front_end = nlohmann::json::object(),
                    const MeasuringNotice& on_measuring = {});

}  // namespace infermeter
