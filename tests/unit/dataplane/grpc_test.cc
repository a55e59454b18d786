#include "dataplane/grpc.h"

#include <catch2/catch.hpp>

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
