// The loads by name: a new load generator is one line here.
#include <stdexcept>

#include "infermeter/load_generator.h"
#include "dynamic_batching.h"
#include "open_loop.h"

namespace infermeter {

namespace {

LoadKind closed_loop_kind() {
  return {"closed",
          [](const RunConfig& c) {
            if (c.rate_per_s)
              throw std::invalid_argument("rate is an open-loop arrival rate: it needs load open (the default "
                                          "when a rate is given)");
          },
          [](const RunConfig&) -> std::unique_ptr<LoadGenerator> { return std::make_unique<ClosedLoop>(); },
          [](const nlohmann::json&) { return std::string(); }};
}

}  // namespace

const std::vector<LoadKind>& load_kinds() {
  static const std::vector<LoadKind> kinds = {closed_loop_kind(), open_loop_kind(), dynamic_batching_kind()};
  return kinds;
}

std::vector<std::string> load_names() {
  std::vector<std::string> names;
  for (const auto& kind : load_kinds()) names.push_back(kind.name);
  return names;
}

const LoadKind& load_kind(const std::string& name) {
  std::string known;
  for (const auto& kind : load_kinds()) {
    if (kind.name == name) return kind;
    known += (known.empty() ? "" : ", ") + kind.name;
  }
  throw std::invalid_argument("unknown load '" + name + "' (known: " + known + ")");
}

}  // namespace infermeter
