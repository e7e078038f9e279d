#include "engine.h"

#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>

#include "calibration.h"
#include "clock.h"
#include "device.h"
#include "environment.h"
#include "errors.h"
#include "model_runner.h"

namespace infermeter {

namespace {

nlohmann::json latency_summary(const Histogram& h) {
  if (h.total_count() == 0) return nullptr;
  return {{"count", h.total_count()},
          {"mean_ns", h.mean()},
          {"stddev_ns", h.stddev()},
          {"min_ns", h.min_value()},
          {"p50_ns", h.value_at_percentile(50)},
          {"p90_ns", h.value_at_percentile(90)},
          {"p95_ns", h.value_at_percentile(95)},
          {"p99_ns", h.value_at_percentile(99)},
          {"p99_9_ns", h.value_at_percentile(99.9)},
          {"max_ns", h.max_value()},
          {"saturated", h.saturated()},
          {"histogram", h.encode()}};
}

nlohmann::json describe_config(const RunConfig& c, const c10::Device& device, int64_t batch_size) {
  return {{"device", device.str()},
          {"batch_size", batch_size},
          {"threads", c.threads},
          {"replicas", c.replicas == Replicas::kPerThread ? "per-thread" : "shared"},
          {"warmup_s", c.warmup_s},
          {"warmup_min_requests", c.warmup_min_requests},
          {"duration_s", c.duration_s ? nlohmann::json(*c.duration_s) : nlohmann::json(nullptr)},
          {"requests", c.requests ? nlohmann::json(*c.requests) : nlohmann::json(nullptr)},
          {"window_s", c.window_s},
          {"seed", c.seed},
          {"explicit_inputs", !c.inputs.empty()}};
}

size_t window_count(const RunConfig& c) {
  // Room for the whole run plus stragglers; an unbounded run gets an hour.
  const double horizon_s = c.duration_s ? *c.duration_s + 60.0 : 3600.0;
  return static_cast<size_t>(std::ceil(horizon_s / c.window_s)) + 1;
}

std::vector<int64_t> trimmed_completions(const Recorder& r, int64_t window_ns) {
  const auto& all = r.completions();
  const size_t used = std::min(all.size(), static_cast<size_t>(r.last_completion_ns() / window_ns) + 1);
  return {all.begin(), all.begin() + static_cast<std::ptrdiff_t>(used)};
}

Measurement measure_unchecked(const RunConfig& config, const AbortCheck& should_abort, bool with_calibration) {
  validate(config);
  const c10::Device device = parse_device(config.device);

  // Inference mode on this thread too: the probe request and every replica
  // copy then see the same grad state as the workers.
  c10::InferenceMode inference_mode;
  auto model = open_model(config, device);
  // One request before any thread starts: a wrong input shape or dtype fails
  // here with the model's own message rather than mid-run.
  try {
    auto probe = model->make_replica(0);
    (void)probe->infer();
    synchronize(device);
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    throw_engine_error(e, "model '" + config.model_path + "' failed on its inputs " +
                              model->describe()["inputs"].dump() + ": " + short_message(e));
  }

  ClosedLoopPlan plan;
  plan.device = device;
  plan.threads = config.threads;
  plan.warmup_s = config.warmup_s;
  plan.warmup_min_requests = config.warmup_s > 0 ? config.warmup_min_requests : 0;
  plan.window_ns = static_cast<int64_t>(config.window_s * 1e9);
  plan.windows = window_count(config);
  StopRule stop(config.duration_s, config.requests);

  ClosedLoopOutcome outcome = [&] {
    try {
      return run_closed_loop(*model, plan, stop, should_abort);
    } catch (const EngineError& e) {
      throw_engine_error(e, "model '" + config.model_path + "' failed while measuring: " + e.what());
    }
  }();

  const auto& merged = outcome.merged;
  const int64_t requests = merged.host().total_count();
  const double elapsed_s = static_cast<double>(outcome.measured_ns) / 1e9;
  const double requests_per_s = elapsed_s > 0 ? static_cast<double>(requests) / elapsed_s : 0.0;

  Measurement m;
  m.host = merged.host();
  const double since_start_s = static_cast<double>(now_ns() - outcome.start_ns) / 1e9;
  m.start_epoch_s = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() - since_start_s;
  m.result = {
      {"schema", kResultSchema},
      {"model", model->describe()},
      {"config", describe_config(config, device, model->batch_size())},
      {"measurement",
       {{"requests", requests},
        {"inferences", requests * model->batch_size()},
        {"warmup_requests", outcome.warmup_requests},
        {"elapsed_s", elapsed_s},
        {"interrupted", outcome.interrupted},
        {"requests_per_s", requests_per_s},
        {"inferences_per_s", requests_per_s * static_cast<double>(model->batch_size())}}},
      {"latency",
       {{"host", latency_summary(merged.host())},
        {"launch", latency_summary(merged.launch())},
        {"device", latency_summary(merged.device())}}},
      {"timeline", {{"window_s", config.window_s}, {"completions", trimmed_completions(merged, plan.window_ns)}}},
      {"calibration", with_calibration ? calibrate(device) : nlohmann::json(nullptr)},
      {"environment", describe_environment(device)},
  };
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
