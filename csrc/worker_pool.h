// The worker pool: N native threads, each with its own replica, stream and
// recorder, through the warm-up and measuring phases; failures are collected
// and every thread is joined on every path. What is issued when is the load
// generator's; when to stop is the stop rule's.
#pragma once

#include <c10/core/Device.h>

#include <functional>
#include <memory>
#include <string>

#include "infermeter/engine.h"
#include "infermeter/load_generator.h"
#include "infermeter/model_runner.h"
#include "infermeter/stop_rule.h"
#include "recorder.h"
#include "request_trace.h"

namespace infermeter {

struct PoolPlan {
  c10::Device device{c10::kCPU};
  int threads = 1;
  int intra_op_threads = 1;
  double warmup_s = 0.0;
  int64_t warmup_min_requests = 0;
  int64_t window_ns = 100'000'000;
  size_t windows = 1;
  // A batching load's: for n items (entry n), the size the runner computes
  // them at (ModelRunner::prepare_batches); empty for the other loads.
  std::vector<int64_t> computed_at;
  int64_t request_items = 1;  // items per request
  bool trace = false;         // keep every measured request (RequestTrace)
};

struct PoolOutcome {
  std::unique_ptr<Recorder> merged;
  int64_t warmup_requests = 0;
  int64_t start_ns = 0;  // steady clock when measuring began
  int64_t end_ns = 0;    // steady clock when the stop was decided
  bool interrupted = false;
  std::string stop_reason;
  std::vector<std::unique_ptr<RequestTrace>> traces;  // per worker, when the plan traces
  int64_t output_bytes = 0;  // of worker 0's first request (its largest batch, when batching)
};

// Called on the coordinator's thread: just before measuring begins (so that
// its work takes no core from the workers' first requests), at each check
// while measuring (a few times a second), and once every worker has stopped.
struct CoordinatorHooks {
  std::function<void()> on_start;
  std::function<void()> on_check;
  std::function<void()> on_stop;
};

// A worker's failure. `before_measuring`: while preparing its replica or
// warming up, which for a model usually means its inputs do not suit it.
class WorkerFailure : public std::runtime_error {
 public:
  WorkerFailure(const std::string& message, bool out_of_memory, bool before_measuring)
      : std::runtime_error(message), out_of_memory(out_of_memory), before_measuring(before_measuring) {}
  bool out_of_memory;
  bool before_measuring;
};

// Runs the pool; throws WorkerFailure with the first worker's failure, after
// every thread has been joined.
PoolOutcome run_workers(ModelRunner& model, LoadGenerator& load, StopRule& stop, const PoolPlan& plan,
                        const AbortCheck& should_abort, const MeasuringNotice& on_measuring,
                        const CoordinatorHooks& hooks = {});

}  // namespace infermeter
