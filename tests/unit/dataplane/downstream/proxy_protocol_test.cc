#include "dataplane/downstream/proxy_protocol.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

using namespace grpc_ingress;

namespace {

const std::string kSignature("\r\n\r\n\0\r\nQUIT\n", 12);

// A v2 header: `command` (0 LOCAL, 1 PROXY), `family_transport` (0x11 TCP over
// IPv4, 0x21 TCP over IPv6, ...), then `body` (addresses, TLVs).
std::string v2(uint8_t command, uint8_t family_transport, const std::string& body) {
  std::string out = kSignature;
  out += static_cast<char>(0x20 | command);
  out += static_cast<char>(family_transport);
  out += static_cast<char>((body.size() >> 8) & 0xff);
  out += static_cast<char>(body.size() & 0xff);
  return out + body;
}

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out += static_cast<char>(v);
  return out;
}

// 192.0.2.1:56324 -> 198.51.100.1:443
const std::string kInetBody = bytes({192, 0, 2, 1, 198, 51, 100, 1, 0xdc, 0x04, 0x01, 0xbb});
// 2001:db8::7:8080 -> 2001:db8::1:443
const std::string kInet6Body = bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
                                      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                      0x1f, 0x90, 0x01, 0xbb});

ProxyParse done(std::string_view input) {
  ProxyParse parse = parse_proxy_header(input);
  INFO("error: " << parse.error);
  REQUIRE(parse.status == ProxyParseStatus::kDone);
  return parse;
}

std::string error_of(std::string_view input) {
  ProxyParse parse = parse_proxy_header(input);
  REQUIRE(parse.status == ProxyParseStatus::kError);
  return parse.error;
}

}  // namespace

TEST_CASE("a PROXY v1 TCP4 line names the client and its length leaves the request untouched") {
  const std::string line = "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n";
  ProxyParse parse = done(line + "GET / HTTP/1.1\r\n\r\n");
  CHECK(parse.header.version == 1);
  CHECK(parse.header.length == line.size());
  REQUIRE(parse.header.source);
  CHECK(parse.header.source->to_string() == "192.0.2.1");
  CHECK(parse.header.source_port == 56324);
}

TEST_CASE("a PROXY v1 TCP6 line names an IPv6 client, and a v4-mapped one as IPv4") {
  ProxyParse parse = done("PROXY TCP6 2001:db8::7 2001:db8::1 8080 443\r\n");
  REQUIRE(parse.header.source);
  CHECK(parse.header.source->to_string() == "2001:db8::7");
  CHECK(parse.header.source_port == 8080);
  ProxyParse mapped = done("PROXY TCP6 ::ffff:203.0.113.9 ::1 1 2\r\n");
  REQUIRE(mapped.header.source);
  CHECK(mapped.header.source->family() == IpFamily::kV4);
  CHECK(mapped.header.source->to_string() == "203.0.113.9");
}

TEST_CASE("a PROXY v1 UNKNOWN line names no client, whatever follows the word") {
  ProxyParse bare = done("PROXY UNKNOWN\r\n");
  CHECK(bare.header.length == 15);
  CHECK_FALSE(bare.header.source);
  ProxyParse with_rest = done("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nPRI * HTTP/2.0");
  CHECK(with_rest.header.length == 35);
  CHECK_FALSE(with_rest.header.source);
}

TEST_CASE("a PROXY v1 line needs more bytes until its CRLF, and fails past 107 bytes") {
  const std::string line = "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n";
  for (size_t n = 0; n < line.size(); ++n) {
    INFO("first " << n << " bytes");
    CHECK(parse_proxy_header(line.substr(0, n)).status == ProxyParseStatus::kNeedMore);
  }
  // The longest valid line (107 bytes) parses; one byte more without CRLF does not.
  const std::string longest = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
  REQUIRE(longest.size() == 104);
  CHECK(done(longest).header.source_port == 65535);
  CHECK(error_of("PROXY UNKNOWN " + std::string(100, 'x')) == std::string("PROXY v1 line longer than 107 bytes"));
  CHECK(parse_proxy_header("PROXY UNKNOWN " + std::string(90, 'x')).status == ProxyParseStatus::kNeedMore);
  CHECK(parse_proxy_header("PROXY UNKNOWN " + std::string(91, 'x') + "\r\n").status == ProxyParseStatus::kDone);
  CHECK(parse_proxy_header("PROXY UNKNOWN " + std::string(92, 'x') + "\r\n").status == ProxyParseStatus::kError);
}

