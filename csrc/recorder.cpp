#include "recorder.h"

namespace infermeter {

void Recorder::merge(const Recorder& other) {
  host_.merge(other.host_);
  launch_.merge(other.launch_);
  device_.merge(other.device_);
  for (size_t i = 0; i < completions_.size(); ++i) completions_[i] += other.completions_[i];
  last_completion_ns_ = std::max(last_completion_ns_, other.last_completion_ns_);
}

}  // namespace infermeter
