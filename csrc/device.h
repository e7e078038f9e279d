// Devices are a run-time capability: CUDA is reached through c10's
// device-generic interfaces, so the build needs no CUDA toolkit.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/Event.h>
#include <c10/core/Stream.h>

#include <string>

namespace infermeter {

// Parses "cpu" or "cuda[:N]" and checks the device is present.
c10::Device parse_device(const std::string& text);

void synchronize(const c10::Device& device);

// Times one request on the GPU between events on the worker's own stream.
class DeviceTimer {
 public:
  explicit DeviceTimer(const c10::Device& device);
  const c10::Stream& stream() const { return stream_; }
  void start() { start_.record(stream_); }
  void stop_and_wait() {
    stop_.record(stream_);
    stop_.synchronize();
  }
  int64_t elapsed_ns() const { return static_cast<int64_t>(start_.elapsedTime(stop_) * 1e6 + 0.5); }

 private:
  c10::Stream stream_;
  c10::Event start_;
  c10::Event stop_;
};

}  // namespace infermeter
