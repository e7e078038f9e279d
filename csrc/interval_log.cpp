#include "interval_log.h"

#include <cstdio>
#include <ctime>
#include <fstream>
#include <stdexcept>

namespace infermeter {

void write_interval_log(const std::string& path, const Histogram& histogram, double start_epoch_s, double length_s,
                        const std::string& tag) {
  std::ofstream out(path);
  if (!out) throw std::invalid_argument("cannot write the interval log '" + path + "'");
  const auto start = static_cast<std::time_t>(start_epoch_s);
  char when[64];
  std::strftime(when, sizeof(when), "%a %b %d %H:%M:%S UTC %Y", std::gmtime(&start));
  char line[256];
  out << "#[Histogram log format version 1.3]\n";
  std::snprintf(line, sizeof(line), "#[StartTime: %.3f (seconds since epoch), %s]\n", start_epoch_s, when);
  out << line;
  std::snprintf(line, sizeof(line), "#[BaseTime: %.3f (seconds since epoch)]\n", start_epoch_s);
  out << line;
  out << "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";
  std::snprintf(line, sizeof(line), "Tag=%s,%.3f,%.3f,%.3f,", tag.c_str(), 0.0, length_s,
                static_cast<double>(histogram.max_value()) / 1e6);
  out << line << histogram.encode() << "\n";
  if (!out) throw std::runtime_error("failed writing the interval log '" + path + "'");
}

}  // namespace infermeter
