#include "recorder.h"

#include <algorithm>

namespace infermeter {

double Recorder::own_rate_per_s() const {
  const int64_t span = last_completion_ns_ - first_issue_ns_;
  return count() > 0 && span > 0 ? static_cast<double>(count()) * 1e9 / static_cast<double>(span) : 0.0;
}

std::vector<int64_t> Recorder::completions(size_t first) const {
  std::vector<int64_t> counts(std::min(first, completions_.size()), 0);
  add_completions_to(counts);
  return counts;
}

void Recorder::add_completions_to(std::vector<int64_t>& counts) const {
  const size_t n = std::min(counts.size(), completions_.size());
  for (size_t i = 0; i < n; ++i) counts[i] += completions_[i].load(std::memory_order_relaxed);
}

void Recorder::merge(const Recorder& other) {
  rate_sum_per_s_ += other.worker_rate_sum_per_s();
  host_.merge(other.host_);
  response_.merge(other.response_);
  queue_wait_.merge(other.queue_wait_);
  dispatch_.merge(other.dispatch_);
  launch_.merge(other.launch_);
  device_.merge(other.device_);
  if (batches_ && other.batches_) batches_->merge(*other.batches_);
  for (size_t i = 0; i < completions_.size(); ++i)
    completions_[i].store(completions_[i].load(std::memory_order_relaxed) +
                              other.completions_[i].load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
  last_completion_ns_ = std::max(last_completion_ns_, other.last_completion_ns_);
}

}  // namespace infermeter
