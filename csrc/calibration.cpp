#include "calibration.h"

#include <ATen/ATen.h>
#include <torch/script.h>

#include <algorithm>
#include <vector>

#include "clock.h"
#include "cuda_graph_runner.h"
#include "infermeter/histogram.h"
#include "stop_rules.h"
#include "torchscript_runner.h"
#include "worker_pool.h"

namespace infermeter {

namespace {

constexpr int kBatches = 11;

template <typename F>
double median_of_batches(F&& batch_mean_ns) {
  std::vector<double> means;
  for (int i = 0; i < kBatches; ++i) means.push_back(batch_mean_ns());
  std::nth_element(means.begin(), means.begin() + kBatches / 2, means.end());
  return means[kBatches / 2];
}

double clock_read_ns() {
  return median_of_batches([] {
    constexpr int kReads = 100'000;
    volatile int64_t sink = 0;
    const int64_t begin = now_ns();
    for (int i = 0; i < kReads; ++i) sink = now_ns();
    (void)sink;
    return static_cast<double>(now_ns() - begin) / kReads;
  });
}

double histogram_record_ns() {
  Histogram h;
  return median_of_batches([&h] {
    constexpr int kRecords = 100'000;
    const int64_t begin = now_ns();
    // Spread over the range a latency histogram sees, so the cost is realistic.
    for (int i = 0; i < kRecords; ++i) h.record(1000 + (static_cast<int64_t>(i) * 7919) % 50'000'000);
    return static_cast<double>(now_ns() - begin) / kRecords;
  });
}

// A no-op through the run's runner. An AOTInductor package cannot be built
// here (it needs a compiler run of its own), so the aoti runner is floored by
// the TorchScript no-op and aoti-graph by the CUDA-graph one, and the result
// says so. A CUDA graph cannot be empty, so its no-op is one trivial kernel.
nlohmann::json request_floor(const RunConfig& config, const c10::Device& device) {
  const bool graphs = config.runner == "cuda-graph" || config.runner == "aoti-graph";
  torch::jit::Module noop("infermeter_noop");
  noop.define(graphs ? "def forward(self, x):\n  return x + 1\n" : "def forward(self, x):\n  return x\n");
  float zero = 0;
  std::vector<ExplicitInput> input{{"x", {1}, "float32", std::string(reinterpret_cast<char*>(&zero), sizeof zero)}};
  auto scripted = std::make_unique<TorchScriptRunner>(noop, input, device);
  std::unique_ptr<ModelRunner> runner;
  if (graphs)
    runner = in_cuda_graphs(std::move(scripted), device);
  else
    runner = std::move(scripted);
  RequestCountRule stop(20'000);
  ClosedLoop load;
  PoolPlan plan;
  plan.device = device;
  plan.warmup_min_requests = 100;
  const auto outcome = run_workers(*runner, load, stop, plan, [] { return false; }, {});
  return {{"request_floor_ns", outcome.merged->host().value_at_percentile(50)},
          {"request_floor_runner", graphs ? "cuda-graph" : "torchscript"}};
}

}  // namespace

nlohmann::json calibrate(const RunConfig& config, const c10::Device& device) {
  nlohmann::json out = {{"clock_read_ns", clock_read_ns()}, {"histogram_record_ns", histogram_record_ns()}};
  out.update(request_floor(config, device));
  return out;
}

}  // namespace infermeter
