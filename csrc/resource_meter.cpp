#include "resource_meter.h"

#include <c10/core/CachingDeviceAllocator.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "clock.h"
#include "cuda_device_info.h"
#include "nvml.h"

namespace infermeter {

namespace {

// NVML's energy counter updates about every 100 ms (docs/memory-energy.md):
// over a window shorter than this, the figure is coarse.
constexpr double kEnergyWindowS = 1.0;
constexpr const char* kRaplRoot = "/sys/class/powercap";

// Files are read with POSIX and C stdio, not iostreams or std::filesystem:
// an extension built with a compiler that links libstdc++ statically (the
// lent GPU machines') crashed in iostreams' locale set-up, as it had in
// std::regex's (docs/aoti.md).

// A "VmHWM:" or "VmRSS:" line of /proc/self/status, in bytes.
std::optional<int64_t> status_bytes(const char* key) {
  FILE* status = std::fopen("/proc/self/status", "r");
  if (!status) return std::nullopt;
  std::optional<int64_t> bytes;
  char line[256];
  const size_t key_length = std::strlen(key);
  while (std::fgets(line, sizeof line, status))
    if (std::strncmp(line, key, key_length) == 0) {
      long long kb = 0;
      if (std::sscanf(line + key_length, "%lld", &kb) == 1) bytes = static_cast<int64_t>(kb) * 1024;
      break;
    }
  std::fclose(status);
  return bytes;
}

// Resets the kernel's resident-set high-water mark to the current size, so
// that VmHWM is the peak of what follows (clear_refs "5", Linux 4.0 and later).
bool reset_high_water_mark() {
  const int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool written = ::write(fd, "5", 1) == 1;
  ::close(fd);
  return written;
}

std::optional<uint64_t> read_number(const std::string& path) {
  FILE* in = std::fopen(path.c_str(), "r");
  if (!in) return std::nullopt;
  unsigned long long value = 0;
  const bool read = std::fscanf(in, "%llu", &value) == 1;
  std::fclose(in);
  return read ? std::optional<uint64_t>(value) : std::nullopt;
}

// The RAPL package zones (intel-rapl:N, also on AMD since Linux 5.8): each
// one's energy counter in µJ and where it wraps; empty with `why` set.
std::vector<std::pair<uint64_t, uint64_t>> rapl_packages(std::string& why) {
  std::vector<std::pair<uint64_t, uint64_t>> packages;
  DIR* root = ::opendir(kRaplRoot);
  if (!root) {
    why = "RAPL is not exposed here (no /sys/class/powercap: a virtual machine, or not an x86 host)";
    return packages;
  }
  std::vector<std::string> zones;
  while (const dirent* entry = ::readdir(root)) {
    const std::string name = entry->d_name;
    // Package zones only: their subzones (intel-rapl:0:0, the cores) are counted within them.
    if (name.starts_with("intel-rapl:") && name.find(':', 11) == std::string::npos)
      zones.push_back(std::string(kRaplRoot) + "/" + name);
  }
  ::closedir(root);
  std::sort(zones.begin(), zones.end());
  for (const auto& zone : zones) {
    const auto energy = read_number(zone + "/energy_uj");
    const auto range = read_number(zone + "/max_energy_range_uj");
    if (!energy || !range) {
      why = "RAPL's counter " + zone + "/energy_uj is not readable by this user (root only since Linux 5.10)";
      return {};
    }
    packages.emplace_back(*energy, *range);
  }
  if (packages.empty()) why = "no RAPL package zone under /sys/class/powercap";
  return packages;
}

nlohmann::json energy_figures(double joules, double window_s, int64_t inferences) {
  nlohmann::json out = {{"joules", joules},
                        {"mean_watts", window_s > 0 ? joules / window_s : 0.0},
                        {"joules_per_inference", inferences > 0 ? joules / static_cast<double>(inferences) : 0.0},
                        {"inferences_per_kwh",
                         joules > 0 ? nlohmann::json(static_cast<double>(inferences) / (joules / 3.6e6)) : nlohmann::json(nullptr)},
                        {"note", nullptr}};
  if (window_s < kEnergyWindowS)
    out["note"] = "measured over " + std::to_string(window_s) +
                  " s: the counter updates about every 100 ms, so this window is coarse; measure longer";
  return out;
}

template <typename T>
nlohmann::json or_null(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

ResourceMeter::ResourceMeter(const c10::Device& device) : device_(device) {
  if (!device_.is_cuda()) {
    allocator_why_ = process_why_ = gpu_why_ = "not a GPU run";
    return;
  }
  const auto facts = cuda_device_facts(device_);
  if (!facts.contains("pci_bus_id")) {
    process_why_ = gpu_why_ = "this build cannot name the device's PCI address (no CUDA headers at build time)";
    return;
  }
  if (Nvml* nvml = Nvml::get(gpu_why_)) {
    if (const auto handle = nvml->device(facts.at("pci_bus_id").get<std::string>(), gpu_why_))
      nvml_device_ = *handle;
  }
  process_why_ = gpu_why_;
}

void ResourceMeter::start() {
  start_ns_ = now_ns();
  hwm_reset_ = reset_high_water_mark();
  rss_peak_ = status_bytes("VmRSS:").value_or(0);
  if (device_.is_cuda()) {
    try {
      c10::getDeviceAllocator(device_.type())->resetPeakStats(device_.index());
    } catch (const std::exception& e) {
      allocator_why_ = std::string("the device allocator keeps no peaks: ") + e.what();
    }
  }
  if (nvml_device_) gpu_mj_start_ = Nvml::get(gpu_why_)->energy_mj(nvml_device_, gpu_why_);
  for (const auto& [uj, range] : rapl_packages(cpu_why_)) {
    cpu_uj_start_.push_back(uj);
    cpu_uj_range_.push_back(range);
  }
  sample();
}

void ResourceMeter::sample() {
  if (!started()) return;
  if (!hwm_reset_) rss_peak_ = std::max(rss_peak_, status_bytes("VmRSS:").value_or(0));
  if (nvml_device_) {
    if (const auto bytes = Nvml::get(process_why_)->process_memory_bytes(nvml_device_, getpid(), process_why_))
      process_peak_ = std::max(process_peak_.value_or(0), static_cast<int64_t>(*bytes));
  }
}

void ResourceMeter::stop() {
  if (!started()) return;
  sample();
  stop_ns_ = now_ns();
  if (hwm_reset_) {
    host_peak_ = status_bytes("VmHWM:");
    if (!host_peak_) host_why_ = "/proc/self/status has no VmHWM line";
  } else if (rss_peak_ > 0) {
    host_peak_ = rss_peak_;
  } else {
    host_why_ = "/proc/self/status is not readable here (not Linux)";
  }
  if (device_.is_cuda() && allocator_why_.empty()) {
    try {
      const auto stats = c10::getDeviceAllocator(device_.type())->getDeviceStats(device_.index());
      const auto aggregate = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
      allocated_peak_ = stats.allocated_bytes[aggregate].peak;
      reserved_peak_ = stats.reserved_bytes[aggregate].peak;
    } catch (const std::exception& e) {
      allocator_why_ = std::string("the device allocator's statistics are not readable: ") + e.what();
    }
  }
  if (nvml_device_ && gpu_mj_start_) gpu_mj_stop_ = Nvml::get(gpu_why_)->energy_mj(nvml_device_, gpu_why_);
  if (!cpu_uj_start_.empty()) {
    std::string why;
    for (const auto& [uj, range] : rapl_packages(why)) cpu_uj_stop_.push_back(uj);
    if (cpu_uj_stop_.size() != cpu_uj_start_.size()) {
      cpu_why_ = why.empty() ? "RAPL's package zones changed during the run" : why;
      cpu_uj_stop_.clear();
    }
  }
}

nlohmann::json ResourceMeter::memory() const {
  nlohmann::json out = {{"host_peak_rss_bytes", or_null(host_peak_)},
                        {"host_peak_method", hwm_reset_ ? "kernel high-water mark (VmHWM), reset when measuring began"
                                                        : "VmRSS sampled about every 100 ms"},
                        {"device_peak_allocated_bytes", or_null(allocated_peak_)},
                        {"device_peak_reserved_bytes", or_null(reserved_peak_)},
                        {"device_process_peak_bytes", or_null(process_peak_)}};
  if (!host_peak_) out["host_peak_rss_unavailable"] = host_why_;
  if (!allocated_peak_) out["device_peak_unavailable"] = allocator_why_;
  if (!process_peak_) out["device_process_peak_unavailable"] = process_why_;
  return out;
}

nlohmann::json ResourceMeter::energy(int64_t inferences) const {
  const double window_s = static_cast<double>(stop_ns_ - start_ns_) / 1e9;
  nlohmann::json out = {{"window_s", window_s}, {"gpu", nullptr}, {"cpu", nullptr}};
  if (gpu_mj_start_ && gpu_mj_stop_)
    out["gpu"] = energy_figures(static_cast<double>(*gpu_mj_stop_ - *gpu_mj_start_) / 1e3, window_s, inferences);
  else
    out["gpu_unavailable"] = gpu_why_;
  if (!cpu_uj_stop_.empty()) {
    double joules = 0;
    for (size_t i = 0; i < cpu_uj_start_.size(); ++i) {
      // A counter that wrapped during the run went through its range once.
      const uint64_t delta = cpu_uj_stop_[i] >= cpu_uj_start_[i]
                                 ? cpu_uj_stop_[i] - cpu_uj_start_[i]
                                 : cpu_uj_stop_[i] + cpu_uj_range_[i] - cpu_uj_start_[i];
      joules += static_cast<double>(delta) / 1e6;
    }
    out["cpu"] = energy_figures(joules, window_s, inferences);
    out["cpu"]["scope"] = "every CPU package of the host (RAPL), whatever ran on it";
  } else {
    out["cpu_unavailable"] = cpu_why_;
  }
  return out;
}

}  // namespace infermeter
