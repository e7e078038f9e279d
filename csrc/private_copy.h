// A model file copied, once, into a folder of the temp directory that only
// this user can write (mkdtemp: mode 0700), with the SHA-256 of the bytes
// copied. Whatever is checked of a package (its facts, its libraries'
// digests) and then loaded is read from this copy, so the file cannot be
// swapped or rewritten between the check and the load, and the digest a
// result records is of the bytes that ran. The folder is removed with the
// object. POSIX calls only, no iostreams or std::filesystem (see
// resource_meter.cpp).
#pragma once

#include <string>

namespace infermeter {

class PrivateCopy {
 public:
  // EngineError naming `source` (not a regular file, unreadable) or the copy
  // (the temp directory full): nothing is left behind.
  explicit PrivateCopy(const std::string& source);
  ~PrivateCopy();
  PrivateCopy(const PrivateCopy&) = delete;
  PrivateCopy& operator=(const PrivateCopy&) = delete;

  const std::string& path() const { return path_; }
  const std::string& sha256() const { return sha256_; }

 private:
  void remove() noexcept;

  std::string folder_;
  std::string path_;
  std::string sha256_;
};

}  // namespace infermeter
