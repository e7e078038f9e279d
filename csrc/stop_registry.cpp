// The stop rules by name: a new rule is one line here.
#include "infermeter/stop_rule.h"
#include "stop_rules.h"

namespace infermeter {

const std::vector<StopKind>& stop_kinds() {
  static const std::vector<StopKind> kinds = {
      {"ci", [](const RunConfig& c) { return c.ci.has_value(); },
       [](const RunConfig& c) -> std::unique_ptr<StopRule> {
         return std::make_unique<ConfidenceRule>(
             ConfidenceTarget{*c.ci, c.ci_percentile, c.min_duration_s, *c.duration_s});
       }},
      // With ci, the duration is the statistical rule's maximum, not a rule of its own.
      {"duration", [](const RunConfig& c) { return c.duration_s.has_value() && !c.ci; },
       [](const RunConfig& c) -> std::unique_ptr<StopRule> { return std::make_unique<DurationRule>(*c.duration_s); }},
      {"requests", [](const RunConfig& c) { return c.requests.has_value(); },
       [](const RunConfig& c) -> std::unique_ptr<StopRule> {
         return std::make_unique<RequestCountRule>(*c.requests);
       }},
  };
  return kinds;
}

std::unique_ptr<StopRule> make_stop_rule(const RunConfig& config) {
  std::vector<std::unique_ptr<StopRule>> rules;
  for (const auto& kind : stop_kinds())
    if (kind.applies(config)) rules.push_back(kind.make(config));
  if (rules.size() == 1) return std::move(rules.front());
  return std::make_unique<AnyOfRule>(std::move(rules));
}

}  // namespace infermeter
