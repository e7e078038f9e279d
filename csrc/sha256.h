// SHA-256 (FIPS 180-4), for the digests a result records of the model file
// and that an AOTInductor package's native libraries are checked against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace infermeter {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  // The digest as 64 lowercase hex digits; the object is spent after it.
  std::string hex();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buffer_[64];
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(const void* data, size_t size);

// The digest of a file's bytes, read with POSIX calls (not iostreams: see
// resource_meter.cpp); std::runtime_error naming the file when it cannot.
std::string sha256_of_file(const std::string& path);

}  // namespace infermeter
