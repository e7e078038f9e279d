#include "request_trace.h"

#include <algorithm>
#include <cstdio>

#include "reporters.h"

namespace infermeter {

void write_trace(const std::string& path, const std::vector<const RequestTrace*>& traces) {
  std::vector<TraceEntry> all;
  for (const auto* trace : traces) trace->for_each([&](const TraceEntry& e) { all.push_back(e); });
  std::stable_sort(all.begin(), all.end(), [](const TraceEntry& a, const TraceEntry& b) {
    return a.due_ns != b.due_ns ? a.due_ns < b.due_ns : a.dispatched_ns < b.dispatched_ns;
  });
  std::string text;
  text.reserve(all.size() * 120);
  char line[256];
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& e = all[i];
    std::snprintf(line, sizeof line,
                  "{\"request\":%zu,\"due_ns\":%lld,\"dispatched_ns\":%lld,\"completed_ns\":%lld,\"batch\":%lld,"
                  "\"items\":%d,\"computed\":%d,\"worker\":%d}\n",
                  i, static_cast<long long>(e.due_ns), static_cast<long long>(e.dispatched_ns),
                  static_cast<long long>(e.completed_ns), static_cast<long long>(e.batch), e.items, e.computed,
                  e.worker);
    text += line;
  }
  write_file_atomically(path, text);
}

}  // namespace infermeter
