// What a CUDA device is, read from its properties through torch at run time,
// so that it names the device this process actually uses (CUDA_VISIBLE_DEVICES
// and CUDA's device order applied), not a guess from the driver's PCI list.
#pragma once

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

namespace infermeter {

// {"device_name", "compute_capability", "memory_bytes", "multiprocessors",
// "pci_bus_id"};
// the name is null, with the reason in "device_name_unavailable", in a build
// without CUDA's headers.
nlohmann::json cuda_device_facts(const c10::Device& device);

}  // namespace infermeter
