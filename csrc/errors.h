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

// torch's message without its C++ backtrace or TorchScript call stack: for an
// interpreter failure, the last line holds the error itself.
inline std::string short_message(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10_error ? c10_error->what_without_backtrace() : e.what();
  if (text.find("Traceback of TorchScript") != std::string::npos) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text.substr(text.find_last_of('\n') + 1);
  }
  return text.substr(0, text.find("\n\n"));
}

}  // namespace infermeter
