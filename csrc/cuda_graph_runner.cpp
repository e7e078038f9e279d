#include "cuda_graph_runner.h"

#include <stdexcept>

#include "aoti_runner.h"
#include "infermeter/errors.h"
#include "torchscript_runner.h"

#ifdef INFERMETER_CUDA_HEADERS
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <ATen/cuda/CUDAGraph.h>

#include <mutex>
#include <optional>
#endif

namespace infermeter {

#ifdef INFERMETER_CUDA_HEADERS

namespace {

// Eager runs before capture: TorchScript's profiling executor optimizes the
// graph after its profiled runs, and cuDNN picks its algorithms; both must be
// done before the kernels are recorded.
constexpr int kEagerRunsBeforeCapture = 3;

// Graphs are captured and destroyed one at a time: torch 2.11's CUDAGraph
// registers itself with the device's default random generator when capture
// begins and unregisters in its destructor, in a set that is not safe for
// several threads (workers ending together corrupted it on an H200: "The
// graph should be registered to the state", and a heap corruption); and
// between capture_begin and capture_end it puts that generator into capture
// mode, one flag for all threads.
std::mutex& capture_mutex() {
  static std::mutex m;
  return m;
}

// A capture that fails inside the model leaves torch 2.11's default CUDA
// generator in capture mode (capture_end throws before it restores it), and
// every later random draw on the device fails with "Offset increment outside
// graph capture encountered unexpectedly". A copy of its state taken now is
// out of capture mode; installing it keeps the seed and offset.
void release_generator_from_capture(c10::DeviceIndex device) {
  auto generator = at::cuda::detail::getDefaultCUDAGenerator(device);
  auto* impl = generator.get<at::CUDAGeneratorImpl>();
  impl->graphsafe_set_state(impl->clone()->graphsafe_get_state());
}

// How a runner's requests are captured. TorchScript captures in thread-local
// mode (other workers allocate on their own streams meanwhile); an
// AOTInductor package's run() only in relaxed mode: its wrapper calls CUDA
// functions that global and thread-local modes forbid while capturing
// ("operation not permitted when stream is capturing", seen on an H100).
struct Capture {
  cudaStreamCaptureMode mode;
  std::string fallback_runner;  // what to use instead when the model cannot be captured
};

class CudaGraphReplica : public Replica {
 public:
  // Runs on the worker's thread with its (non-default) stream current.
  CudaGraphReplica(std::unique_ptr<Replica> eager, c10::DeviceIndex device, const Capture& capture)
      : eager_(std::move(eager)) {
    for (int i = 0; i < kEagerRunsBeforeCapture; ++i) (void)eager_->infer();
    std::lock_guard lock(capture_mutex());
    graph_.emplace();
    try {
      // Its own memory pool: the captured inputs, intermediates and outputs
      // stay where the graph recorded them.
      graph_->capture_begin({0, 0}, capture.mode);
      try {
        output_ = eager_->infer();
      } catch (...) {
        // The stream must leave capture mode whatever ended the capture.
        try {
          graph_->capture_end();
        } catch (...) {
        }
        throw;
      }
      graph_->capture_end();
    } catch (const std::exception& e) {
      graph_.reset();  // still under the lock: the constructor throws, so no destructor will
      try {
        release_generator_from_capture(device);
      } catch (...) {
        // The capture's own failure is the one to report.
      }
      if (is_out_of_memory(e))
        throw OutOfMemory("capturing the model as a CUDA graph ran out of device memory: " + short_message(e));
      throw EngineError(
          "the model cannot be captured as a CUDA graph (its forward synchronizes with the host, copies to "
          "the CPU, or has data-dependent shapes); use --runner " + capture.fallback_runner + ". CUDA said: " +
          short_message(e));
    }
  }

  // The inputs and outputs are the captured static tensors: each replay
  // recomputes the outputs in place.
  c10::IValue infer() override {
    graph_->replay();
    return output_;
  }

