#include "result_builder.h"

#include <algorithm>
#include <thread>

#include "infermeter/options.h"
#include "repeats.h"
#include "reporters.h"
#include "statistics.h"

namespace infermeter {

namespace {

std::vector<int64_t> trimmed_completions(const Recorder& r, double window_s) {
  const auto window_ns = static_cast<int64_t>(window_s * 1e9);
  return r.completions(static_cast<size_t>(r.last_completion_ns() / window_ns) + 1);
}

// On a GPU: whether launching, not the device, bounds a request.
nlohmann::json launch_bound(const Recorder& r, const std::string& runner) {
  if (r.launch().total_count() == 0 || r.host().total_count() == 0) return nullptr;
  const double share =
      static_cast<double>(r.launch().value_at_percentile(50)) / static_cast<double>(r.host().value_at_percentile(50));
  const bool bound = share >= kLaunchBoundShare;
  return {{"launch_p50_over_host_p50", share},
          {"launch_bound", bound},
          {"remedy", !bound                ? nlohmann::json(nullptr)
                     : runner == "torchscript" ? nlohmann::json("cuda-graph runner")
                     : runner == "aoti"        ? nlohmann::json("aoti-graph runner")
                                               : nlohmann::json(nullptr)}};
}

// What a reader must know to trust the figures, said once in the result.
nlohmann::json warnings(const RunConfig& config, int intra_op_threads) {
  nlohmann::json out = nlohmann::json::array();
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  if (config.device == "cpu" && cores > 0 && config.threads * intra_op_threads > cores)
    out.push_back(std::to_string(config.threads) + " client threads x " + std::to_string(intra_op_threads) +
                  " intra-op threads = " + std::to_string(config.threads * intra_op_threads) +
                  " compute threads on " + std::to_string(cores) +
                  " cores: they contend, so the figures measure that contention (leave intra_op_threads unset for "
                  "cores / threads)");
  return out;
}

}  // namespace

nlohmann::json latency_summary(const Histogram& h) {
  if (h.total_count() == 0) return nullptr;
  nlohmann::json out = {{"count", h.total_count()},     {"mean_ns", h.mean()},         {"stddev_ns", h.stddev()},
                        {"min_ns", h.min_value()},      {"max_ns", h.max_value()},     {"saturated", h.saturated()},
                        {"histogram", h.encode()}};
  nlohmann::json intervals = nlohmann::json::object();
  nlohmann::json unsupported = nlohmann::json::object();
  for (const auto& [key, percentile] : kPercentiles) {
    const double q = percentile / 100.0;
    // Below LoadGen's floor even the largest sample does not bound the
    // percentile from above with 95% confidence: no figure to sign.
    const int64_t needed = min_samples_for_percentile(q, kConfidence);
    if (h.total_count() < needed) {
      out[key] = nullptr;
      unsupported[key] = "needs at least " + std::to_string(needed) + " samples, has " +
                         std::to_string(h.total_count());
      continue;
    }
    out[key] = h.value_at_percentile(percentile);
    if (const auto ci = histogram_percentile_interval(h, q, kConfidence))
      intervals[key] = {ci->lo, ci->hi};
    else
      intervals[key] = nullptr;  // an upper bound exists, a two-sided interval not yet
  }
  out["intervals"] = intervals;
  out["intervals_kind"] = kWithinRun;
  if (!unsupported.empty()) out["unsupported"] = unsupported;
  return out;
}

nlohmann::json throughput_interval(const std::vector<int64_t>& windows, double window_s, double estimate_per_s,
                                   int64_t batch_size) {
  if (windows.size() < kMinRateWindows + 2)
    return {{"reason", "needs at least " + std::to_string(kMinRateWindows + 2) + " completion windows, has " +
                           std::to_string(windows.size())}};
  const auto rate = whole_window_rate({windows.begin(), windows.end() - 1}, window_s, kConfidence);
  if (!rate) return {{"reason", "no completions in the whole windows"}};
  // The batch means' relative width, applied to the one throughput estimate.
  const double relative = rate->half_width / rate->rate_per_s;
  const double estimate = estimate_per_s * static_cast<double>(batch_size);
  return {{"kind", kWithinRun},
          {"confidence", kConfidence},
          {"lo_inferences_per_s", std::max(0.0, estimate * (1 - relative))},  // few windows: wider than the rate
          {"hi_inferences_per_s", estimate * (1 + relative)},
          {"half_width_rel", relative},
          {"standard_error_rel", relative / student_t_quantile(0.5 + kConfidence / 2, rate->batches - 1)},
          {"method", "batch means: " + std::to_string(rate->batches) + " batches of " +
                         std::to_string(rate->windows_per_batch) + " windows of " + format_duration_ns(window_s * 1e9)}};
}

nlohmann::json build_result(const RunConfig& config, const nlohmann::json& model, const RunRecord& run,
                            const nlohmann::json& calibration, const nlohmann::json& environment) {
  const Recorder& r = *run.merged;
  const int64_t requests = r.host().total_count();
  const std::vector<int64_t> completions = trimmed_completions(r, config.window_s);
  const Recorded recorded{requests, r.last_completion_ns(), run.stopped_ns, r.worker_rate_sum_per_s(), r.batches()};
  // One throughput definition per load, the load's own (load_generator.h).
  const double requests_per_s = run.load->requests_per_s(recorded);
  const auto batch = static_cast<double>(run.batch_size);
  nlohmann::json latency = {{"host", latency_summary(r.host())},
                            {"launch", latency_summary(r.launch())},
                            {"device", latency_summary(r.device())}};
  if (r.response().total_count() > 0) {
    latency["response"] = latency_summary(r.response());
    latency["queue_wait"] = latency_summary(r.queue_wait());
    latency["dispatch"] = latency_summary(r.dispatch());
  }
  nlohmann::json described = options_for_result(config);
  described["batch_size"] = run.batch_size;
  described["intra_op_threads"] = run.intra_op_threads;
  described["explicit_inputs"] = !config.inputs.empty();
  return {
      {"schema", kResultSchema},
      {"model", model},
      {"config", described},
      {"measurement",
       {{"requests", requests},
        {"inferences", requests * run.batch_size},
        {"warmup_requests", run.warmup_requests},
        {"elapsed_s", static_cast<double>(r.last_completion_ns()) / 1e9},
        {"start_epoch_s", run.start_epoch_s},
        {"interrupted", run.interrupted},
        {"outcome", requests == 0 ? "no_samples" : "ok"},
        {"no_samples_cause", requests > 0 ? nlohmann::json(nullptr)
                             : run.interrupted ? nlohmann::json("interrupted before any measured request completed")
                             : run.load->describe(recorded).value("scheduled", int64_t{-1}) == 0
                                 ? nlohmann::json("the arrival schedule drew no request in the run: rate x duration "
                                                  "is too small (raise either)")
                                 : nlohmann::json("no measured request completed before the stop (" + run.stop_reason +
                                                  "): one request takes longer than the run allows")},
        {"requests_per_s", requests_per_s},
        {"inferences_per_s", requests_per_s * batch},
        {"throughput_ci", throughput_interval(completions, config.window_s, requests_per_s, run.batch_size)},
        {"throughput_estimator", run.load->throughput_estimator()},
        {"launch_bound", launch_bound(r, config.runner)},
        {"load", run.load->describe(recorded)},
        {"stop", {{"rule", run.stop_rule}, {"reason", run.stop_reason}}}}},
      {"latency", latency},
      {"timeline", {{"window_s", config.window_s}, {"completions", completions}}},
      {"memory", run.memory},
      {"energy", run.energy},
      {"warnings", warnings(config, run.intra_op_threads)},
      {"calibration", calibration},
      {"environment", environment},
  };
}

nlohmann::json combine_repeats(const std::vector<nlohmann::json>& runs, const std::string& isolation) {
  const nlohmann::json summary = repeat_summary(runs, isolation);
  nlohmann::json doc = runs.at(summary.at("reported_run").get<size_t>());
  doc["repeats"] = summary;
  // The intervals the document states become the runs' own agreement (a t
  // interval for their mean), which takes in the spread between processes
  // that one run's batch means cannot see.
  const auto& rate = summary.at("inferences_per_s");
  if (!rate.at("lo").is_number()) return doc;
  auto& m = doc.at("measurement");
  const double mean = rate.at("mean").get<double>();
  m["throughput_ci"] = {{"kind", kAcrossRuns},
                        {"confidence", kConfidence},
                        {"lo_inferences_per_s", std::max(0.0, rate.at("lo").get<double>())},
                        {"hi_inferences_per_s", rate.at("hi").get<double>()},
                        {"half_width_rel", (rate.at("hi").get<double>() - rate.at("lo").get<double>()) / 2 / mean},
                        {"runs", runs.size()},
                        {"method", "t interval on the mean of " + std::to_string(runs.size()) + " runs in " + isolation +
                                       " (the figure is the median run's)"},
                        {"within_run", m.value("throughput_ci", nlohmann::json(nullptr))}};
  auto& judged = doc.at("latency").at(judged_latency_kind(doc));
  if (!judged.is_object()) return doc;
  for (const auto& [key, percentile] : kPercentiles) {
    // A percentile that fewer than two runs state, or that the reported run
    // does not, has no across-run interval: none is stated, rather than the
    // reported run's own under the across-run kind.
    const auto& across = summary.value(key, nlohmann::json(nullptr));
    const bool stated = judged.contains(key) && judged.at(key).is_number() && across.is_object() &&
                        across.at("lo").is_number();
    judged["intervals"][key] = stated ? nlohmann::json::array({std::max(0.0, across.at("lo").get<double>()),
                                                               across.at("hi").get<double>()})
                                      : nlohmann::json(nullptr);
  }
  judged["intervals_kind"] = kAcrossRuns;
  return doc;
}

}  // namespace infermeter
