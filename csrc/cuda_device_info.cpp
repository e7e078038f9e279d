#include "cuda_device_info.h"

#include <cstdio>
#include <string>

#ifdef INFERMETER_CUDA_HEADERS
#include <cuda_runtime_api.h>

// Declared here rather than through ATen/cuda/CUDAContextLight.h, which pulls
// in cuSPARSE and with it CCCL's headers, which CUDA builds of torch do not
// bring. The function is libtorch_cuda's own (linked by every CUDA build).
namespace at::cuda {
cudaDeviceProp* getDeviceProperties(c10::DeviceIndex device);
}  // namespace at::cuda
#endif

namespace infermeter {

#ifdef INFERMETER_CUDA_HEADERS

nlohmann::json cuda_device_facts(const c10::Device& device) {
  const cudaDeviceProp* p = at::cuda::getDeviceProperties(device.index());
  // NVML's form of the address, by which it finds this device (nvml.h).
  char pci[32];
  std::snprintf(pci, sizeof pci, "%08x:%02x:%02x.0", p->pciDomainID, p->pciBusID, p->pciDeviceID);
  return {{"device_name", std::string(p->name)},
          {"compute_capability", std::to_string(p->major) + "." + std::to_string(p->minor)},
          {"memory_bytes", static_cast<int64_t>(p->totalGlobalMem)},
          {"multiprocessors", p->multiProcessorCount},
          {"pci_bus_id", std::string(pci)}};
}

#else

nlohmann::json cuda_device_facts(const c10::Device&) {
  return {{"device_name", nullptr},
          {"device_name_unavailable", "this build has no CUDA headers (site-packages/nvidia/cu*/include and "
                                      "crt/host_config.h were not found when it was built)"}};
}

#endif

}  // namespace infermeter