  ~CudaGraphReplica() override {
    std::lock_guard lock(capture_mutex());
    // Only the graph's destruction needs the lock (see capture_mutex). The
    // captured output's memory is the graph's pool; the eager replica's stack
    // may still hold it after the graph goes, which the caching allocator
    // allows (a private pool lives until its last block is freed).
    output_ = c10::IValue();
    graph_.reset();
  }

 private:
  std::unique_ptr<Replica> eager_;
  std::optional<at::cuda::CUDAGraph> graph_;
  c10::IValue output_;
};

// Any runner's requests, each worker's captured once and replayed.
class CudaGraphRunner : public ModelRunner {
 public:
  CudaGraphRunner(std::unique_ptr<ModelRunner> eager, const c10::Device& device, Capture capture,
                  const std::string& name)
      : eager_(std::move(eager)), device_(device), capture_(std::move(capture)), description_(eager_->describe()) {
    description_["runner"] = name;
  }

  std::unique_ptr<Replica> make_replica(int worker) override {
    return std::make_unique<CudaGraphReplica>(eager_->make_replica(worker), device_.index(), capture_);
  }
  nlohmann::json describe() const override { return description_; }
  int64_t batch_size() const override { return eager_->batch_size(); }

 private:
  std::unique_ptr<ModelRunner> eager_;
  c10::Device device_;
  Capture capture_;
  nlohmann::json description_;
};

std::optional<std::string> graphs_unavailable(const std::string& runner, const c10::Device& device) {
  if (!device.is_cuda()) return "the " + runner + " runner needs a CUDA device (got '" + device.str() + "')";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> cuda_graph_unavailable(const c10::Device& device) {
  return graphs_unavailable("cuda-graph", device);
}

std::unique_ptr<ModelRunner> in_cuda_graphs(std::unique_ptr<TorchScriptRunner> scripted, const c10::Device& device) {
  if (const auto why = cuda_graph_unavailable(device)) throw std::invalid_argument(*why);
  return std::make_unique<CudaGraphRunner>(std::move(scripted), device,
                                           Capture{cudaStreamCaptureModeThreadLocal, "torchscript"}, "cuda-graph");
}

std::unique_ptr<ModelRunner> make_cuda_graph_runner(const RunConfig& config, const c10::Device& device) {
  if (const auto why = cuda_graph_unavailable(device)) throw std::invalid_argument(*why);
  return in_cuda_graphs(std::make_unique<TorchScriptRunner>(config, device), device);
}

std::unique_ptr<ModelRunner> make_aoti_graph_runner(const RunConfig& config, const c10::Device& device) {
  if (const auto why = graphs_unavailable("aoti-graph", device)) throw std::invalid_argument(*why);
  return std::make_unique<CudaGraphRunner>(make_aoti_runner(config, device), device,
                                           Capture{cudaStreamCaptureModeRelaxed, "aoti"}, "aoti-graph");
}

#else

std::optional<std::string> cuda_graph_unavailable(const c10::Device&) {
  return "the cuda-graph runner is not in this build: it was built against a torch without CUDA, or CUDA's "
         "headers (site-packages/nvidia/cu*/include and crt/host_config.h) were not found";
}

std::unique_ptr<ModelRunner> in_cuda_graphs(std::unique_ptr<TorchScriptRunner>, const c10::Device& device) {
  throw std::invalid_argument(*cuda_graph_unavailable(device));
}

std::unique_ptr<ModelRunner> make_cuda_graph_runner(const RunConfig&, const c10::Device& device) {
  throw std::invalid_argument(*cuda_graph_unavailable(device));
}

std::unique_ptr<ModelRunner> make_aoti_graph_runner(const RunConfig&, const c10::Device& device) {
  throw std::invalid_argument(*cuda_graph_unavailable(device));
}

#endif

}  // namespace infermeter
