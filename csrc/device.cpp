#include "device.h"

#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <c10/util/Exception.h>

#include <stdexcept>

namespace infermeter {

c10::Device parse_device(const std::string& text) {
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(text);
  } catch (const c10::Error&) {
    throw std::invalid_argument("unknown device '" + text + "' (use cpu or cuda:N)");
  }
  if (device.is_cpu()) return device;
  if (!device.is_cuda()) throw std::invalid_argument("unsupported device '" + text + "' (use cpu or cuda:N)");
  // Through ATen's CUDA hooks: once torch.export has run in the process, the
  // device guard registered for CUDA can be a fake one that reports 8 devices
  // on a machine without any.
  const int count = static_cast<int>(at::detail::getCUDAHooks().deviceCount());
  if (count == 0)
    throw std::invalid_argument("device '" + text + "' is not available: this torch sees no CUDA device");
  if (!device.has_index()) device.set_index(0);
  if (device.index() >= count)
    throw std::invalid_argument("device '" + text + "' is not available: this torch sees " + std::to_string(count) +
                                " CUDA device(s)");
  return device;
}

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) c10::impl::getDeviceGuardImpl(device.type())->synchronizeDevice(device.index());
}

DeviceTimer::DeviceTimer(const c10::Device& device)
    : stream_(c10::impl::getDeviceGuardImpl(device.type())->getStreamFromGlobalPool(device, /*isHighPriority=*/false)),
      start_(device.type(), c10::EventFlag::BACKEND_DEFAULT),
      stop_(device.type(), c10::EventFlag::BACKEND_DEFAULT) {}

}  // namespace infermeter
