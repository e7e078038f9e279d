// Outputs are checked before a run measures anything, so that no measurement
// is lost to a path found unwritable only when the result is ready.
#pragma once

#include <string>

namespace infermeter {

// std::invalid_argument naming the option and the path when `path` cannot
// take a file written whole (write_file_atomically): its folder is missing or
// not writable, it is a directory, a special file (a device would be replaced
// by the rename) or read-only, or it is `model_path` itself.
void check_output_path(const std::string& option, const std::string& path, const std::string& model_path);

}  // namespace infermeter
