#include "output_paths.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace infermeter {

namespace fs = std::filesystem;

void check_output_path(const std::string& option, const std::string& path, const std::string& model_path) {
  const auto refuse = [&](const std::string& why) {
    throw std::invalid_argument(option + " '" + path + "' " + why);
  };
  std::error_code ec;
  const fs::path target(path);
  if (!model_path.empty() && fs::exists(model_path, ec) &&
      fs::weakly_canonical(target, ec) == fs::weakly_canonical(model_path, ec))
    refuse("is the model file itself: choose another path");
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

}  // namespace infermeter
