// What generates load: N workers, each issuing its next request as soon as the
// last one completes.
#pragma once

#include <c10/core/Device.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model_runner.h"
#include "recorder.h"
#include "stop_rule.h"

namespace infermeter {

struct ClosedLoopPlan {
  c10::Device device{c10::kCPU};
  int threads = 1;
  double warmup_s = 0.0;
  int64_t warmup_min_requests = 0;
  int64_t window_ns = 100'000'000;
  size_t windows = 1;
};

struct ClosedLoopOutcome {
  Recorder merged;
  int64_t warmup_requests = 0;
  int64_t start_ns = 0;     // steady clock at the measurement start
  int64_t measured_ns = 0;  // from the measurement start to the last completion
  bool interrupted = false;
};

// Polled a few times a second; returning true stops the run early (Ctrl-C).
using AbortCheck = std::function<bool()>;

// Runs the load; throws EngineError with the first worker's failure, after
// every thread has been joined.
ClosedLoopOutcome run_closed_loop(ModelRunner& model, const ClosedLoopPlan& plan, StopRule& stop,
                                  const AbortCheck& should_abort);

}  // namespace infermeter
