#include "nvml.h"

#include <dlfcn.h>

#include <mutex>
#include <vector>

namespace infermeter {

namespace {

constexpr int kNvmlSuccess = 0;
constexpr int kNvmlInsufficientSize = 7;

// nvmlProcessInfo_t as the _v3 query fills it (nvml.h, driver 510 and later).
struct ProcessInfo {
  unsigned int pid;
  unsigned long long used_gpu_memory;
  unsigned int gpu_instance_id;
  unsigned int compute_instance_id;
};

template <typename F>
bool bind(void* library, const char* name, F& target) {
  target = reinterpret_cast<F>(dlsym(library, name));
  return target != nullptr;
}

}  // namespace

Nvml* Nvml::get(std::string& why) {
  static Nvml* nvml = nullptr;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    void* library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      failure = "NVML is not installed here (libnvidia-ml.so.1 did not load: no NVIDIA driver)";
      return;
    }
    auto* n = new Nvml();  // lives for the process: NVML is never shut down under running workers
    n->library_ = library;
    int (*init)() = nullptr;
    if (!bind(library, "nvmlInit_v2", init) || !bind(library, "nvmlErrorString", n->error_string_) ||
        !bind(library, "nvmlDeviceGetHandleByPciBusId_v2", n->get_handle_by_pci_bus_id_) ||
        !bind(library, "nvmlDeviceGetTotalEnergyConsumption", n->get_total_energy_consumption_) ||
        !bind(library, "nvmlDeviceGetComputeRunningProcesses_v3", n->get_compute_running_processes_)) {
      failure = "this NVML lacks a function infermeter reads (a driver older than 510)";
      delete n;
      return;
    }
    if (const int status = init(); status != kNvmlSuccess) {
      failure = std::string("NVML did not initialise: ") + n->error_string_(status);
      delete n;
      return;
    }
    nvml = n;
  });
  if (!nvml) why = failure;
  return nvml;
}

std::optional<void*> Nvml::device(const std::string& pci_bus_id, std::string& why) const {
  void* handle = nullptr;
  if (const int status = get_handle_by_pci_bus_id_(pci_bus_id.c_str(), &handle); status != kNvmlSuccess) {
    why = "NVML has no device at PCI bus id " + pci_bus_id + ": " + error_string_(status);
    return std::nullopt;
  }
  return handle;
}

std::optional<uint64_t> Nvml::energy_mj(void* device, std::string& why) const {
  unsigned long long mj = 0;
  if (const int status = get_total_energy_consumption_(device, &mj); status != kNvmlSuccess) {
    why = std::string("NVML's energy counter is not readable on this device: ") + error_string_(status);
    return std::nullopt;
  }
  return mj;
}

std::optional<uint64_t> Nvml::process_memory_bytes(void* device, int64_t pid, std::string& why) const {
  std::vector<ProcessInfo> processes(64);
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto count = static_cast<unsigned int>(processes.size());
    const int status = get_compute_running_processes_(device, &count, processes.data());
    if (status == kNvmlInsufficientSize) {
      processes.resize(count + 16);
      continue;
    }
    if (status != kNvmlSuccess) {
      why = std::string("NVML cannot list the device's processes: ") + error_string_(status);
      return std::nullopt;
    }
    for (unsigned int i = 0; i < count; ++i)
      if (static_cast<int64_t>(processes[i].pid) == pid) return processes[i].used_gpu_memory;
    why = "NVML does not list this process on the device (a container's PID namespace hides it)";
    return std::nullopt;
  }
  why = "the device's process list kept growing while NVML was read";
  return std::nullopt;
}

}  // namespace infermeter
