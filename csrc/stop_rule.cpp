#include "stop_rule.h"

#include <algorithm>

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

nlohmann::json AnyOfRule::describe() const {
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& rule : rules_) parts.push_back(rule->describe());
  return {{"rule", "any-of"}, {"rules", parts}};
}

}  // namespace infermeter
