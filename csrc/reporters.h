// How a result document is shown: the console summary (the binary prints it,
// Python's Result.summary() returns it) and the JSON file.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace infermeter {

// A duration in the unit (ns, us, ms, s) that keeps three significant digits.
std::string format_duration_ns(double ns);

// The human-readable summary of a result document, one fact a line.
std::string console_summary(const nlohmann::json& result);

// Writes the document, indented, to `path`; std::invalid_argument when it cannot.
void write_json(const std::string& path, const nlohmann::json& result);

}  // namespace infermeter
