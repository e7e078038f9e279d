// What records: one per worker, so the hot path takes no lock; merged after.
#pragma once

#include <optional>
#include <vector>

#include "histogram.h"

namespace infermeter {

class Recorder {
 public:
  // Completions are counted per window of `window_ns` from the measurement
  // start; completions past the last window land in it.
  Recorder(int64_t window_ns, size_t windows) : window_ns_(window_ns), completions_(windows, 0) {}

  void record(int64_t completed_at_ns, int64_t host_ns) noexcept {
    host_.record(host_ns);
    const auto w = static_cast<size_t>(completed_at_ns / window_ns_);
    ++completions_[std::min(w, completions_.size() - 1)];
    if (completed_at_ns > last_completion_ns_) last_completion_ns_ = completed_at_ns;
  }
  // On a GPU: the CPU's time to issue the request (until the call returned)
  // and the GPU's time between events around it. Launch near host latency
  // means the CPU launching kernels, not the GPU, bounds the request.
  void record_gpu(int64_t launch_ns, int64_t device_ns) noexcept {
    launch_.record(launch_ns);
    device_.record(device_ns);
  }

  void merge(const Recorder& other);

  const Histogram& host() const { return host_; }
  const Histogram& launch() const { return launch_; }
  const Histogram& device() const { return device_; }
  const std::vector<int64_t>& completions() const { return completions_; }
  // Offset of the last completion from the measurement start.
  int64_t last_completion_ns() const { return last_completion_ns_; }

 private:
  int64_t window_ns_;
  Histogram host_;
  Histogram launch_;
  Histogram device_;
  std::vector<int64_t> completions_;
  int64_t last_completion_ns_ = 0;
};

}  // namespace infermeter
