// What a batching load's dispatches were: batches by the items they held,
// and compute time by the size they were computed at (a graph runner pads
// to a captured size). One per worker, preallocated, merged after the run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

namespace infermeter {

struct BatchStats {
  explicit BatchStats(int64_t max_size)
      : by_items(max_size + 1, 0),
        computed(max_size + 1, 0),
        compute_sum_ns(max_size + 1, 0),
        compute_min_ns(max_size + 1, std::numeric_limits<int64_t>::max()),
        compute_max_ns(max_size + 1, 0) {}

  // One batch of `items` items computed at `size` in `compute_ns`.
  void record(int64_t items, int64_t size, int64_t compute_ns) noexcept {
    ++by_items[items];
    ++computed[size];
    compute_sum_ns[size] += compute_ns;
    compute_min_ns[size] = std::min(compute_min_ns[size], compute_ns);
    compute_max_ns[size] = std::max(compute_max_ns[size], compute_ns);
    ++batches;
    item_total += items;
    computed_total += size;
  }

  void merge(const BatchStats& other) {
    for (size_t i = 0; i < by_items.size(); ++i) {
      by_items[i] += other.by_items[i];
      computed[i] += other.computed[i];
      compute_sum_ns[i] += other.compute_sum_ns[i];
      compute_min_ns[i] = std::min(compute_min_ns[i], other.compute_min_ns[i]);
      compute_max_ns[i] = std::max(compute_max_ns[i], other.compute_max_ns[i]);
    }
    batches += other.batches;
    item_total += other.item_total;
    computed_total += other.computed_total;
  }

  // For the result: batches by items, compute time by computed size, the
  // mean batch and the share of computed items nobody asked for.
  nlohmann::json describe() const {
    nlohmann::json sizes = nlohmann::json::object();
    for (size_t i = 1; i < by_items.size(); ++i)
      if (by_items[i] > 0) sizes[std::to_string(i)] = by_items[i];
    nlohmann::json compute = nlohmann::json::object();
    for (size_t s = 1; s < computed.size(); ++s)
      if (computed[s] > 0)
        compute[std::to_string(s)] = {{"batches", computed[s]},
                                      {"mean_ns", static_cast<double>(compute_sum_ns[s]) / computed[s]},
                                      {"min_ns", compute_min_ns[s]},
                                      {"max_ns", compute_max_ns[s]}};
    return {{"batches", batches},
            {"items", item_total},
            {"mean_batch_items", batches > 0 ? static_cast<double>(item_total) / batches : 0.0},
            {"batches_by_items", sizes},
            {"compute_by_size", compute},
            {"padded_items", computed_total - item_total},
            {"padding_fraction",
             computed_total > 0 ? static_cast<double>(computed_total - item_total) / computed_total : 0.0}};
  }

  std::vector<int64_t> by_items;        // batches, by the items they held
  std::vector<int64_t> computed;        // batches, by the size computed
  std::vector<int64_t> compute_sum_ns;  // by the size computed
  std::vector<int64_t> compute_min_ns;
  std::vector<int64_t> compute_max_ns;
  int64_t batches = 0;
  int64_t item_total = 0;
  int64_t computed_total = 0;
};

}  // namespace infermeter
