#include "interval_log.h"

#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <string>

#include "reporters.h"

namespace infermeter {

void write_interval_log(const std::string& path, const nlohmann::json& result) {
  const auto& host = result.at("latency").at("host");
  if (host.is_null()) throw std::invalid_argument("no interval log for '" + path + "': no request was measured");
  const auto& m = result.at("measurement");
  const double start_epoch_s = m.at("start_epoch_s").get<double>();
  const auto start = static_cast<std::time_t>(start_epoch_s);
  char when[64];
  std::strftime(when, sizeof(when), "%a %b %d %H:%M:%S UTC %Y", std::gmtime(&start));
  char line[256];
  std::string out = "#[Histogram log format version 1.3]\n";
  std::snprintf(line, sizeof(line), "#[StartTime: %.3f (seconds since epoch), %s]\n", start_epoch_s, when);
  out += line;
  std::snprintf(line, sizeof(line), "#[BaseTime: %.3f (seconds since epoch)]\n", start_epoch_s);
  out += line;
  out += "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";
  std::snprintf(line, sizeof(line), "Tag=host,%.3f,%.3f,%.3f,", 0.0, m.at("elapsed_s").get<double>(),
                host.at("max_ns").get<double>() / 1e6);
  out += line + host.at("histogram").get<std::string>() + "\n";
  write_file_atomically(path, out);
}

}  // namespace infermeter
