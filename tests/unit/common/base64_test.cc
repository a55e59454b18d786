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
