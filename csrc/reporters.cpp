#include "reporters.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "infermeter/load_generator.h"
#include "result_builder.h"
#include "write_all.h"

namespace infermeter {

namespace {

std::string printf_string(const char* format, auto... args) {
  char text[512];
  std::snprintf(text, sizeof text, format, args...);
  return text;
}

std::string value_or(const nlohmann::json& j, const char* key, const std::string& fallback) {
  return j.contains(key) && j.at(key).is_string() ? j.at(key).get<std::string>() : fallback;
}

// The load's own line, from its registry entry; a kind this build does not
// know (a document from another version) has none.
std::string load_line(const nlohmann::json& load) {
  const std::string kind = value_or(load, "kind", "closed");
  for (const auto& known : load_kinds())
    if (known.name == kind) return known.summary_line(load);
  return "";
}

}  // namespace

std::string format_duration_ns(double ns) {
  if (!(ns >= 0) || !std::isfinite(ns))
    throw std::invalid_argument("a duration must be a non-negative number of nanoseconds, got " +
                                std::to_string(ns));
  if (ns == 0) return "0 ns";
  // Rounded to three significant digits before the unit is chosen, so that
  // 999.6 ns reads 1.00 µs rather than 1000 ns.
  const double step = std::pow(10.0, std::floor(std::log10(ns)) - 2);
  const double rounded = std::round(ns / step) * step;
  static constexpr std::pair<double, const char*> kUnits[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "µs"}, {1, "ns"}};
  for (const auto& [scale, unit] : kUnits) {
    if (rounded < scale && scale > 1) continue;
    const double v = rounded / scale;
    const int decimals = std::max(0, 2 - static_cast<int>(std::floor(std::log10(v))));
    return printf_string("%.*f %s", decimals, v, unit);
  }
  return "?";  // unreachable: the last unit takes every value
}

namespace {

// Bytes in the binary unit that shows them with three or four digits.
std::string bytes_text(const nlohmann::json& bytes) {
  if (!bytes.is_number()) return "-";
  double v = bytes.get<double>();
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  size_t u = 0;
  for (; v >= 1024.0 && u + 1 < std::size(units); ++u) v /= 1024.0;
  return u == 0 ? printf_string("%.0f B", v) : printf_string("%.1f %s", v, units[u]);
}

// What the run held at its peak, and the least it could need.
std::string memory_line(const nlohmann::json& m) {
  std::string out = "memory       host peak RSS " + bytes_text(m.at("host_peak_rss_bytes"));
  if (m.at("device_peak_allocated_bytes").is_number() || m.at("device_process_peak_bytes").is_number())
    out += "; device peak " + bytes_text(m.at("device_peak_allocated_bytes")) + " allocated, " +
           bytes_text(m.at("device_peak_reserved_bytes")) + " reserved, " + bytes_text(m.at("device_process_peak_bytes")) +
           " for the process (NVML)";
  if (m.value("lower_bound_bytes", nlohmann::json()).is_number())
    out += "; at least " + bytes_text(m.at("lower_bound_bytes")) + " (weights + one request's inputs and outputs per thread)";
  return out + "\n";
}

std::string energy_line(const nlohmann::json& e) {
  std::string out;
  for (const char* source : {"gpu", "cpu"}) {
    if (!e.contains(source) || !e.at(source).is_object()) continue;
    const auto& r = e.at(source);
    const char* what = std::string_view(source) == "gpu" ? "GPU" : "CPU packages";
    out += printf_string("energy       %s %.4g J per inference, %.1f W mean over %.1f s", what,
                         r.at("joules_per_inference").get<double>(), r.at("mean_watts").get<double>(),
                         e.at("window_s").get<double>());
    if (r.at("inferences_per_kwh").is_number())
      out += printf_string(", %.3g inferences/kWh", r.at("inferences_per_kwh").get<double>());
    if (r.at("note").is_string()) out += " (" + r.at("note").get<std::string>() + ")";
    out += "\n";
  }
  return out;
}

}  // namespace

