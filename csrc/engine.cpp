#include "infermeter/engine.h"

#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>

#include "calibration.h"
#include "clock.h"
#include "device.h"
#include "environment.h"
#include "infermeter/errors.h"
#include "open_loop.h"
#include "result_builder.h"
#include "runner_registry.h"
#include "stop_rule.h"
#include "worker_pool.h"

namespace infermeter {

namespace {

std::unique_ptr<LoadGenerator> make_load(const RunConfig& c) {
  if (!c.rate_per_s) return std::make_unique<ClosedLoop>();
  return std::make_unique<OpenLoop>(parse_arrival_process(c.arrival), *c.rate_per_s, c.seed, arrival_horizon_ns(c),
                                    c.requests.value_or(0));
}

std::unique_ptr<StopRule> make_stop_rule(const RunConfig& c) {
  std::vector<std::unique_ptr<StopRule>> rules;
  if (c.ci)
    rules.push_back(std::make_unique<ConfidenceRule>(
        ConfidenceTarget{*c.ci, c.ci_percentile, c.min_duration_s, *c.duration_s}));
  else if (c.duration_s)
    rules.push_back(std::make_unique<DurationRule>(*c.duration_s));
  if (c.requests) rules.push_back(std::make_unique<RequestCountRule>(*c.requests));
  if (rules.size() == 1) return std::move(rules.front());
  return std::make_unique<AnyOfRule>(std::move(rules));
}

Measurement measure_unchecked(const RunConfig& config, const AbortCheck& should_abort, bool with_calibration) {
  validate(config);
  const c10::Device device = parse_device(config.device);
  // Inference mode on this thread too: a runner that touches the model while
  // opening it sees the same grad state as the workers.
  c10::InferenceMode inference_mode;
  auto model = open_model(config, device);

  PoolPlan plan;
  plan.device = device;
  plan.threads = config.threads;
  plan.intra_op_threads = intra_op_threads_for(config);
  plan.warmup_s = config.warmup_s;
  plan.warmup_min_requests = config.warmup_s > 0 ? config.warmup_min_requests : 0;
  plan.window_ns = static_cast<int64_t>(config.window_s * 1e9);
  plan.windows = window_count(config);
  const auto load = make_load(config);
  const auto stop = make_stop_rule(config);

  PoolOutcome outcome = [&] {
    try {
      return run_workers(*model, *load, *stop, plan, should_abort);
    } catch (const WorkerFailure& e) {
      const std::string message =
          e.before_measuring ? "model '" + config.model_path + "' failed on its inputs " +
                                   model->describe()["inputs"].dump() + ": " + e.what()
                             : "model '" + config.model_path + "' failed while measuring: " + e.what();
      if (e.out_of_memory) throw OutOfMemory(message);
      throw EngineError(message);
    }
  }();

  RunRecord run;
  run.merged = outcome.merged.get();
  run.batch_size = model->batch_size();
  run.warmup_requests = outcome.warmup_requests;
  run.interrupted = outcome.interrupted;
  run.stop_reason = outcome.stop_reason;
  run.stop_rule = stop->describe();
  run.load = load->describe(outcome.end_ns);
  run.intra_op_threads = plan.intra_op_threads;
  // Calibration is skipped after Ctrl-C: the user asked to stop.
  const bool calibrate_now = with_calibration && !outcome.interrupted;

  Measurement m;
  m.host = outcome.merged->host();
  const double since_start_s = static_cast<double>(now_ns() - outcome.start_ns) / 1e9;
  m.start_epoch_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() - since_start_s;
  m.result = build_result(config, model->describe(), run,
                          calibrate_now ? calibrate(config, device) : nlohmann::json(nullptr),
                          describe_environment(device));
  return m;
}

}  // namespace

Measurement measure(const RunConfig& config, const AbortCheck& should_abort, bool with_calibration) {
  try {
    return measure_unchecked(config, should_abort, with_calibration);
  } catch (const c10::Error& e) {
    throw_engine_error(e, "measuring '" + config.model_path + "' failed: " + short_message(e));
  }
}

}  // namespace infermeter
