// The `aoti` runner: AOTInductor packages (.pt2 written by
// torch._inductor.aoti_compile_and_package), run through LibTorch's
// AOTIModelPackageLoader with no Python. See docs/aoti.md.
#pragma once

#include <c10/core/Device.h>

#include <memory>
#include <string>

#include "infermeter/model_runner.h"

namespace infermeter {

// How workers enter the package's run: concurrently (the aoti runner), or
// each its own container, run eagerly and captured in CUDA graphs (aoti-graph:
// torch's single-threaded run, which records no completion event to query).
enum class AotiEntry { kConcurrent, kCaptured };

// Opens config.model_path as an AOTInductor package for `device`. A package
// compiled for another device type is std::invalid_argument, and so is one
// infermeter did not export (or whose native libraries changed) unless
// config.trust; a missing or unreadable package, or one the loader rejects,
// is EngineError naming the path.
std::unique_ptr<ModelRunner> make_aoti_runner(const RunConfig& config, const c10::Device& device,
                                              AotiEntry entry = AotiEntry::kConcurrent);

// Why the package at `path` would be refused without trust, or empty when
// it would not (or is no readable package, which the runner reports): for a
// front end that checks something of its own before the engine loads it.
std::string untrusted_package_reason(const std::string& path);

// Whether `path` is a zip holding an AOTInductor model, for the other runners'
// errors; false for anything unreadable.
bool is_aoti_package(const std::string& path) noexcept;

}  // namespace infermeter
