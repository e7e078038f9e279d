#include "stop_rules.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "statistics.h"

namespace infermeter {

DurationRule::DurationRule(double duration_s) : duration_ns_(static_cast<int64_t>(duration_s * 1e9)) {}

std::optional<std::string> DurationRule::check(const Progress& progress) {
  if (progress.elapsed_ns >= duration_ns_) return "duration reached";
  return std::nullopt;
}

nlohmann::json DurationRule::describe() const {
  return {{"rule", "duration"}, {"duration_s", static_cast<double>(duration_ns_) / 1e9}};
}

nlohmann::json RequestCountRule::describe() const { return {{"rule", "requests"}, {"requests", requests_}}; }

bool AnyOfRule::claim_request() noexcept {
  // Every rule sees every ticket, so each keeps its own count right.
  bool allowed = true;
  for (auto& rule : rules_) allowed = rule->claim_request() && allowed;
  return allowed;
}

std::optional<std::string> AnyOfRule::check(const Progress& progress) {
  for (auto& rule : rules_)
    if (auto reason = rule->check(progress)) return reason;
  return std::nullopt;
}

std::optional<int64_t> AnyOfRule::deadline_ns() const {
  std::optional<int64_t> earliest;
  for (const auto& rule : rules_)
    if (const auto d = rule->deadline_ns()) earliest = earliest ? std::min(*earliest, *d) : *d;
  return earliest;
}

bool AnyOfRule::wants_progress() const {
  return std::any_of(rules_.begin(), rules_.end(), [](const auto& rule) { return rule->wants_progress(); });
}

nlohmann::json AnyOfRule::describe() const {
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& rule : rules_) parts.push_back(rule->describe());
  return {{"rule", "any-of"}, {"rules", parts}};
}

namespace {

std::string percentile_name(double percentile) {
  char text[32];
  std::snprintf(text, sizeof text, "p%g", percentile);
  return text;
}

std::string percent(double share) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2g%%", 100 * share);
  return text;
}

}  // namespace

// The target's ranges are RunConfig's to validate (run_config.cpp).
ConfidenceRule::ConfidenceRule(ConfidenceTarget target) : target_(target) {}

ConfidenceRule::Estimate ConfidenceRule::estimate(const Progress& p) const {
  Estimate e;
  e.requests = p.completed;
  if (const auto rate = whole_window_rate(p.windows, p.window_s)) e.throughput_rel = rate->half_width / rate->rate_per_s;
  if (p.target && p.target->total_count() > 0) {
    const double q = target_.percentile / 100.0;
    if (const auto ci = histogram_percentile_interval(*p.target, q)) {
      const auto value = static_cast<double>(p.target->value_at_percentile(target_.percentile));
      if (value > 0)
        e.percentile_rel = std::max(value - static_cast<double>(ci->lo), static_cast<double>(ci->hi) - value) / value;
    }
  }
  return e;
}

std::optional<int64_t> ConfidenceRule::requests_needed(const Estimate& e) const {
  if (!e.throughput_rel || !e.percentile_rel || e.requests == 0) return std::nullopt;
  const double worst = std::max(*e.throughput_rel, *e.percentile_rel);
  const double factor = std::max(1.0, (worst / target_.half_width_rel) * (worst / target_.half_width_rel));
  return static_cast<int64_t>(std::ceil(static_cast<double>(e.requests) * factor));
}

std::optional<std::string> ConfidenceRule::check(const Progress& p) {
  if (static_cast<double>(p.elapsed_ns) < target_.min_duration_s * 1e9) return std::nullopt;
  last_ = estimate(p);
  const auto within = [&](const std::optional<double>& rel) { return rel && *rel <= target_.half_width_rel; };
  const std::string widths =
      "throughput +-" + (last_.throughput_rel ? percent(*last_.throughput_rel) : std::string("?")) + ", " +
      percentile_name(target_.percentile) + " +-" +
      (last_.percentile_rel ? percent(*last_.percentile_rel) : std::string("?")) + " (95%)";
  if (within(last_.throughput_rel) && within(last_.percentile_rel)) {
    converged_ = true;
    return "converged: " + widths;
  }
  if (static_cast<double>(p.elapsed_ns) >= target_.max_duration_s * 1e9)
    return "maximum duration reached before converging: " + widths;
  return std::nullopt;
}

std::optional<int64_t> ConfidenceRule::deadline_ns() const {
  return static_cast<int64_t>(target_.max_duration_s * 1e9);
}

nlohmann::json ConfidenceRule::describe() const {
  const auto or_null = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  nlohmann::json out = {{"rule", "ci"},
                        {"half_width_rel", target_.half_width_rel},
                        {"percentile", target_.percentile},
                        {"confidence", 0.95},
                        {"min_duration_s", target_.min_duration_s},
                        {"max_duration_s", target_.max_duration_s},
                        {"converged", converged_},
                        {"at_stop",
                         {{"requests", last_.requests},
                          {"throughput_half_width_rel", or_null(last_.throughput_rel)},
                          {"percentile_half_width_rel", or_null(last_.percentile_rel)}}}};
  out["requests_needed"] = converged_ ? nlohmann::json(nullptr) : or_null(requests_needed(last_));
  return out;
}

}  // namespace infermeter
