// NVIDIA's management library, loaded at run time (libnvidia-ml.so.1, which
// the driver installs), so that one build serves machines with and without a
// GPU: the device's total energy counter and a process's device memory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace infermeter {

class Nvml {
 public:
  // The library, initialised once per process; nullptr with `why` set when
  // it cannot be loaded or initialised.
  static Nvml* get(std::string& why);

  // A device by its PCI bus id ("0000:3B:00.0"); nullopt with `why` set.
  std::optional<void*> device(const std::string& pci_bus_id, std::string& why) const;
  // Millijoules the device consumed since the driver loaded (Volta and later);
  // nullopt with `why` set.
  std::optional<uint64_t> energy_mj(void* device, std::string& why) const;
  // Bytes of device memory process `pid` holds on the device, as the driver
  // sees it (the CUDA context and every allocation); nullopt with `why` set.
  std::optional<uint64_t> process_memory_bytes(void* device, int64_t pid, std::string& why) const;

 private:
  Nvml() = default;
  void* library_ = nullptr;
  int (*get_handle_by_pci_bus_id_)(const char*, void**) = nullptr;
  int (*get_total_energy_consumption_)(void*, unsigned long long*) = nullptr;
  int (*get_compute_running_processes_)(void*, unsigned int*, void*) = nullptr;
  const char* (*error_string_)(int) = nullptr;
};

}  // namespace infermeter
