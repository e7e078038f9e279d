// SHA-256 (csrc/sha256.{h,cpp}) against FIPS 180-4's test vectors, fed whole
// and in pieces that straddle its 64-byte blocks.
#include <doctest/doctest.h>

#include <string>

#include "sha256.h"

using namespace infermeter;

TEST_CASE("sha256: the standard's test vectors") {
  CHECK(sha256_hex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc", 3) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(sha256_hex(two_blocks.data(), two_blocks.size()) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("sha256: a million 'a's fed in uneven pieces") {
  const std::string piece(997, 'a');
  Sha256 digest;
  size_t fed = 0;
  while (fed + piece.size() <= 1'000'000) {
    digest.update(piece.data(), piece.size());
    fed += piece.size();
  }
  digest.update(piece.data(), 1'000'000 - fed);
  CHECK(digest.hex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
