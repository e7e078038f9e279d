// Every measured request of a run, for users' own analysis (the `trace`
// option): one worker's log, written as JSON Lines after the run. Kept in
// blocks, so that tracing allocates once per kBlock requests rather than
// holding the whole run in advance; off by default.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace infermeter {

struct TraceEntry {
  int64_t due_ns;         // when it was due (a closed loop's request: when issued); from the measurement start
  int64_t dispatched_ns;  // when its worker issued it (its batch)
  int64_t completed_ns;
  int64_t batch;          // the dispatch it went in, numbered from 0 in dispatch order
  int32_t items;          // items in its batch (the request's own in loads that do not batch)
  int32_t computed;       // the size its batch was computed at (above items: padding)
  int32_t worker;
};

class RequestTrace {
 public:
  static constexpr size_t kBlock = 1 << 16;
  RequestTrace() { blocks_.push_back(std::make_unique<TraceEntry[]>(kBlock)); }
  // Throws std::bad_alloc only when a new block cannot be had.
  void add(const TraceEntry& entry) {
    if (used_ == kBlock) {
      blocks_.push_back(std::make_unique<TraceEntry[]>(kBlock));
      used_ = 0;
    }
    blocks_.back()[used_++] = entry;
  }
  template <typename F>
  void for_each(F&& f) const {
    for (size_t b = 0; b < blocks_.size(); ++b) {
      const size_t n = b + 1 == blocks_.size() ? used_ : kBlock;
      for (size_t i = 0; i < n; ++i) f(blocks_[b][i]);
    }
  }

 private:
  std::vector<std::unique_ptr<TraceEntry[]>> blocks_;
  size_t used_ = 0;
};

// Writes every worker's entries to `path` (whole, or not at all), one JSON
// object per line in order of due time, times in ns from the measurement
// start; throws std::runtime_error naming the path when it cannot.
void write_trace(const std::string& path, const std::vector<const RequestTrace*>& traces);

}  // namespace infermeter