std::string console_summary(const nlohmann::json& r) {
  const auto& c = r.at("config");
  const auto& m = r.at("measurement");
  std::string out;
  out += "model        " + value_or(r.at("model"), "path", "?") + "\n";
  out += printf_string("device       %s, runner %s, batch %lld, %d thread(s), %s replicas\n",
                       c.at("device").get<std::string>().c_str(), value_or(c, "runner", "torchscript").c_str(),
                       c.at("batch_size").get<long long>(), c.at("threads").get<int>(),
                       value_or(c, "replicas", "shared").c_str());
  const bool interrupted = m.at("interrupted").get<bool>();
  out += printf_string("requests     %lld in %.3f s%s\n", m.at("requests").get<long long>(), m.at("elapsed_s").get<double>(),
                       interrupted ? " (interrupted)" : "");
  if (m.contains("stop") && m.at("stop").is_object() && m.at("stop").at("reason").is_string() &&
      !m.at("stop").at("reason").get<std::string>().empty())
    out += "stopped      " + m.at("stop").at("reason").get<std::string>() + "\n";
  if (m.at("requests").get<long long>() == 0) {
    out += "outcome      no samples: " + value_or(m, "no_samples_cause", "no measured request completed") + "\n";
    return out;
  }
  std::string interval;
  if (m.contains("throughput_ci") && m.at("throughput_ci").is_object() && m.at("throughput_ci").contains("half_width_rel")) {
    const auto& ci = m.at("throughput_ci");
    // Which interval it is decides what it promises: only the across-run one takes in how runs differ.
    const std::string kind = ci.value("kind", std::string(kWithinRun)) == kAcrossRuns
                                 ? "across " + std::to_string(ci.at("runs").get<long long>()) + " runs"
                                 : "within this run";
    interval = printf_string(" +-%.2g%% (95%%, %s)", 100 * ci.at("half_width_rel").get<double>(), kind.c_str());
  }
  out += printf_string("throughput   %.1f inferences/s%s, %.1f requests/s\n", m.at("inferences_per_s").get<double>(),
                       interval.c_str(), m.at("requests_per_s").get<double>());
  if (m.contains("load") && m.at("load").is_object()) out += load_line(m.at("load"));
  std::string unsupported;
  for (const char* kind : {"host", "response", "queue_wait", "dispatch", "launch", "device"}) {
    if (!r.at("latency").contains(kind) || r.at("latency").at(kind).is_null()) continue;
    const auto& l = r.at("latency").at(kind);
    std::string line = printf_string("%-12s mean %s", kind, format_duration_ns(l.at("mean_ns").get<double>()).c_str());
    for (const auto& [key, label] : {std::pair{"p50_ns", "p50"}, {"p90_ns", "p90"}, {"p95_ns", "p95"},
                                     {"p99_ns", "p99"}, {"max_ns", "max"}}) {
      if (!l.contains(key)) continue;
      line += std::string("  ") + label + " " + (l.at(key).is_null() ? "-" : format_duration_ns(l.at(key).get<double>()));
      if (l.at(key).is_null() && unsupported.empty() && l.contains("unsupported") && l.at("unsupported").contains(key))
        unsupported = std::string(label) + " " + l.at("unsupported").at(key).get<std::string>();
    }
    if (l.value("saturated", 0) > 0) line += printf_string("  (%lld above 1 h, clamped)", l.at("saturated").get<long long>());
    out += line + "\n";
  }
  if (!unsupported.empty()) out += "             (- : too few samples to state it; " + unsupported + ")\n";
  if (m.contains("launch_bound") && m.at("launch_bound").is_object()) {
    const auto& lb = m.at("launch_bound");
    if (lb.at("launch_bound").get<bool>())
      out += printf_string("bottleneck   launch-bound: issuing kernels takes %.0f%% of host p50, so the CPU, not the GPU, "
                           "sets the speed%s\n",
                           100 * lb.at("launch_p50_over_host_p50").get<double>(),
                           lb.at("remedy").is_string() ? ("; the " + lb.at("remedy").get<std::string>() + " removes it").c_str()
                                                    : "");
  }
  if (r.contains("memory") && r.at("memory").is_object()) out += memory_line(r.at("memory"));
  if (r.contains("energy") && r.at("energy").is_object()) out += energy_line(r.at("energy"));
  if (r.contains("repeats") && r.at("repeats").is_object()) {
    const auto& rate = r.at("repeats").at("inferences_per_s");
    std::string interval = rate.at("lo").is_number() ? printf_string(", 95%% interval %.1f to %.1f", rate.at("lo").get<double>(),
                                                                   rate.at("hi").get<double>())
                                                  : std::string();
    std::string between = rate.value("between_run_cv", nlohmann::json(nullptr)).is_number()
                              ? printf_string(" (between runs %.2g%%, within a run %.2g%%)",
                                              100 * rate.at("between_run_cv").get<double>(),
                                              100 * rate.at("within_run_cv").get<double>())
                              : std::string();
    out += printf_string("repeats      %lld runs in %s (this is the median): %.1f inferences/s mean, CV %.2g%%%s%s\n",
                         r.at("repeats").at("count").get<long long>(),
                         r.at("repeats").value("isolation", std::string(kBackToBack)).c_str(),
                         rate.at("mean").get<double>(), 100 * rate.at("cv").get<double>(), between.c_str(),
                         interval.c_str());
  }
  if (r.contains("calibration") && r.at("calibration").is_object())
    out += "harness      " + format_duration_ns(r.at("calibration").at("request_floor_ns").get<double>()) +
           " per request at least (no-op model, median)\n";
  if (r.contains("warnings") && r.at("warnings").is_array())
    for (const auto& w : r.at("warnings")) out += "warning      " + w.get<std::string>() + "\n";
  if (r.at("model").contains("export_warning")) out += "warning      " + r.at("model").at("export_warning").get<std::string>() + "\n";
  return out;
}

void write_file_atomically(const std::string& path, const std::string& text) {
  // The rename would replace whatever is there: a device or a pipe too (as
  // root, /dev/null itself). Callers that check their outputs first refuse
  // this before measuring; this holds for every caller.
  struct stat target {};
  if (::stat(path.c_str(), &target) == 0 && !S_ISREG(target.st_mode))
    throw WriteFailure("cannot write '" + path + "': " +
                       (S_ISDIR(target.st_mode) ? "it is a directory"
                                                : "it is not a regular file (a device, pipe or socket), which the "
                                                  "rename would replace"));
  const std::string scratch = path + ".partial-" + std::to_string(getpid());
  const auto fail = [&](const std::string& what) {
    const std::string why = std::strerror(errno);
    std::remove(scratch.c_str());
    throw WriteFailure("cannot write '" + path + "': " + what + ": " + why);
  };
  const int fd = ::open(scratch.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const std::string why = std::strerror(errno);
    throw WriteFailure("cannot write '" + path + "': " + why);
  }
  if (!write_all(fd, text.data(), text.size())) {
    ::close(fd);
    fail("writing");
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail("flushing");
  }
  if (::close(fd) != 0) fail("closing");
  if (std::rename(scratch.c_str(), path.c_str()) != 0) fail("renaming the scratch file over it");
}

void ConsoleReporter::report(const nlohmann::json& result) { out_ << console_summary(result) << std::flush; }

void JsonFileReporter::report(const nlohmann::json& result) { write_file_atomically(path_, result.dump(2) + "\n"); }

}  // namespace infermeter
