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

TEST_CASE("IP ranges parse as CIDR blocks, clear host bits and contain only addresses of their family") {
  auto range = IpRange::parse("10.1.2.3/8");
  REQUIRE(range);
  CHECK(range->to_string() == "10.0.0.0/8");
  CHECK(range->contains(IpAddress::from("10.255.0.1")));
  CHECK_FALSE(range->contains(IpAddress::from("11.0.0.1")));
  CHECK_FALSE(range->contains(IpAddress::from("::ffff:10.0.0.1")));  // another family

  auto single = IpRange::parse("127.0.0.2");
  REQUIRE(single);
  CHECK(single->to_string() == "127.0.0.2/32");
  CHECK(single->contains(IpAddress::from("127.0.0.2")));
  CHECK_FALSE(single->contains(IpAddress::from("127.0.0.3")));

  auto v6 = IpRange::parse("fd00:1:2::/47");
  REQUIRE(v6);
  CHECK(v6->to_string() == "fd00:1:2::/47");
  CHECK(v6->contains(IpAddress::from("fd00:1:3::1")));  // bit 47 is a host bit
  CHECK_FALSE(v6->contains(IpAddress::from("fd00:1:4::1")));
  CHECK(IpRange::parse("0.0.0.0/0")->contains(IpAddress::from("203.0.113.9")));
  CHECK(IpRange::parse("::/0")->contains(IpAddress::from("::1")));
  CHECK(IpRange::parse("10.0.0.0/12")->contains(IpAddress::from("10.15.255.255")));
  CHECK_FALSE(IpRange::parse("10.0.0.0/12")->contains(IpAddress::from("10.16.0.0")));

  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "fd00::/129", "10.0.0.0/-1", "10.0.0.0/8x",
                          "10.0.0/8", "host.example/32", "10.0.0.0/0008"}) {
    INFO(bad);
    CHECK_FALSE(IpRange::parse(bad));
  }
}

TEST_CASE("IP range lists split on commas, skip blanks and name the first item that is not a range") {
  auto ranges = parse_ip_ranges(" 10.0.0.0/8, 192.168.1.1 ,,fd00::/8 ");
  REQUIRE(ranges);
  REQUIRE(ranges->size() == 3);
  CHECK(contains_any(*ranges, IpAddress::from("192.168.1.1")));
  CHECK(contains_any(*ranges, IpAddress::from("fd12::1")));
  CHECK_FALSE(contains_any(*ranges, IpAddress::from("192.168.1.2")));
  CHECK(parse_ip_ranges("")->empty());
  std::string bad;
  CHECK_FALSE(parse_ip_ranges("10.0.0.0/8, 300.1.1.1", &bad));
  CHECK(bad == "300.1.1.1");
}
