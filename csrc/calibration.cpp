#include "calibration.h"

#include <ATen/ATen.h>
#include <torch/script.h>

#include "clock.h"
#include "closed_loop.h"
#include "histogram.h"
#include "torchscript_runner.h"

namespace infermeter {

namespace {

double clock_read_ns() {
  constexpr int kReads = 1'000'000;
  volatile int64_t sink = 0;
  const int64_t begin = now_ns();
  for (int i = 0; i < kReads; ++i) sink = now_ns();
  (void)sink;
  return static_cast<double>(now_ns() - begin) / kReads;
}

double histogram_record_ns() {
  constexpr int kRecords = 1'000'000;
  Histogram h;
  const int64_t begin = now_ns();
  // Spread over the range a latency histogram sees, so the cost is realistic.
  for (int i = 0; i < kRecords; ++i) h.record(1000 + (static_cast<int64_t>(i) * 7919) % 50'000'000);
  const int64_t end = now_ns();
  return h.total_count() == kRecords ? static_cast<double>(end - begin) / kRecords : -1.0;
}

double noop_request_ns(const c10::Device& device) {
  torch::jit::Module noop("infermeter_noop");
  noop.define("def forward(self, x):\n  return x\n");
  TorchScriptRunner runner(noop, {at::zeros({1}, at::TensorOptions().device(device))}, device);
  StopRule stop(std::nullopt, 20'000);
  ClosedLoopPlan plan;
  plan.device = device;
  plan.warmup_min_requests = 100;
  const auto outcome = run_closed_loop(runner, plan, stop, [] { return false; });
  return outcome.merged.host().mean();
}

}  // namespace

nlohmann::json calibrate(const c10::Device& device) {
  return {{"clock_read_ns", clock_read_ns()},
          {"histogram_record_ns", histogram_record_ns()},
          {"noop_request_ns", noop_request_ns(device)}};
}

}  // namespace infermeter
