// The dynamic-batching load: single requests (of `batch_size` items) arrive
// on an open-loop schedule, and a batcher with Triton's dynamic batcher's
// rules forms them into batches that the workers (the model instances)
// compute as they become free. docs/dynamic-batching.md states the rules and
// the checks against ground truth.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "open_loop.h"

namespace infermeter {

// The batcher's settings, in items.
struct BatcherRules {
  int64_t request_items = 1;     // items per request (the run's batch_size)
  int64_t max_items = 1;         // max_batch
  int64_t max_queue_delay_ns = 0;
  std::vector<int64_t> preferred_items;  // ascending; empty: none
};

class DynamicBatching : public OpenLoop {
 public:
  DynamicBatching(ArrivalProcess process, double rate_per_s, uint64_t seed, int64_t horizon_ns, int64_t max_requests,
                  BatcherRules rules);

  // A free worker takes the batcher (the others wait their turn) and returns
  // the batch at the first moment one of the rules lets it go, oldest
  // requests first: a full batch (max_batch items); the largest preferred
  // size that the queued requests reach; or, once the oldest queued request
  // has waited max_queue_delay, every queued request up to max_batch.
  std::optional<Dispatch> next(const std::atomic<bool>& stopping) noexcept override;
  int64_t max_batch_items() const override { return rules_.max_items; }
  // The open loop's section, with the batcher's settings and what its batches were.
  nlohmann::json describe(const Recorded& recorded) const override;

 private:
  // Requests in a batch of `queued` queued requests that a preferred size
  // lets go now; 0 when none does.
  int64_t preferred_requests(int64_t queued) const;

  BatcherRules rules_;
  int64_t max_requests_per_batch_;
  std::atomic<bool> held_{false};  // a worker is forming the next batch
  size_t oldest_ = 0;              // the oldest undispatched arrival; read and written by the holder only
};

// The sizes in a comma-separated option value ("4,8"), ascending and
// distinct; std::invalid_argument naming the option otherwise.
std::vector<int64_t> parse_sizes(const std::string& option, const std::string& text);

// The batch sizes a graph runner captures: capture_batches, or powers of two
// up to max_batch and max_batch itself.
std::vector<int64_t> capture_sizes(const RunConfig& config);

// For n items (entry n, 1 to max_items), the smallest of `captured`
// (ascending, the last at least max_items) that holds them: the size a graph
// runner computes a batch of n at.
std::vector<int64_t> padded_sizes(int64_t max_items, const std::vector<int64_t>& captured);

// The registry entry (load_registry.cpp).
LoadKind dynamic_batching_kind();

}  // namespace infermeter
