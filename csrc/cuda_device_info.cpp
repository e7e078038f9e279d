#include "cuda_device_info.h"

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
  return {{"device_name", std::string(p->name)},
          {"compute_capability", std::to_string(p->major) + "." + std::to_string(p->minor)},
          {"memory_bytes", static_cast<int64_t>(p->totalGlobalMem)},
          {"multiprocessors", p->multiProcessorCount}};
}

#else

nlohmann::json cuda_device_facts(const c10::Device&) {
  return {{"device_name", nullptr},
          {"device_name_unavailable", "this build has no CUDA headers (site-packages/nvidia/cu*/include and "
                                      "crt/host_config.h were not found when it was built)"}};
}

#endif

}  // namespace infermeter
