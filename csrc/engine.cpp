#include "infermeter/engine.h"

#include <c10/core/InferenceMode.h>

#include <chrono>

#include "calibration.h"
#include "clock.h"
#include "device.h"
#include "dynamic_batching.h"
#include "environment.h"
#include "infermeter/errors.h"
#include "output_paths.h"
#include "precision_mode.h"
#include "resource_meter.h"
#include "result_builder.h"
#include "runner_registry.h"
#include "worker_pool.h"

namespace infermeter {

namespace {

PoolPlan plan_for(const RunConfig& config, const c10::Device& device, ModelRunner& model, LoadGenerator& load) {
  PoolPlan plan;
  plan.device = device;
  plan.threads = config.threads;
  plan.intra_op_threads = intra_op_threads_for(config);
  plan.warmup_s = config.warmup_s;
  plan.warmup_min_requests = config.warmup_s > 0 ? config.warmup_min_requests : 0;
  plan.window_ns = static_cast<int64_t>(config.window_s * 1e9);
  plan.windows = window_count(config);
  plan.request_items = model.batch_size();
  plan.trace = config.trace.has_value();
  // A runner refuses varying sizes of a model fixed to its batch (ModelInputs::prepare_every_size).
  if (const int64_t max_items = load.max_batch_items(); max_items > 0)
    plan.computed_at = model.prepare_batches(max_items, capture_sizes(config));
  return plan;
}

PoolOutcome run_pool(const RunConfig& config, ModelRunner& model, LoadGenerator& load, StopRule& stop,
                     const PoolPlan& plan, const AbortCheck& should_abort, const MeasuringNotice& on_measuring,
                     const CoordinatorHooks& hooks) {
  try {
    return run_workers(model, load, stop, plan, should_abort, on_measuring, hooks);
  } catch (const WorkerFailure& e) {
    const std::string message =
        e.before_measuring ? "model '" + config.model_path + "' failed on its inputs " +
                                 model.describe()["inputs"].dump() + ": " + e.what()
                           : "model '" + config.model_path + "' failed while measuring: " + e.what();
    if (e.out_of_memory) throw OutOfMemory(message);
    throw EngineError(message);
  }
}

// The bound the Elastic Inference study gives for what a configuration needs
// at least: the weights (one copy per replica) and, per worker, one
// request's inputs and outputs; null where the runner cannot size its weights.
nlohmann::json with_static_bound(nlohmann::json memory, const nlohmann::json& footprint, const RunConfig& config,
                                 int64_t output_bytes) {
  memory["weights_bytes"] = footprint.at("weights_bytes");
  memory["input_bytes"] = footprint.at("input_bytes");
  memory["output_bytes"] = output_bytes;
  memory["lower_bound_bytes"] = nullptr;
  if (footprint.at("weights_bytes").is_number() && footprint.at("input_bytes").is_number()) {
    const int64_t copies = config.replicas == "shared" ? 1 : config.threads;
    memory["lower_bound_bytes"] = copies * footprint.at("weights_bytes").get<int64_t>() +
                                  config.threads * (footprint.at("input_bytes").get<int64_t>() + output_bytes);
  }
  return memory;
}

// The trace is written after the result is built: a failure to write it
// is stated in the result's warnings, never a loss of what was measured.
void write_trace_keeping_result(const std::string& path, const PoolOutcome& outcome, nlohmann::json& result) {
  std::vector<const RequestTrace*> traces;
  for (const auto& trace : outcome.traces) traces.push_back(trace.get());
  try {
    write_trace(path, traces);
  } catch (const std::exception& e) {
    result["warnings"].push_back("the trace was not written: " + std::string(e.what()));
  }
}

nlohmann::json measure_unchecked(const RunConfig& config, ModelRunner& model, LoadGenerator& load, StopRule& stop,
                              const c10::Device& device, const AbortCheck& should_abort,
                              const nlohmann::json& front_end, const MeasuringNotice& on_measuring) {
  const PoolPlan plan = plan_for(config, device, model, load);
  // Measured (and calibrated) in the float32 mode the model was exported for.
  const PrecisionMode precision(model.describe());
  // Memory and energy over the measuring phase, read by the coordinator only.
  ResourceMeter meter(device);
  const CoordinatorHooks hooks{[&] { meter.start(); }, [&] { meter.sample(); }, [&] { meter.stop(); }};
  PoolOutcome outcome = run_pool(config, model, load, stop, plan, should_abort, on_measuring, hooks);

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
  if (meter.started()) {
    run.memory = with_static_bound(meter.memory(), model.footprint(), config, outcome.output_bytes);
    run.energy = meter.energy(outcome.merged->host().total_count() * model.batch_size());
  }
  // Calibration is skipped after Ctrl-C: the user asked to stop.
  const bool calibrate_now = config.calibrate && !outcome.interrupted;

  const double since_start_s = static_cast<double>(now_ns() - outcome.start_ns) / 1e9;
  run.start_epoch_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() - since_start_s;
  nlohmann::json environment = describe_environment(device);
  if (front_end.is_object()) environment.update(front_end);
  nlohmann::json result = build_result(config, model.describe(), run,
                                       calibrate_now ? calibrate(config, device) : nlohmann::json(nullptr), environment);
  if (config.trace) write_trace_keeping_result(*config.trace, outcome, result);
  return result;
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
    if (config.trace) check_output_paths({{"trace", *config.trace}}, {config.model_path});
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
    if (config.trace) check_output_paths({{"trace", *config.trace}}, {config.model_path});
    const c10::Device device = parse_device(config.device);
    c10::InferenceMode inference_mode;
    return measure_unchecked(config, model, load, stop, device, should_abort, front_end, on_measuring);
  });
}

}  // namespace infermeter
