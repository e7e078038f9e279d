#include "private_copy.h"

#include <fcntl.h>
#include <stdlib.h>  // mkdtemp
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "infermeter/errors.h"
#include "sha256.h"
#include "write_all.h"

namespace infermeter {
namespace {

// Closes a descriptor on every path out.
struct Descriptor {
  explicit Descriptor(int fd) : fd(fd) {}
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
  int fd;
};

}  // namespace

PrivateCopy::PrivateCopy(const std::string& source) {
  // Non-blocking: a pipe swapped in after the caller's check must not hang the open.
  Descriptor in(::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (in.fd < 0) throw EngineError("cannot read model file '" + source + "': " + std::strerror(errno));
  struct stat info {};
  if (::fstat(in.fd, &info) != 0 || !S_ISREG(info.st_mode))
    throw EngineError("model '" + source + "' is not a regular file, not a model file");
  const char* temp = std::getenv("TMPDIR");
  std::string pattern = std::string(temp && *temp ? temp : "/tmp") + "/infermeter-model-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr)
    throw EngineError("cannot make a folder in the temp directory to copy model file '" + source +
                      "' into: " + std::strerror(errno));
  folder_ = pattern;
  const auto slash = source.find_last_of('/');
  path_ = folder_ + "/" + (slash == std::string::npos ? source : source.substr(slash + 1));
  try {
    Descriptor out(::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (out.fd < 0) throw EngineError("cannot write '" + path_ + "': " + std::strerror(errno));
    Sha256 digest;
    std::vector<uint8_t> chunk(size_t{1} << 20);
    for (;;) {
      const ssize_t n = ::read(in.fd, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw EngineError("cannot read model file '" + source + "': " + std::strerror(errno));
      if (n == 0) break;
      digest.update(chunk.data(), static_cast<size_t>(n));
      if (!write_all(out.fd, chunk.data(), static_cast<size_t>(n)))
        throw EngineError("cannot copy model file '" + source + "' to '" + path_ + "' (the temp directory; set " +
                          "TMPDIR to another): " + std::strerror(errno));
    }
    if (::close(out.fd) != 0) {
      out.fd = -1;
      throw EngineError("cannot copy model file '" + source + "' to '" + path_ + "': " + std::strerror(errno));
    }
    out.fd = -1;
    sha256_ = digest.hex();
  } catch (...) {
    remove();
    throw;
  }
}

PrivateCopy::~PrivateCopy() { remove(); }

// The folder holds the copy alone.
void PrivateCopy::remove() noexcept {
  if (!path_.empty()) ::unlink(path_.c_str());
  if (!folder_.empty()) ::rmdir(folder_.c_str());
}

}  // namespace infermeter
