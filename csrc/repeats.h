// Repeated measurements: K independent runs of one configuration (fresh
// replicas, or fresh processes for the binary), and how much they agree.
// Google Benchmark reports repetitions with their mean, median, stddev and
// CV; this adds a t interval on the mean, for throughput and the latency
// percentiles.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace infermeter {

// The run to report as the measurement: the one of median throughput (a real
// run, so all its figures belong together).
size_t median_run(const std::vector<nlohmann::json>& runs);

// The latency a repeated result follows across runs: "response" in an open
// loop or with dynamic batching, else "host".
const char* judged_latency_kind(const nlohmann::json& run);

// {"count", "isolation", "runs": [per run: inferences_per_s, requests,
// elapsed_s, p50_ns, p99_ns, ...], "reported_run", and for inferences_per_s
// and each percentile the runs stated: {"mean", "stddev", "cv", "lo", "hi",
// "runs"}}; the interval is the mean's two-sided 95% t interval (null for one
// run). `isolation` says what separated the runs ("fresh processes, back to
// back", "3 separate sweeps"). Throughput also splits its run-to-run variance: "within_run_cv"
// (the runs' own batch-means standard errors, root mean square) and
// "between_run_cv", the part no single run can see (sqrt of the excess of
// the CV's square over the within-run one's, 0 when there is none).
nlohmann::json repeat_summary(const std::vector<nlohmann::json>& runs, const std::string& isolation);

}  // namespace infermeter
