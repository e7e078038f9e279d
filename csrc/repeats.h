// Repeated measurements: K independent runs of one configuration (fresh
// replicas, or fresh processes for the binary), and how much they agree.
// Google Benchmark reports repetitions with their mean, median, stddev and
// CV; this adds a t interval on the mean, for throughput and the latency
// percentiles.
#pragma once

#include <nlohmann/json.hpp>

#include <vector>

namespace infermeter {

// The run to report as the measurement: the one of median throughput (a real
// run, so all its figures belong together).
size_t median_run(const std::vector<nlohmann::json>& runs);

// {"count", "runs": [per run: inferences_per_s, requests, elapsed_s, p50_ns,
// p99_ns, ...], "reported_run", and for inferences_per_s and each percentile
// the runs stated: {"mean", "stddev", "cv", "lo", "hi", "runs"}}; the
// interval is the mean's two-sided 95% t interval (null for one run).
nlohmann::json repeat_summary(const std::vector<nlohmann::json>& runs);

}  // namespace infermeter
