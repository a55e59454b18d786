#include "dataplane/grpc.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace grpc_ingress;
using namespace std::chrono;

TEST_CASE("grpc-timeout is parsed in every unit and malformed values are refused", "[grpc]") {
  CHECK(parse_grpc_timeout("1H") == hours(1));
  CHECK(parse_grpc_timeout("2M") == minutes(2));
  CHECK(parse_grpc_timeout("3S") == seconds(3));
  CHECK(parse_grpc_timeout("300m") == milliseconds(300));
  CHECK(parse_grpc_timeout("7u") == microseconds(7));
  CHECK(parse_grpc_timeout("99999999n") == nanoseconds(99999999));
  CHECK_FALSE(parse_grpc_timeout(""));
  CHECK_FALSE(parse_grpc_timeout("m"));
  CHECK_FALSE(parse_grpc_timeout("10"));
  CHECK_FALSE(parse_grpc_timeout("10x"));
  CHECK_FALSE(parse_grpc_timeout("-1S"));
  CHECK_FALSE(parse_grpc_timeout("123456789S"));  // more than 8 digits
}

TEST_CASE("a grpc-timeout too long for 64-bit nanoseconds saturates instead of wrapping", "[grpc]") {
  CHECK(parse_grpc_timeout("99999999H") == nanoseconds::max());
  CHECK(parse_grpc_timeout("2562047H") == hours(2562047));  // the most hours that fit
  CHECK(parse_grpc_timeout("99999999M") == minutes(99999999));
}

TEST_CASE("gRPC content types are recognised, grpc-web is not plain gRPC", "[grpc]") {
  CHECK(is_grpc_content_type("application/grpc"));
  CHECK(is_grpc_content_type("application/grpc+proto"));
  CHECK(is_grpc_content_type("application/grpc;charset=utf-8"));
  CHECK_FALSE(is_grpc_content_type("application/grpc-web"));
  CHECK_FALSE(is_grpc_content_type("application/json"));
}

TEST_CASE("grpc-message is percent-encoded", "[grpc]") {
  CHECK(percent_encode_grpc_message("no route") == "no route");
  CHECK(percent_encode_grpc_message("100%") == "100%25");
  CHECK(percent_encode_grpc_message("a\nb") == "a%0Ab");
  CHECK(percent_encode_grpc_message("\xc3\xa9") == "%C3%A9");
}

namespace {
std::string message(size_t size, uint8_t flag = 0) {
  std::string out(5 + size, 'x');
  out[0] = static_cast<char>(flag);
  out[1] = static_cast<char>(size >> 24);
  out[2] = static_cast<char>(size >> 16);
  out[3] = static_cast<char>(size >> 8);
  out[4] = static_cast<char>(size);
  return out;
}
}  // namespace

TEST_CASE("the message scanner counts gRPC messages and their sizes whatever the DATA frame boundaries",
          "[grpc]") {
  std::string body = message(0) + message(3) + message(70000) + message(1);
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{5}, size_t{7}, size_t{4096}, body.size()}) {
    GrpcMessageScanner scanner;
    std::vector<uint64_t> sizes;
    for (size_t pos = 0; pos < body.size(); pos += chunk) {
      size_t n = std::min(chunk, body.size() - pos);
      CHECK(scanner.feed(reinterpret_cast<const uint8_t*>(body.data()) + pos, n, 0,
                         [&](uint64_t length) { sizes.push_back(length); }) == 0);  // 0: no limit
    }
    CHECK(sizes == std::vector<uint64_t>{0, 3, 70000, 1});
    CHECK(scanner.messages() == 4);
  }
}

TEST_CASE("the message scanner counts a message once its prefix is whole, and stops at one over the limit",
          "[grpc]") {
  std::string body = message(10) + message(200) + message(1);
  GrpcMessageScanner scanner;
  auto bytes = reinterpret_cast<const uint8_t*>(body.data());
  CHECK(scanner.feed(bytes, 4, 100) == 0);
  CHECK(scanner.messages() == 0);  // four bytes of a prefix are no message yet
  CHECK(scanner.feed(bytes + 4, 1, 100) == 0);
  CHECK(scanner.messages() == 1);
  CHECK(scanner.feed(bytes + 5, body.size() - 5, 100) == 200);
  CHECK(scanner.messages() == 2);
}
