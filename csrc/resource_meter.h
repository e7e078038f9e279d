// What a run used besides time, over its measuring phase: host memory (peak
// resident set), device memory (the caching allocator's peaks, and the
// process's device memory as the driver sees it through NVML) and energy (the
// GPU's NVML counter, the CPU packages' RAPL counters). Read by the
// coordinator when measuring starts, a few times a second, and at the stop:
// never on a worker's request path. A figure that cannot be read here is null
// with the reason beside it.
#pragma once

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace infermeter {

class ResourceMeter {
 public:
  explicit ResourceMeter(const c10::Device& device);
  void start();
  void sample();
  void stop();
  // Whether measuring began (and so whether there is anything to state).
  bool started() const { return start_ns_ > 0; }

  // {"host_peak_rss_bytes", "host_peak_method", "device_peak_allocated_bytes",
  //  "device_peak_reserved_bytes", "device_process_peak_bytes"}, each with an
  //  "..._unavailable" reason when null.
  nlohmann::json memory() const;
  // {"window_s", "gpu": {joules, mean_watts, joules_per_inference,
  //  inferences_per_kwh, note} or null, "gpu_unavailable", "cpu": likewise
  //  (RAPL package energy), "cpu_unavailable"}.
  nlohmann::json energy(int64_t inferences) const;

 private:
  c10::Device device_;
  int64_t start_ns_ = 0;
  int64_t stop_ns_ = 0;
  // Host.
  bool hwm_reset_ = false;  // the kernel's high-water mark was reset at the start
  int64_t rss_peak_ = 0;    // sampled, where it was not
  std::optional<int64_t> host_peak_;
  std::string host_why_;
  // Device memory.
  std::optional<int64_t> allocated_peak_, reserved_peak_, process_peak_;
  std::string allocator_why_, process_why_;
  // Energy.
  void* nvml_device_ = nullptr;
  std::optional<uint64_t> gpu_mj_start_, gpu_mj_stop_;
  std::string gpu_why_;
  // Per RAPL package zone: its counter at the start and the stop, and where it wraps.
  std::vector<uint64_t> cpu_uj_start_, cpu_uj_stop_, cpu_uj_range_;
  std::string cpu_why_;
};

}  // namespace infermeter
