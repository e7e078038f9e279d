// Public: the errors the engine raises besides std::invalid_argument (a bad
// config), and the helpers that keep torch's messages readable.
#pragma once

#include <c10/util/Exception.h>

#include <stdexcept>
#include <string>

namespace infermeter {

// A failure of the model or of torch while measuring; bad arguments are
// std::invalid_argument instead.
class EngineError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The device ran out of memory: in a sweep a result to record, not a failure.
class OutOfMemory : public EngineError {
 public:
  using EngineError::EngineError;
};

// The TorchScript interpreter rethrows a kernel's exception as a plain
// c10::Error, so the allocator's message is the reliable sign.
inline bool is_out_of_memory(const std::exception& e) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e) || dynamic_cast<const OutOfMemory*>(&e)) return true;
  const std::string text = e.what();
  return text.find("out of memory") != std::string::npos || text.find("OutOfMemoryError") != std::string::npos;
}

// torch's message without its C++ backtrace or TorchScript call stack: for an
// interpreter failure, the last line holds the error itself.
inline std::string short_message(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10_error ? c10_error->what_without_backtrace() : e.what();
  if (text.find("Traceback of TorchScript") != std::string::npos) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text.substr(text.find_last_of('\n') + 1);
  }
  // Errors rethrown as plain exceptions (AOTInductor's) still carry c10's backtrace.
  text = text.substr(0, text.find("\nException raised from"));
  return text.substr(0, text.find("\n\n"));
}

// Rethrows `cause` as an engine failure described by `message`, keeping the
// out-of-memory kind.
[[noreturn]] inline void throw_engine_error(const std::exception& cause, const std::string& message) {
  if (is_out_of_memory(cause)) throw OutOfMemory(message);
  throw EngineError(message);
}

}  // namespace infermeter
