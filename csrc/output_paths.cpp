#include "output_paths.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace infermeter {
namespace {

namespace fs = std::filesystem;

// One file however it is named (relative, through links).
fs::path identity(const std::string& path) {
  std::error_code ec;
  const auto canonical = fs::weakly_canonical(path, ec);
  return ec ? fs::absolute(path, ec) : canonical;
}

void check_one(const std::string& option, const std::string& path, const std::vector<std::string>& inputs) {
  const auto refuse = [&](const std::string& why) {
    throw std::invalid_argument(option + " '" + path + "' " + why);
  };
  if (path.empty()) throw std::invalid_argument(option + " is an empty path: give the file to write");
  std::error_code ec;
  const fs::path target(path);
  for (const auto& input : inputs)
    if (!input.empty() && fs::exists(input, ec) && identity(path) == identity(input))
      refuse("is an input of this run ('" + input + "'): choose another path");
  const auto status = fs::status(target, ec);
  if (fs::exists(status)) {
    if (fs::is_directory(status)) refuse("is a directory: give a file path");
    if (!fs::is_regular_file(status)) refuse("is not a regular file (the result is written beside it and renamed over it)");
    if (::access(path.c_str(), W_OK) != 0) refuse("cannot be written: " + std::string(std::strerror(errno)));
  }
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(folder, ec)) refuse("cannot be written: its folder '" + folder.string() + "' does not exist");
  // What the writer will do: a scratch file beside the target.
  const std::string probe = path + ".check-" + std::to_string(getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) refuse("cannot be written: " + std::string(std::strerror(errno)));
  ::close(fd);
  ::unlink(probe.c_str());
}

}  // namespace

void check_output_paths(const std::vector<std::pair<std::string, std::string>>& outputs,
                        const std::vector<std::string>& inputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& [option, path] = outputs[i];
    check_one(option, path, inputs);
    for (size_t j = 0; j < i; ++j)
      if (identity(outputs[j].second) == identity(path))
        throw std::invalid_argument(option + " '" + path + "' is also " + outputs[j].first +
                                    "'s file: each output needs a path of its own");
  }
}

}  // namespace infermeter
