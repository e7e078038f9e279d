// Helpers the engine's unit tests share.
#pragma once

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "infermeter/options.h"

namespace infermeter::testing {

// A run config from the options given, through the one normalise step.
inline RunConfig config_from(const nlohmann::json& given) {
  return run_config_from(normalise_options(given), "model.pt");
}

// The message of the std::invalid_argument `f` throws; FAILs when it throws none.
template <typename F>
std::string invalid_argument_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  FAIL("no std::invalid_argument was thrown");
  return "";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace infermeter::testing
