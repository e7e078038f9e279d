#include "result_builder.h"

namespace infermeter {

namespace {

constexpr std::pair<const char*, double> kPercentiles[] = {
    {"p50_ns", 50}, {"p90_ns", 90}, {"p95_ns", 95}, {"p99_ns", 99}, {"p99_9_ns", 99.9}};

nlohmann::json describe_config(const RunConfig& c, int64_t batch_size, int intra_op_threads) {
  return {{"device", c.device},
          {"runner", c.runner},
          {"batch_size", batch_size},
          {"threads", c.threads},
          {"intra_op_threads", intra_op_threads},
          {"replicas", c.replicas},
          {"warmup_s", c.warmup_s},
          {"warmup_min_requests", c.warmup_min_requests},
          {"duration_s", c.duration_s ? nlohmann::json(*c.duration_s) : nlohmann::json(nullptr)},
          {"requests", c.requests ? nlohmann::json(*c.requests) : nlohmann::json(nullptr)},
          {"window_s", c.window_s},
          {"seed", c.seed},
          {"explicit_inputs", !c.inputs.empty()}};
}

std::vector<int64_t> trimmed_completions(const Recorder& r, double window_s) {
  const auto& all = r.completions();
  const auto window_ns = static_cast<int64_t>(window_s * 1e9);
  const size_t used = std::min(all.size(), static_cast<size_t>(r.last_completion_ns() / window_ns) + 1);
  return {all.begin(), all.begin() + static_cast<std::ptrdiff_t>(used)};
}

// On a GPU: whether launching, not the device, bounds a request.
nlohmann::json launch_bound(const Recorder& r, const std::string& runner) {
  if (r.launch().total_count() == 0 || r.host().total_count() == 0) return nullptr;
  const double share =
      static_cast<double>(r.launch().value_at_percentile(50)) / static_cast<double>(r.host().value_at_percentile(50));
  const bool bound = share >= kLaunchBoundShare;
  return {{"launch_p50_over_host_p50", share},
          {"launch_bound", bound},
          {"remedy", bound && runner == "torchscript" ? nlohmann::json("cuda-graph runner") : nlohmann::json(nullptr)}};
}

}  // namespace

nlohmann::json latency_summary(const Histogram& h) {
  if (h.total_count() == 0) return nullptr;
  nlohmann::json out = {{"count", h.total_count()},     {"mean_ns", h.mean()},         {"stddev_ns", h.stddev()},
                        {"min_ns", h.min_value()},      {"max_ns", h.max_value()},     {"saturated", h.saturated()},
                        {"histogram", h.encode()}};
  for (const auto& [key, percentile] : kPercentiles) out[key] = h.value_at_percentile(percentile);
  return out;
}

nlohmann::json build_result(const RunConfig& config, const nlohmann::json& model, const RunRecord& run,
                            const nlohmann::json& calibration, const nlohmann::json& environment) {
  const Recorder& r = *run.merged;
  const int64_t requests = r.host().total_count();
  const double requests_per_s = r.worker_rate_sum_per_s();
  const auto batch = static_cast<double>(run.batch_size);
  nlohmann::json latency = {{"host", latency_summary(r.host())},
                            {"launch", latency_summary(r.launch())},
                            {"device", latency_summary(r.device())}};
  if (r.response().total_count() > 0) {
    latency["response"] = latency_summary(r.response());
    latency["queue_wait"] = latency_summary(r.queue_wait());
  }
  return {
      {"schema", kResultSchema},
      {"model", model},
      {"config", describe_config(config, run.batch_size, run.intra_op_threads)},
      {"measurement",
       {{"requests", requests},
        {"inferences", requests * run.batch_size},
        {"warmup_requests", run.warmup_requests},
        {"elapsed_s", static_cast<double>(r.last_completion_ns()) / 1e9},
        {"interrupted", run.interrupted},
        {"outcome", requests == 0 ? "no_samples" : "ok"},
        {"no_samples_cause", requests > 0 ? nlohmann::json(nullptr)
                             : run.interrupted ? nlohmann::json("interrupted before any measured request completed")
                                               : nlohmann::json("no measured request completed before the stop (" +
                                                                run.stop_reason +
                                                                "): one request takes longer than the run allows")},
        {"requests_per_s", requests_per_s},
        {"inferences_per_s", requests_per_s * batch},
        {"throughput_estimator", "sum over workers of completions / (first measured issue to last completion)"},
        {"launch_bound", launch_bound(r, config.runner)},
        {"load", run.load},
        {"stop", {{"rule", run.stop_rule}, {"reason", run.stop_reason}}}}},
      {"latency", latency},
      {"timeline", {{"window_s", config.window_s}, {"completions", trimmed_completions(r, config.window_s)}}},
      {"calibration", calibration},
      {"environment", environment},
  };
}

}  // namespace infermeter
