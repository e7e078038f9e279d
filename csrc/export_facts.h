// The export facts a model file carries (infermeter/export.json), added to a
// model's description without ever writing an invalid document.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace infermeter {

// Sets description["export"] to the parsed facts (null when there are none);
// facts that are not a JSON object are left out and named in
// description["export_warning"].
inline void add_export_facts(nlohmann::json& description, const std::string& text) {
  description["export"] = nullptr;
  if (text.empty()) return;
  auto facts = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (facts.is_object())
    description["export"] = std::move(facts);
  else
    description["export_warning"] = "the model's export facts (infermeter/export.json) are not a JSON object; ignored";
}

}  // namespace infermeter
