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

// torch's message without its C++ backtrace and TorchScript call stack.
inline std::string short_message(const c10::Error& e) {
  std::string text = e.what_without_backtrace();
  return text.substr(0, text.find("\n\n"));
}

}  // namespace infermeter