TEST_CASE("a PROXY v1 line with bad fields, addresses or ports is refused with a reason") {
  CHECK_FALSE(error_of("PROXY UDP4 192.0.2.1 198.51.100.1 1 2\r\n").empty());
  CHECK_FALSE(error_of("PROXY TCP4 192.0.2.1 198.51.100.1 1\r\n").empty());            // a port missing
  CHECK_FALSE(error_of("PROXY TCP4 192.0.2.1 198.51.100.1 1 2 3\r\n").empty());        // a field too many
  CHECK_FALSE(error_of("PROXY TCP4  192.0.2.1 198.51.100.1 1 2\r\n").empty());         // two spaces
  CHECK_FALSE(error_of("PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n").empty());        // IPv6 under TCP4
  CHECK_FALSE(error_of("PROXY TCP6 192.0.2.1 ::1 1 2\r\n").empty());                   // IPv4 under TCP6
  CHECK_FALSE(error_of("PROXY TCP4 192.0.2.256 198.51.100.1 1 2\r\n").empty());
  CHECK_FALSE(error_of("PROXY TCP4 192.0.2 198.51.100.1 1 2\r\n").empty());
  CHECK_FALSE(error_of("PROXY TCP4 192.0.2.1 198.51.100.1 65536 443\r\n").empty());
  CHECK_FALSE(error_of("PROXY TCP4 192.0.2.1 198.51.100.1 -1 443\r\n").empty());
  CHECK_FALSE(error_of("PROXY TCP4 192.0.2.1 198.51.100.1 443 0x1bb\r\n").empty());
  CHECK_FALSE(error_of("PROXY TCP4 192.0.2.1 198.51.100.1 443 443 \r\n").empty());     // a trailing space
  CHECK_FALSE(error_of("PROXY TCP4 192.0.2.1 198.51.100.1 1 2\n").empty());            // LF without CR
  CHECK_FALSE(error_of("PROXY TCP4 192.0.2.1\r198.51.100.1 1 2\r\n").empty());         // a stray CR
  CHECK_FALSE(error_of(std::string("PROXY TCP4 192.0.2.1\0 198.51.100.1 1 2\r\n", 40)).empty());
}

TEST_CASE("bytes that begin no PROXY header are refused at the first byte that disagrees") {
  CHECK_FALSE(error_of("GET / HTTP/1.1\r\n").empty());
  CHECK_FALSE(error_of("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").empty());
  CHECK_FALSE(error_of(bytes({0x16, 0x03, 0x01})).empty());  // a TLS ClientHello
  CHECK_FALSE(error_of("PROXX").empty());
  CHECK_FALSE(error_of("proxy TCP4").empty());
  CHECK_FALSE(error_of("\r\n\r\nX").empty());                 // not the v2 signature
  CHECK(parse_proxy_header("PRO").status == ProxyParseStatus::kNeedMore);
  CHECK(parse_proxy_header("").status == ProxyParseStatus::kNeedMore);
  CHECK(parse_proxy_header(kSignature.substr(0, 7)).status == ProxyParseStatus::kNeedMore);
}

TEST_CASE("a PROXY v2 header over IPv4 names the client, and its length leaves the TLS bytes untouched") {
  std::string header = v2(1, 0x11, kInetBody);
  ProxyParse parse = done(header + bytes({0x16, 0x03, 0x01, 0x00, 0x05}));
  CHECK(parse.header.version == 2);
  CHECK(parse.header.length == 16 + 12);
  REQUIRE(parse.header.source);
  CHECK(parse.header.source->to_string() == "192.0.2.1");
  CHECK(parse.header.source_port == 56324);
}

