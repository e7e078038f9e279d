// Writing a whole buffer to a descriptor, as every POSIX writer of the
// engine must: write() may take less than asked, and a signal may stop it
// before it takes anything.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace infermeter {

// Writes all `size` bytes of `data` to `fd`; false with errno set when a write fails.
inline bool write_all(int fd, const void* data, size_t size) {
  const auto* next = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, next, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    next += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace infermeter
