// The host latency of a result as an HdrHistogram interval log (format 1.3),
// the form HdrHistogram's own log readers and plotters take.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace infermeter {

// Writes the measured period of `result` as one interval: its host latency
// histogram (already in HdrHistogram's compressed encoding, nanoseconds),
// from measurement.start_epoch_s for measurement.elapsed_s; max is written in
// milliseconds, the log's convention. std::invalid_argument when the result
// measured no request.
void write_interval_log(const std::string& path, const nlohmann::json& result);

}  // namespace infermeter
