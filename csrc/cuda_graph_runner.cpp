#include "cuda_graph_runner.h"

#include <stdexcept>

#include "aoti_runner.h"
#include "dynamic_batching.h"
#include "infermeter/errors.h"
#include "torchscript_runner.h"

#ifdef INFERMETER_CUDA_HEADERS
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <ATen/cuda/CUDAGraph.h>

#include <mutex>
#include <optional>
#include <vector>
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

// A worker's requests captured as CUDA graphs: one at the runner's batch,
// or, for dynamic batching, one per captured batch size.
class CudaGraphReplica : public Replica {
 public:
  // Runs on the worker's thread with its (non-default) stream current.
  CudaGraphReplica(std::unique_ptr<Replica> eager, c10::DeviceIndex device, const Capture& capture,
                   const std::vector<int64_t>& sizes)
      : eager_(std::move(eager)), device_(device), capture_(capture) {
    if (sizes.empty()) {
      for (int i = 0; i < kEagerRunsBeforeCapture; ++i) (void)eager_->infer();
      capture_one([this] { return eager_->infer(); });
      return;
    }
    for (int i = 0; i < kEagerRunsBeforeCapture; ++i)
      for (const int64_t size : sizes) (void)eager_->infer_batch(size);
    slot_.assign(static_cast<size_t>(sizes.back()) + 1, -1);
    for (const int64_t size : sizes) {
      slot_[size] = static_cast<int>(graphs_.size());
      capture_one([this, size] { return eager_->infer_batch(size); });
    }
  }

  // The inputs and outputs are the captured static tensors: each replay
  // recomputes the outputs in place.
  c10::IValue infer() override {
    graphs_.front()->replay();
    return outputs_.front();
  }
  c10::IValue infer_batch(int64_t size) override {
    const int i = slot_.at(size);
    graphs_.at(i)->replay();
    return outputs_[i];
  }

  ~CudaGraphReplica() override { release(); }

 private:
  template <typename Run>
  void capture_one(Run&& run) {
    std::lock_guard lock(capture_mutex());
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    try {
      // Its own memory pool: the captured inputs, intermediates and outputs
      // stay where the graph recorded them.
      graph->capture_begin({0, 0}, capture_.mode);
      c10::IValue output;
      try {
        output = run();
      } catch (...) {
        // The stream must leave capture mode whatever ended the capture.
        try {
          graph->capture_end();
        } catch (...) {
        }
        throw;
      }
      graph->capture_end();
      graphs_.push_back(std::move(graph));
      outputs_.push_back(std::move(output));
    } catch (const std::exception& e) {
      graph.reset();  // still under the lock (see capture_mutex)
      release_locked();
      try {
        release_generator_from_capture(device_);
      } catch (...) {
        // The capture's own failure is the one to report.
      }
      if (is_out_of_memory(e))
        throw OutOfMemory("capturing the model as a CUDA graph ran out of device memory: " + short_message(e));
      throw EngineError(
          "the model cannot be captured as a CUDA graph (its forward synchronizes with the host, copies to "
          "the CPU, or has data-dependent shapes); use --runner " + capture_.fallback_runner + ". CUDA said: " +
          short_message(e));
    }
  }

  void release() {
    std::lock_guard lock(capture_mutex());
    release_locked();
  }

  // Only the graphs' destruction needs the lock (see capture_mutex). The
  // captured outputs' memory is the graphs' pools; the eager replica's stack
  // may still hold it after the graphs go, which the caching allocator
  // allows (a private pool lives until its last block is freed).
  void release_locked() {
    outputs_.clear();
    graphs_.clear();
  }

  std::unique_ptr<Replica> eager_;
  c10::DeviceIndex device_;
  Capture capture_;
  std::vector<std::unique_ptr<at::cuda::CUDAGraph>> graphs_;
  std::vector<c10::IValue> outputs_;  // each graph's captured output
  std::vector<int> slot_;             // by batch size: its graph's index, -1 where none was captured
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
    return std::make_unique<CudaGraphReplica>(eager_->make_replica(worker), device_.index(), capture_, sizes_);
  }
  nlohmann::json describe() const override { return description_; }
  int64_t batch_size() const override { return eager_->batch_size(); }
  nlohmann::json footprint() const override { return eager_->footprint(); }

  // A graph replays only the batch it was captured at: one graph per
  // captured size, and each batch padded to the smallest that holds it.
  std::vector<int64_t> prepare_batches(int64_t max_items, const std::vector<int64_t>& capture_sizes) override {
    (void)eager_->prepare_batches(capture_sizes.back(), {});
    sizes_ = capture_sizes;
    description_["captured_batches"] = sizes_;
    return padded_sizes(max_items, sizes_);
  }

 private:
  std::unique_ptr<ModelRunner> eager_;
  c10::Device device_;
  Capture capture_;
  std::vector<int64_t> sizes_;  // captured batch sizes for dynamic batching; empty: the runner's batch only
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
  return std::make_unique<CudaGraphRunner>(make_aoti_runner(config, device, AotiEntry::kCaptured), device,
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
