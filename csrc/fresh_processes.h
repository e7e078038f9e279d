// The binary's repeats: each measurement in a fresh process of the binary
// itself, so that no run inherits another's allocator, caches or JIT state.
#pragma once

#include <csignal>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace infermeter {

// Runs this executable `count` times with `args` (its own flags, without
// --repeat and --json) plus `--json <scratch file>`, each child's console
// summary silenced, and returns the result documents in order. Stops early,
// keeping what finished, once `interrupted` is set (a child stopped by the
// same Ctrl-C writes its partial result, which is kept too). A child that
// fails is EngineError with its exit status; its own message is on stderr.
std::vector<nlohmann::json> run_in_fresh_processes(const std::vector<std::string>& args, int count,
                                                   const volatile std::sig_atomic_t& interrupted);

}  // namespace infermeter
