#include "common/base64.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace grpc_ingress;

TEST_CASE("base64 decodes what it encodes and refuses what is not base64") {
  for (const std::string& text : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    CHECK(decode_base64(encode_base64(text)) == text);
  }
  CHECK(encode_base64("abcd") == "YWJjZA==");
  CHECK(decode_base64("YWJj\nZA==") == "abcd");
  CHECK_FALSE(decode_base64("YWJjZA=").has_value());
  CHECK_FALSE(decode_base64("YW*j").has_value());
  CHECK_FALSE(decode_base64("YQ==YQ==").has_value());
}

TEST_CASE("base64 chunks, each with its own padding, decode one after another (gRPC-Web text bodies)") {
  CHECK(decode_base64_chunks("AA==AAAA") == std::string("\0\0\0\0", 4));
  CHECK(decode_base64_chunks(encode_base64("ab") + encode_base64("c") + encode_base64("def")) ==
        std::string("abcdef"));
  CHECK(decode_base64_chunks("aGVsbG8=") == std::string("hello"));
  CHECK(decode_base64_chunks("aGVsbG8") == std::nullopt);  // not whole groups
  CHECK(decode_base64_chunks("") == std::string());
  for (const char* bad : {"=AAA", "A===", "AA==A", "AA=A", "AA==!AAA"}) {
    INFO(bad);
    CHECK_FALSE(decode_base64_chunks(bad));
  }
}