TEST_CASE("a PROXY v2 header over IPv6 names the client, and a v4-mapped one as IPv4") {
  ProxyParse parse = done(v2(1, 0x21, kInet6Body));
  CHECK(parse.header.length == 16 + 36);
  REQUIRE(parse.header.source);
  CHECK(parse.header.source->to_string() == "2001:db8::7");
  CHECK(parse.header.source_port == 8080);
  std::string mapped_body = kInet6Body;
  mapped_body.replace(0, 16, bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3}));
  ProxyParse mapped = done(v2(1, 0x21, mapped_body));
  REQUIRE(mapped.header.source);
  CHECK(mapped.header.source->to_string() == "10.1.2.3");
}

TEST_CASE("a PROXY v2 LOCAL header, or one of family UNSPEC or UNIX, keeps the connection's own address") {
  ProxyParse local = done(v2(0, 0x00, ""));
  CHECK(local.header.length == 16);
  CHECK_FALSE(local.header.source);
  // LOCAL with addresses anyway (a health check from the balancer): ignored.
  CHECK_FALSE(done(v2(0, 0x11, kInetBody)).header.source);
  CHECK_FALSE(done(v2(1, 0x00, "")).header.source);
  CHECK_FALSE(done(v2(1, 0x31, std::string(216, '\0'))).header.source);
}

TEST_CASE("PROXY v2 TLVs after the addresses are skipped, up to 4096 bytes in all") {
  // PP2_TYPE_ALPN "h2", PP2_TYPE_AUTHORITY "example.com", an AWS-style VPC endpoint id (0xEA).
  std::string tlvs = bytes({0x01, 0x00, 0x02}) + "h2" + bytes({0x02, 0x00, 0x0b}) + "example.com" +
                     bytes({0xea, 0x00, 0x0e, 0x01}) + "vpce-01234567";
  ProxyParse parse = done(v2(1, 0x11, kInetBody + tlvs) + "PRI * HTTP/2.0");
  CHECK(parse.header.length == 16 + 12 + tlvs.size());
  CHECK(parse.header.source->to_string() == "192.0.2.1");
  std::string largest = v2(1, 0x11, kInetBody + std::string(4096 - 16 - 12, '\0'));
  CHECK(done(largest).header.length == 4096);
  CHECK(error_of(v2(1, 0x11, kInetBody + std::string(4096 - 16 - 12 + 1, '\0'))) ==
        std::string("PROXY v2 header longer than 4096 bytes"));
}

TEST_CASE("a PROXY v2 header cut short needs more bytes, and one too short for its addresses fails") {
  std::string header = v2(1, 0x21, kInet6Body);
  for (size_t n = 0; n < header.size(); ++n) {
    INFO("first " << n << " bytes");
    CHECK(parse_proxy_header(header.substr(0, n)).status == ProxyParseStatus::kNeedMore);
  }
  CHECK_FALSE(error_of(v2(1, 0x11, kInetBody.substr(0, 11))).empty());
  CHECK_FALSE(error_of(v2(1, 0x21, kInetBody)).empty());  // 12 bytes cannot hold two IPv6 addresses
  CHECK_FALSE(error_of(v2(1, 0x31, std::string(100, '\0'))).empty());
}

TEST_CASE("a PROXY v2 header of another version, command, family or transport is refused") {
  std::string header = v2(1, 0x11, kInetBody);
  std::string version_1 = header;
  version_1[12] = 0x11;
  CHECK_FALSE(error_of(version_1).empty());
  std::string command_2 = header;
  command_2[12] = 0x22;
  CHECK_FALSE(error_of(command_2).empty());
  std::string family_4 = header;
  family_4[13] = 0x41;
  CHECK_FALSE(error_of(family_4).empty());
  std::string transport_3 = header;
  transport_3[13] = 0x13;
  CHECK_FALSE(error_of(transport_3).empty());
  std::string udp = header;
  udp[13] = 0x12;
  CHECK_FALSE(error_of(udp).empty());
  // Found as soon as the fixed 16 bytes are there, before the addresses.
  CHECK(parse_proxy_header(version_1.substr(0, 16)).status == ProxyParseStatus::kError);
}
