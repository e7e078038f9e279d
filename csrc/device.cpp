#include "device.h"

#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <c10/util/Exception.h>

#include <stdexcept>
#include <string>

#ifdef INFERMETER_CUDA_HEADERS
#include <cuda_runtime_api.h>
#else
#include <c10/core/Event.h>
#endif

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

#ifdef INFERMETER_CUDA_HEADERS

namespace {

void check(cudaError_t status, const char* step) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string("CUDA failed ") + step + ": " + cudaGetErrorString(status));
}

cudaStream_t raw(const c10::Stream& stream) { return static_cast<cudaStream_t>(stream.native_handle()); }

}  // namespace

DeviceTimer::DeviceTimer(const c10::Device& device)
    : stream_(c10::impl::getDeviceGuardImpl(device.type())->getStreamFromGlobalPool(device, /*isHighPriority=*/false)) {
  c10::impl::getDeviceGuardImpl(device.type())->setDevice(device);
  cudaEvent_t start = nullptr, stop = nullptr;
  check(cudaEventCreateWithFlags(&start, cudaEventDefault), "creating the timer's start event");
  start_ = start;
  check(cudaEventCreateWithFlags(&stop, cudaEventDefault), "creating the timer's stop event");
  stop_ = stop;
}

DeviceTimer::~DeviceTimer() {
  if (start_) cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  if (stop_) cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}

void DeviceTimer::start() { check(cudaEventRecord(static_cast<cudaEvent_t>(start_), raw(stream_)), "recording a request's start"); }

void DeviceTimer::stop_and_wait() {
  const auto stop = static_cast<cudaEvent_t>(stop_);
  check(cudaEventRecord(stop, raw(stream_)), "recording a request's end");
  // Polling wakes within a fraction of a microsecond of completion, where a
  // blocking synchronize waits for the driver's wake-up. It holds this
  // worker's core meanwhile, as a closed-loop client waiting on its answer.
  cudaError_t status;
  while ((status = cudaEventQuery(stop)) == cudaErrorNotReady) {
  }
  check(status, "waiting for a request");
}

int64_t DeviceTimer::elapsed_ns() const {
  float ms = 0;
  check(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_), static_cast<cudaEvent_t>(stop_)),
        "reading a request's device time");
  return static_cast<int64_t>(static_cast<double>(ms) * 1e6 + 0.5);
}

#else

DeviceTimer::DeviceTimer(const c10::Device& device)
    : stream_(c10::impl::getDeviceGuardImpl(device.type())->getStreamFromGlobalPool(device, /*isHighPriority=*/false)),
      start_(new c10::Event(device.type(), c10::EventFlag::BACKEND_DEFAULT)),
      stop_(new c10::Event(device.type(), c10::EventFlag::BACKEND_DEFAULT)) {}

DeviceTimer::~DeviceTimer() {
  delete static_cast<c10::Event*>(start_);
  delete static_cast<c10::Event*>(stop_);
}

void DeviceTimer::start() { static_cast<c10::Event*>(start_)->record(stream_); }

void DeviceTimer::stop_and_wait() {
  auto* stop = static_cast<c10::Event*>(stop_);
  stop->record(stream_);
  stop->synchronize();
}

int64_t DeviceTimer::elapsed_ns() const {
  const double ms = static_cast<c10::Event*>(start_)->elapsedTime(*static_cast<c10::Event*>(stop_));
  return static_cast<int64_t>(ms * 1e6 + 0.5);
}

#endif

}  // namespace infermeter
