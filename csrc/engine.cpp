#include "infermeter/engine.h"

#include <c10/core/InferenceMode.h>

#include <chrono>

#include "calibration.h"
#include "clock.h"
#include "device.h"
#include "environment.h"
#include "infermeter/errors.h"
#include "precision_mode.h"
#include "result_builder.h"
#include "runner_registry.h"
#include "worker_pool.h"

namespace infermeter {

namespace {

PoolPlan plan_for(const RunConfig& config, const c10::Device& device) {
  PoolPlan plan;
  plan.device = device;
  plan.threads = config.threads;
  plan.intra_op_threads = intra_op_threads_for(config);
  plan.warmup_s = config.warmup_s;
  plan.warmup_min_requests = config.warmup_s > 0 ? config.warmup_min_requests : 0;
  plan.window_ns = static_cast<int64_t>(config.window_s * 1e9);
  plan.windows = window_count(config);
  return plan;
}

PoolOutcome run_pool(const RunConfig& config, ModelRunner& model, LoadGenerator& load, StopRule& stop,
                     const PoolPlan& plan, const AbortCheck& should_abort, const MeasuringNotice& on_measuring) {
  try {
    return run_workers(model, load, stop, plan, should_abort, on_measuring);
  } catch (const WorkerFailure& e) {
    const std::string message =
        e.before_measuring ? "model '" + config.model_path + "' failed on its inputs " +
                                 model.describe()["inputs"].dump() + ": " + e.what()
                           : "model '" + config.model_path + "' failed while measuring: " + e.what();
    if (e.out_of_memory) throw OutOfMemory(message);
    throw EngineError(message);
  }
}

nlohmann::json measure_unchecked(const RunConfig& config, ModelRunner& model, LoadGenerator& load, StopRule& stop,
                              const c10::Device& device, const AbortCheck& should_abort,
                              const nlohmann::json& front_end, const MeasuringNotice& on_measuring) {
  const PoolPlan plan = plan_for(config, device);
  // Measured (and calibrated) in the float32 mode the model was exported for.
  const PrecisionMode precision(model.describe());
  PoolOutcome outcome = run_pool(config, model, load, stop, plan, should_abort, on_measuring);

  RunRecord run;
  run.merged = outcome.merged.get();
  run.load = &load;
  run.batch_size = model.batch_size();
  run.warmup_requests = outcome.warmup_requests;
  run.stopped_ns = outcome.end_ns - outcome.start_ns;
  run.interrupted = outcome.interrupted;
  run.stop_reason = outcome.stop_reason;
  run.stop_rule = stop.describe();
  run.intra_op_threads = plan.intra_op_threads;
  // Calibration is skipped after Ctrl-C: the user asked to stop.
  const bool calibrate_now = config.calibrate && !outcome.interrupted;

  const double since_start_s = static_cast<double>(now_ns() - outcome.start_ns) / 1e9;
  run.start_epoch_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() - since_start_s;
  nlohmann::json environment = describe_environment(device);
  if (front_end.is_object()) environment.update(front_end);
  return build_result(config, model.describe(), run,
                      calibrate_now ? calibrate(config, device) : nlohmann::json(nullptr), environment);
}

// torch's own errors, outside a worker, become engine failures naming the model.
template <typename F>
nlohmann::json with_torch_errors(const RunConfig& config, F&& body) {
  try {
    return body();
  } catch (const c10::Error& e) {
    throw_engine_error(e, "measuring '" + config.model_path + "' failed: " + short_message(e));
  }
}

}  // namespace

nlohmann::json measure(const RunConfig& config, const AbortCheck& should_abort, const nlohmann::json& front_end,
                       const MeasuringNotice& on_measuring) {
  return with_torch_errors(config, [&] {
    validate(config);
    const c10::Device device = parse_device(config.device);
    // Inference mode on this thread too: a runner that touches the model while
    // opening it sees the same grad state as the workers.
    c10::InferenceMode inference_mode;
    auto model = open_model(config, device);
    const auto load = load_kind(config.load).make(config);
    const auto stop = make_stop_rule(config);
    return measure_unchecked(config, *model, *load, *stop, device, should_abort, front_end, on_measuring);
  });
}

nlohmann::json measure(const RunConfig& config, ModelRunner& model, LoadGenerator& load, StopRule& stop,
                    const AbortCheck& should_abort, const nlohmann::json& front_end,
                    const MeasuringNotice& on_measuring) {
  return with_torch_errors(config, [&] {
    validate(config);
    const c10::Device device = parse_device(config.device);
    c10::InferenceMode inference_mode;
    return measure_unchecked(config, model, load, stop, device, should_abort, front_end, on_measuring);
  });
}

}  // namespace infermeter
