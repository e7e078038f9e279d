// Devices are a run-time capability: CUDA is reached through c10's
// device-generic interfaces, so the build needs no CUDA toolkit.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/Stream.h>

#include <string>

namespace infermeter {

// Parses "cpu" or "cuda[:N]" and checks the device is present.
c10::Device parse_device(const std::string& text);

void synchronize(const c10::Device& device);

// Times one request on the GPU between events on the worker's own stream.
// Where CUDA's headers were found at build time, it calls the CUDA runtime
// directly: events recorded with cudaEventRecord and the completion awaited
// by polling cudaEventQuery, the cheapest way that still times the device
// (benchmarks/gpu_harness_costs.cpp measures each alternative;
// docs/gpu-validation.md gives the figures). Elsewhere it goes through c10's
// device-generic events. Errors throw std::runtime_error naming the step.
class DeviceTimer {
 public:
  explicit DeviceTimer(const c10::Device& device);
  ~DeviceTimer();
  DeviceTimer(const DeviceTimer&) = delete;
  DeviceTimer& operator=(const DeviceTimer&) = delete;
  const c10::Stream& stream() const { return stream_; }
  void start();
  // Records the stop event and returns once the device has passed it.
  void stop_and_wait();
  int64_t elapsed_ns() const;

 private:
  c10::Stream stream_;
  // cudaEvent_t where built with CUDA's headers, else c10::Event*: opaque
  // here, so that the header needs no CUDA.
  void* start_ = nullptr;
  void* stop_ = nullptr;
};

}  // namespace infermeter
