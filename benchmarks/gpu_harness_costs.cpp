// Where a GPU request's harness time goes: a no-op CUDA graph (one trivial
// kernel, as calibration's request floor) issued and awaited in a loop on one
// thread, each way of timing it measured apart, p50 and p99 of host time per
// request over 20 000 requests. A figure, not a test: docs/gpu-validation.md
// records a run.
//
//   cmake --build build/<wheel tag> --target gpu_harness_costs && build/<wheel tag>/gpu_harness_costs
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/core/Event.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "device.h"

namespace {

constexpr int kRequests = 20'000;
constexpr int kWarmup = 2'000;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(status));
    std::exit(1);
  }
}

void report(const char* name, const std::function<void()>& request) {
  for (int i = 0; i < kWarmup; ++i) request();
  std::vector<int64_t> ns(kRequests);
  for (auto& t : ns) {
    const int64_t begin = now_ns();
    request();
    t = now_ns() - begin;
  }
  std::sort(ns.begin(), ns.end());
  std::printf("| %s | %.2f | %.2f |\n", name, ns[kRequests / 2] / 1e3, ns[kRequests * 99 / 100] / 1e3);
  std::fflush(stdout);
}

void spin(cudaEvent_t event) {
  cudaError_t status;
  while ((status = cudaEventQuery(event)) == cudaErrorNotReady) {
  }
  check(status, "cudaEventQuery");
}

}  // namespace

int main() {
  const c10::Device device(c10::kCUDA, 0);
  c10::InferenceMode inference_mode;
  auto* guard_impl = c10::impl::getDeviceGuardImpl(device.type());
  const c10::Stream stream = guard_impl->getStreamFromGlobalPool(device, false);
  c10::StreamGuard stream_guard(stream);
  const auto raw_stream = static_cast<cudaStream_t>(stream.native_handle());

  at::Tensor x = at::zeros({1}, at::TensorOptions().device(device));
  for (int i = 0; i < 3; ++i) x.add_(1);
  at::cuda::CUDAGraph graph;
  graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
  x.add_(1);
  graph.capture_end();
  check(cudaStreamSynchronize(raw_stream), "sync");

  cudaEvent_t start, stop, stop_untimed, stop_blocking;
  check(cudaEventCreateWithFlags(&start, cudaEventDefault), "event");
  check(cudaEventCreateWithFlags(&stop, cudaEventDefault), "event");
  check(cudaEventCreateWithFlags(&stop_untimed, cudaEventDisableTiming), "event");
  check(cudaEventCreateWithFlags(&stop_blocking, cudaEventBlockingSync | cudaEventDisableTiming), "event");
  c10::Event c10_start(device.type(), c10::EventFlag::BACKEND_DEFAULT);
  c10::Event c10_stop(device.type(), c10::EventFlag::BACKEND_DEFAULT);
  infermeter::DeviceTimer timer(device);
  volatile double sink = 0;

  cudaDeviceProp props{};
  check(cudaGetDeviceProperties(&props, 0), "properties");
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  std::printf("%s, driver API %d, runtime %d; a no-op CUDA graph (one kernel), one thread, %d requests\n\n",
              props.name, driver, runtime, kRequests);
  std::printf("| per request | host p50 us | host p99 us |\n|---|---|---|\n");

  report("launch only (graph replay, not awaited; the stream is drained every 64)", [&, n = 0]() mutable {
    graph.replay();
    if (++n % 64 == 0) check(cudaStreamSynchronize(raw_stream), "sync");
  });
  report("replay + cudaStreamSynchronize (no device time)", [&] {
    graph.replay();
    check(cudaStreamSynchronize(raw_stream), "sync");
  });
  report("replay + untimed event + cudaEventQuery polling (no device time)", [&] {
    graph.replay();
    check(cudaEventRecord(stop_untimed, raw_stream), "record");
    spin(stop_untimed);
  });
  report("replay + blocking-sync event + cudaEventSynchronize (no device time)", [&] {
    graph.replay();
    check(cudaEventRecord(stop_blocking, raw_stream), "record");
    check(cudaEventSynchronize(stop_blocking), "sync");
  });
  report("c10 events: record, replay, record, synchronize, elapsedTime (before)", [&] {
    c10_start.record(stream);
    graph.replay();
    c10_stop.record(stream);
    c10_stop.synchronize();
    sink = c10_start.elapsedTime(c10_stop);
  });
  report("CUDA events: record, replay, record, cudaEventSynchronize, elapsed", [&] {
    check(cudaEventRecord(start, raw_stream), "record");
    graph.replay();
    check(cudaEventRecord(stop, raw_stream), "record");
    check(cudaEventSynchronize(stop), "sync");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "elapsed");
    sink = ms;
  });
  report("CUDA events: record, replay, record, cudaEventQuery polling, elapsed", [&] {
    check(cudaEventRecord(start, raw_stream), "record");
    graph.replay();
    check(cudaEventRecord(stop, raw_stream), "record");
    spin(stop);
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "elapsed");
    sink = ms;
  });
  report("the engine's DeviceTimer (start, replay, stop_and_wait, elapsed_ns)", [&] {
    timer.start();
    graph.replay();
    timer.stop_and_wait();
    sink = static_cast<double>(timer.elapsed_ns());
  });
  report("cudaEventRecord alone", [&] { check(cudaEventRecord(start, raw_stream), "record"); });
  report("cudaEventElapsedTime alone (completed events)", [&] {
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "elapsed");
    sink = ms;
  });
  report("two steady-clock reads", [&] { sink = static_cast<double>(now_ns() - now_ns()); });
  check(cudaStreamSynchronize(raw_stream), "sync");
  (void)sink;
  return 0;
}
