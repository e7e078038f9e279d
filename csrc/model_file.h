// The check every runner makes of the model path it is given before torch
// opens it: torch's loaders report a directory as a corrupt archive and block
// on a named pipe, so the problem is named here, for every front end alike.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

#include "infermeter/errors.h"

namespace infermeter {

inline void require_model_file(const std::string& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::not_found)
    throw EngineError("model file not found: '" + path + "' (no such file)");
  if (error) throw EngineError("cannot read model file '" + path + "': " + error.message());
  if (std::filesystem::is_directory(status)) throw EngineError("model '" + path + "' is a directory, not a model file");
  if (!std::filesystem::is_regular_file(status))
    throw EngineError("model '" + path + "' is not a regular file (a pipe, socket or device), not a model file");
}

}  // namespace infermeter
