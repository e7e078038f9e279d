#include "repeats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "result_builder.h"
#include "statistics.h"

namespace infermeter {

namespace {

const nlohmann::json& judged_latency(const nlohmann::json& run) { return run.at("latency").at(judged_latency_kind(run)); }

double throughput(const nlohmann::json& run) { return run.at("measurement").at("inferences_per_s").get<double>(); }

nlohmann::json spread(const std::vector<double>& values) {
  const auto n = static_cast<double>(values.size());
  const double mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  const double stddev = values.size() > 1 ? std::sqrt(squares / (n - 1)) : 0.0;
  nlohmann::json out = {{"mean", mean}, {"stddev", stddev}, {"cv", mean != 0 ? stddev / mean : 0.0},
                        {"runs", values.size()}, {"lo", nullptr}, {"hi", nullptr}};
  if (values.size() > 1) {
    const double half = student_t_quantile(0.975, n - 1) * stddev / std::sqrt(n);
    out["lo"] = mean - half;
    out["hi"] = mean + half;
  }
  return out;
}

// The part of the runs' spread each run sees itself: the root mean square of
// their batch-means standard errors, relative; null when a run states none.
nlohmann::json within_run_cv(const std::vector<nlohmann::json>& runs) {
  double squares = 0;
  for (const auto& run : runs) {
    const auto& ci = run.at("measurement").value("throughput_ci", nlohmann::json(nullptr));
    if (!ci.is_object() || !ci.contains("standard_error_rel")) return nullptr;
    squares += std::pow(ci.at("standard_error_rel").get<double>(), 2);
  }
  return std::sqrt(squares / static_cast<double>(runs.size()));
}

}  // namespace

const char* judged_latency_kind(const nlohmann::json& run) {
  const auto& latency = run.at("latency");
  return latency.contains("response") && latency["response"].is_object() ? "response" : "host";
}

size_t median_run(const std::vector<nlohmann::json>& runs) {
  if (runs.empty()) throw std::invalid_argument("repeat summary: no runs");
  std::vector<size_t> order(runs.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return throughput(runs[a]) < throughput(runs[b]); });
  return order[(order.size() - 1) / 2];
}

nlohmann::json repeat_summary(const std::vector<nlohmann::json>& runs, const std::string& isolation) {
  const size_t reported = median_run(runs);
  nlohmann::json listed = nlohmann::json::array();
  std::vector<double> rates;
  for (const auto& run : runs) {
    const auto& m = run.at("measurement");
    nlohmann::json row = {{"inferences_per_s", m.at("inferences_per_s")}, {"requests", m.at("requests")},
                          {"elapsed_s", m.at("elapsed_s")}, {"outcome", m.value("outcome", "ok")}};
    const auto& latency = judged_latency(run);
    for (const auto& [key, percentile] : kPercentiles)
      row[key] = latency.is_object() ? latency.at(key) : nlohmann::json(nullptr);
    listed.push_back(row);
    rates.push_back(throughput(run));
  }
  nlohmann::json rate = spread(rates);
  rate["within_run_cv"] = within_run_cv(runs);
  if (rate["within_run_cv"].is_number() && runs.size() > 1) {
    const double excess = std::pow(rate["cv"].get<double>(), 2) - std::pow(rate["within_run_cv"].get<double>(), 2);
    rate["between_run_cv"] = std::sqrt(std::max(0.0, excess));
  } else {
    rate["between_run_cv"] = nullptr;
  }
  nlohmann::json out = {{"count", runs.size()}, {"isolation", isolation}, {"reported_run", reported},
                        {"runs", listed}, {"inferences_per_s", rate}};
  for (const auto& [key, percentile] : kPercentiles) {
    std::vector<double> values;
    for (const auto& row : listed)
      if (row[key].is_number()) values.push_back(row[key].get<double>());
    out[key] = values.empty() ? nlohmann::json(nullptr) : spread(values);
  }
  return out;
}

}  // namespace infermeter
