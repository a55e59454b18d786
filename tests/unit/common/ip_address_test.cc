#include "common/ip_address.h"

#include <catch2/catch.hpp>

#include <set>
#include <stdexcept>
#include <string>
#include <unordered_set>

using namespace grpc_ingress;

TEST_CASE("IP addresses parse into binary and print in canonical form") {
  auto v4 = IpAddress::parse("10.1.2.3");
  REQUIRE(v4);
  CHECK(v4->family() == IpFamily::kV4);
  CHECK(v4->size() == 4);
  CHECK(v4->to_string() == "10.1.2.3");
  CHECK(v4->bytes()[0] == 10);
  CHECK(v4->bytes()[3] == 3);

  auto v6 = IpAddress::parse("fd00:0::0001");
  REQUIRE(v6);
  CHECK(v6->family() == IpFamily::kV6);
  CHECK(v6->to_string() == "fd00::1");
  CHECK(IpAddress::parse("::ffff:10.1.2.3")->family() == IpFamily::kV6);

  // A family given is a family required (an EndpointSlice's addressType).
  CHECK_FALSE(IpAddress::parse("10.1.2.3", IpFamily::kV6));
  CHECK_FALSE(IpAddress::parse("fd00::1", IpFamily::kV4));
  for (const char* bad : {"", "10.1.2", "10.1.2.256", "10.1.2.3 ", "pod.example", "fd00::1%eth0",
                          "0123456789012345678901234567890123456789012345678"}) {
    CHECK_FALSE(IpAddress::parse(bad));
  }
  CHECK_FALSE(IpAddress::parse(std::string("10.1.2.3\0", 9)));
  CHECK_THROWS_AS(IpAddress::from("nope"), std::invalid_argument);

  CHECK(canonical_ip("::0001", IpFamily::kV6) == "::1");
  CHECK(is_ip_address("10.0.0.1"));
  CHECK_FALSE(is_ip_address("example.com"));
}

TEST_CASE("pod addresses compare, hash and print as ip:port") {
  PodAddress a{IpAddress::from("10.0.0.1"), 50051};
  PodAddress b{IpAddress::from("10.0.0.1"), 50052};
  PodAddress c{IpAddress::from("fd00::1"), 50051};
  CHECK(a.to_string() == "10.0.0.1:50051");
  CHECK(c.to_string() == "[fd00::1]:50051");
  CHECK(a == PodAddress{IpAddress::from("10.0.0.1"), 50051});
  CHECK(a != b);
  CHECK(a < b);
  // Numeric order, not text order: 10.0.0.9 before 10.0.0.10.
  CHECK(PodAddress{IpAddress::from("10.0.0.9"), 1} < PodAddress{IpAddress::from("10.0.0.10"), 1});
  // IPv4 zero-pads its bytes: 0.0.0.0 and :: must stay apart by family.
  CHECK(PodAddress{IpAddress::from("0.0.0.0"), 1} != PodAddress{IpAddress::from("::"), 1});

  std::unordered_set<PodAddress, PodAddressHash> seen;
  for (int i = 0; i < 1000; ++i) {
    seen.insert({IpAddress::from("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250)), 50051});
  }
  seen.insert(a);  // already there (10.0.0.1)
  CHECK(seen.size() == 1000);
  std::set<size_t> hashes;
  for (const PodAddress& pod : seen) hashes.insert(PodAddressHash()(pod));
  CHECK(hashes.size() == 1000);
}
