#include "recorder.h"

namespace infermeter {

double Recorder::own_rate_per_s() const {
  const int64_t span = last_completion_ns_ - first_issue_ns_;
  return count() > 0 && span > 0 ? static_cast<double>(count()) * 1e9 / static_cast<double>(span) : 0.0;
}

void Recorder::merge(const Recorder& other) {
  rate_sum_per_s_ += other.worker_rate_sum_per_s();
  host_.merge(other.host_);
  response_.merge(other.response_);
  queue_wait_.merge(other.queue_wait_);
  launch_.merge(other.launch_);
  device_.merge(other.device_);
  for (size_t i = 0; i < completions_.size(); ++i) completions_[i] += other.completions_[i];
  last_completion_ns_ = std::max(last_completion_ns_, other.last_completion_ns_);
}

}  // namespace infermeter
