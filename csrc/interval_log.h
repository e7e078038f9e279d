#pragma once

#include <string>

#include "histogram.h"

namespace infermeter {

// Writes an HdrHistogram interval log (format 1.3) holding the measured period
// as one interval, in nanoseconds; max is written in milliseconds, the log's
// convention. HdrHistogram's log readers and plotters take it as is.
void write_interval_log(const std::string& path, const Histogram& histogram, double start_epoch_s, double length_s,
                        const std::string& tag);

}  // namespace infermeter
