#include "dynamic_batching.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "batch_stats.h"
#include "clock.h"

namespace infermeter {

namespace {

int64_t request_items_of(const RunConfig& c) { return c.batch_size.value_or(1); }

BatcherRules rules_of(const RunConfig& c) {
  return {.request_items = request_items_of(c),
          .max_items = c.max_batch,
          .max_queue_delay_ns = static_cast<int64_t>(c.max_queue_delay_s * 1e9),
          .preferred_items = parse_sizes("preferred_batches", c.preferred_batches)};
}

void check_dynamic_batching(const RunConfig& c) {
  check_arrivals(c, "dynamic-batching");
  const int64_t items = request_items_of(c);
  if (items > c.max_batch)
    throw std::invalid_argument("batch_size (" + std::to_string(items) + " items per request) exceeds max_batch (" +
                                std::to_string(c.max_batch) + "): no batch could hold a request");
  for (const int64_t p : parse_sizes("preferred_batches", c.preferred_batches))
    if (p > c.max_batch || p % items != 0)
      throw std::invalid_argument("preferred_batches: " + std::to_string(p) +
                                  " must be a whole number of requests (a multiple of batch_size " +
                                  std::to_string(items) + ") and at most max_batch " + std::to_string(c.max_batch));
  const auto captured = capture_sizes(c);
  if (captured.back() < c.max_batch)
    throw std::invalid_argument("capture_batches must reach max_batch (" + std::to_string(c.max_batch) +
                                "): a batch of " + std::to_string(c.max_batch) + " items has no graph to run in");
}

std::string summary_line(const nlohmann::json& l) {
  const auto& batcher = l.at("batcher");
  std::string batches = "no batches";
  if (l.contains("batches")) {
    const auto& b = l.at("batches");
    char text[160];
    std::snprintf(text, sizeof text, "mean batch %.2f items, %.1f%% padding", b.at("mean_batch_items").get<double>(),
                  100.0 * b.at("padding_fraction").get<double>());
    batches = text;
  }
  char text[640];
  std::snprintf(text, sizeof text,
                "load         dynamic batching (max_batch %lld, max_queue_delay %.3g ms), %s arrivals at %.1f/s "
                "offered; achieved %.1f/s, %s, %lld queued at end, %s\n",
                batcher.at("max_batch").get<long long>(), 1e3 * batcher.at("max_queue_delay_s").get<double>(),
                l.value("arrival", "?").c_str(), l.at("offered_rate_per_s").get<double>(),
                l.at("achieved_rate_per_s").get<double>(), batches.c_str(), l.at("queued_at_end").get<long long>(),
                l.at("sustained").get<bool>() ? "sustained" : "NOT sustained (the instances fell behind)");
  return text;
}

}  // namespace

DynamicBatching::DynamicBatching(ArrivalProcess process, double rate_per_s, uint64_t seed, int64_t horizon_ns,
                                 int64_t max_requests, BatcherRules rules)
    : OpenLoop(process, rate_per_s, seed, horizon_ns, max_requests),
      rules_(std::move(rules)),
      max_requests_per_batch_(rules_.max_items / rules_.request_items) {}

int64_t DynamicBatching::preferred_requests(int64_t queued) const {
  const int64_t items = queued * rules_.request_items;
  for (auto p = rules_.preferred_items.rbegin(); p != rules_.preferred_items.rend(); ++p)
    if (*p <= items) return *p / rules_.request_items;
  return 0;
}

std::optional<Dispatch> DynamicBatching::next(const std::atomic<bool>& stopping) noexcept {
  // The one queue: free workers take turns at forming the next batch. The
  // others yield rather than sleep, so that the next one takes over within
  // microseconds when requests are already queued.
  while (held_.exchange(true, std::memory_order_acquire)) {
    if (stopping.load(std::memory_order_relaxed)) return std::nullopt;
    std::this_thread::yield();
  }
  struct Release {
    std::atomic<bool>& held;
    ~Release() { held.store(false, std::memory_order_release); }
  } release{held_};

  const size_t first = oldest_;
  if (first >= offsets_.size()) return std::nullopt;
  const auto due = [&](int64_t j) { return start_ns_ + offsets_[first + j]; };
  const int64_t most = std::min<int64_t>(max_requests_per_batch_, static_cast<int64_t>(offsets_.size() - first));
  const int64_t deadline = due(0) + rules_.max_queue_delay_ns;
  int64_t queued = 0;
  for (;;) {
    const int64_t now = now_ns();
    while (queued < most && due(queued) <= now) ++queued;
    int64_t take = 0;
    int64_t event = 0;
    if (queued == max_requests_per_batch_) {
      take = queued;
      event = due(take - 1);
    } else if (queued > 0 && (take = preferred_requests(queued)) > 0) {
      event = due(take - 1);
    } else if (queued > 0 && now >= deadline) {
      take = queued;
      event = deadline;
    }
    if (take > 0) {
      oldest_ = first + static_cast<size_t>(take);
      return Dispatch{.requests = take, .base_ns = start_ns_, .offsets_ns = &offsets_[first], .event_ns = event};
    }
    // Nothing may go yet: wait for the next arrival or the oldest's deadline.
    int64_t wake = queued > 0 ? deadline : due(0);
    if (queued > 0 && queued < most) wake = std::min(wake, due(queued));
    wait_until(wake, stopping);
    if (stopping.load(std::memory_order_relaxed)) return std::nullopt;
  }
}

nlohmann::json DynamicBatching::describe(const Recorded& recorded) const {
  nlohmann::json out = OpenLoop::describe(recorded);
  out["kind"] = "dynamic-batching";
  out["batcher"] = {{"max_batch", rules_.max_items},
                    {"max_queue_delay_s", static_cast<double>(rules_.max_queue_delay_ns) / 1e9},
                    {"preferred_batches", rules_.preferred_items},
                    {"request_items", rules_.request_items}};
  out["achieved_items_per_s"] = out.at("achieved_rate_per_s").get<double>() * static_cast<double>(rules_.request_items);
  if (recorded.batches) out["batches"] = recorded.batches->describe();
  return out;
}

std::vector<int64_t> parse_sizes(const std::string& option, const std::string& text) {
  std::vector<int64_t> sizes;
  size_t at = 0;
  while (at < text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string part = text.substr(at, comma - at);
    size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (part.empty() || used != part.size() || value < 1 || value > (1 << 20))
      throw std::invalid_argument(option + " must be comma-separated sizes from 1 to 1048576 (e.g. 4,8), got '" +
                                  text + "'");
    sizes.push_back(value);
    at = comma + 1;
  }
  std::sort(sizes.begin(), sizes.end());
  if (std::adjacent_find(sizes.begin(), sizes.end()) != sizes.end())
    throw std::invalid_argument(option + " names a size twice: '" + text + "'");
  return sizes;
}

std::vector<int64_t> capture_sizes(const RunConfig& c) {
  if (!c.capture_batches.empty()) return parse_sizes("capture_batches", c.capture_batches);
  std::vector<int64_t> sizes;
  for (int64_t s = 1; s < c.max_batch; s *= 2) sizes.push_back(s);
  sizes.push_back(c.max_batch);
  return sizes;
}

std::vector<int64_t> padded_sizes(int64_t max_items, const std::vector<int64_t>& captured) {
  std::vector<int64_t> computed_at(static_cast<size_t>(max_items) + 1, 0);
  for (int64_t n = 1; n <= max_items; ++n) computed_at[n] = *std::lower_bound(captured.begin(), captured.end(), n);
  return computed_at;
}

LoadKind dynamic_batching_kind() {
  return {"dynamic-batching", check_dynamic_batching,
          [](const RunConfig& c) -> std::unique_ptr<LoadGenerator> {
            return std::make_unique<DynamicBatching>(parse_arrival_process(c.arrival), *c.rate_per_s, c.seed,
                                                     arrival_horizon_ns(c), c.requests.value_or(0), rules_of(c));
          },
          summary_line};
}

}  // namespace infermeter
