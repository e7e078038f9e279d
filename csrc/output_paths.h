// Outputs are checked before a run measures anything, so that no measurement
// is lost to a path found unwritable only when the result is ready.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace infermeter {

// std::invalid_argument naming the option and the path when an output
// (option, path) cannot take a file written whole (write_file_atomically):
// the path is empty, its folder is missing or not writable, it is a
// directory, a special file (a device would be replaced by the rename) or
// read-only, it is one of `inputs` (the model file, a library to load, ...),
// or two outputs name the same file (the last written would replace the
// others).
void check_output_paths(const std::vector<std::pair<std::string, std::string>>& outputs,
                        const std::vector<std::string>& inputs);

}  // namespace infermeter
