// Replays each worker's request (a TorchScript forward, or an AOTInductor
// package's run) as a CUDA graph, the way a server that captures its model
// serves it: one launch per request instead of one per kernel. Built only where the installed torch is a CUDA build and CUDA's
// headers are found (INFERMETER_CUDA_HEADERS).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "infermeter/model_runner.h"

namespace infermeter {

// Why this build or device cannot replay CUDA graphs; nullopt when it can.
std::optional<std::string> cuda_graph_unavailable(const c10::Device& device);

std::unique_ptr<ModelRunner> make_cuda_graph_runner(const RunConfig& config, const c10::Device& device);

// The aoti-graph runner: each worker's AOTInductor package run() captured in
// relaxed mode and replayed (a package's C++ wrapper otherwise launches
// every kernel from the host).
std::unique_ptr<ModelRunner> make_aoti_graph_runner(const RunConfig& config, const c10::Device& device);

class TorchScriptRunner;
// Replays an already opened TorchScript runner's forward (calibration's no-op).
std::unique_ptr<ModelRunner> in_cuda_graphs(std::unique_ptr<TorchScriptRunner> scripted, const c10::Device& device);

}  // namespace infermeter
