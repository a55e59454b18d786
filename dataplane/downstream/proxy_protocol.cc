#include "dataplane/downstream/proxy_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace grpc_ingress {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::string_view kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr size_t kV2FixedBytes = 16;  // signature, version/command, family, length

ProxyParse fail(const char* why) { return {ProxyParseStatus::kError, {}, why}; }
ProxyParse need_more() { return {}; }

// Whether `bytes` so far agree with the start of `expected`.
bool starts_like(std::string_view bytes, std::string_view expected) {
  size_t n = std::min(bytes.size(), expected.size());
  return bytes.substr(0, n) == expected.substr(0, n);
}

// An IPv4 client reaching an IPv6 listener or balancer (::ffff:a.b.c.d) is
// that IPv4 address, as the worker reads a dual-stack socket's peer.
IpAddress unmapped(const IpAddress& address) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (address.family() != IpFamily::kV6 || std::memcmp(address.bytes(), kMapped, sizeof(kMapped)) != 0) {
    return address;
  }
  char text[INET_ADDRSTRLEN];
  if (inet_ntop(AF_INET, address.bytes() + 12, text, sizeof(text)) == nullptr) return address;
  return IpAddress::parse(text, IpFamily::kV4).value_or(address);
}

std::optional<IpAddress> from_bytes(const unsigned char* bytes, IpFamily family) {
  char text[INET6_ADDRSTRLEN];
  int af = family == IpFamily::kV4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes, text, sizeof(text)) == nullptr) return std::nullopt;
  auto address = IpAddress::parse(text, family);
  if (!address) return std::nullopt;
  return unmapped(*address);
}

// A decimal port, 0..65535, at most five digits.
std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

// Splits off the text up to the next single space ("" and false at the end).
bool next_field(std::string_view& rest, std::string_view& field) {
  if (rest.empty()) return false;
  auto space = rest.find(' ');
  field = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  return true;
}

// "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n"; "PROXY UNKNOWN ...\r\n".
ProxyParse parse_v1(std::string_view bytes) {
  if (!starts_like(bytes, kV1Prefix)) return fail("not a PROXY protocol header (v1 starts with 'PROXY ')");
  std::string_view window = bytes.substr(0, kProxyV1MaxBytes);
  auto end = window.find("\r\n");
  if (end == std::string_view::npos) {
    if (window.size() >= kProxyV1MaxBytes) return fail("PROXY v1 line longer than 107 bytes");
    // A lone CR or LF inside the line can never become a valid one.
    auto stray = window.find_first_of("\r\n");
    if (stray != std::string_view::npos && stray + 1 < window.size()) return fail("PROXY v1 line has a stray CR or LF");
    if (window.size() >= kV1Prefix.size() && window.back() == '\n') return fail("PROXY v1 line ends without CR");
    return need_more();
  }
  std::string_view line = window.substr(kV1Prefix.size(), end - kV1Prefix.size());
  if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return fail("PROXY v1 line has a stray CR, LF or NUL");
  }
  ProxyParse out{ProxyParseStatus::kDone, {.version = 1, .length = end + 2}, ""};
  std::string_view protocol;
  next_field(line, protocol);
  // UNKNOWN: whatever follows is to be ignored; the socket's address stands.
  if (protocol == "UNKNOWN") return out;
  IpFamily family;
  if (protocol == "TCP4") {
    family = IpFamily::kV4;
  } else if (protocol == "TCP6") {
    family = IpFamily::kV6;
  } else {
    return fail("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN");
  }
  std::string_view source, destination, source_port, destination_port, extra;
  if (line.empty() || line.back() == ' ' || !next_field(line, source) || !next_field(line, destination) || !next_field(line, source_port) ||
      !next_field(line, destination_port) || next_field(line, extra)) {
    return fail("PROXY v1 line does not have exactly: protocol, two addresses, two ports (single spaces)");
  }
  auto source_address = IpAddress::parse(source, family);
  if (!source_address || !IpAddress::parse(destination, family)) {
    return fail(family == IpFamily::kV4 ? "PROXY v1 TCP4 address is not an IPv4 address"
                                        : "PROXY v1 TCP6 address is not an IPv6 address");
  }
  auto port = parse_port(source_port);
  if (!port || !parse_port(destination_port)) return fail("PROXY v1 port is not a number from 0 to 65535");
  out.header.source = unmapped(*source_address);
  out.header.source_port = *port;
  return out;
}

ProxyParse parse_v2(std::string_view bytes) {
  if (!starts_like(bytes, kV2Signature)) return fail("not a PROXY protocol header (bad v2 signature)");
  if (bytes.size() < kV2FixedBytes) return need_more();
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  if ((b[12] >> 4) != 2) return fail("PROXY v2 header of another version");
  unsigned command = b[12] & 0x0f;
  if (command > 1) return fail("PROXY v2 command is neither LOCAL nor PROXY");
  unsigned family = b[13] >> 4, transport = b[13] & 0x0f;
  if (family > 3) return fail("PROXY v2 address family is not UNSPEC, INET, INET6 or UNIX");
  if (transport > 2) return fail("PROXY v2 transport is not UNSPEC, STREAM or DGRAM");
  size_t length = (size_t{b[14]} << 8) | b[15];
  size_t total = kV2FixedBytes + length;
  if (total > kProxyV2MaxBytes) return fail("PROXY v2 header longer than 4096 bytes");
  if (bytes.size() < total) return need_more();

  ProxyParse out{ProxyParseStatus::kDone, {.version = 2, .length = total}, ""};
  // LOCAL: the balancer's own connection (a health check): no client to name.
  if (command == 0) return out;
  static constexpr size_t kAddressBytes[4] = {0, 12, 36, 216};  // by family; TLVs may follow
  if (length < kAddressBytes[family]) return fail("PROXY v2 header shorter than its addresses");
  if (family == 0 || family == 3) return out;  // UNSPEC, UNIX: nothing an IP rule could use
  if (transport == 2) return fail("PROXY v2 names a datagram (UDP) client on a stream connection");
  const unsigned char* address = b + kV2FixedBytes;
  if (family == 1) {
    out.header.source = from_bytes(address, IpFamily::kV4);
    out.header.source_port = static_cast<uint16_t>((address[8] << 8) | address[9]);
  } else {
    out.header.source = from_bytes(address, IpFamily::kV6);
    out.header.source_port = static_cast<uint16_t>((address[32] << 8) | address[33]);
  }
  if (!out.header.source) return fail("PROXY v2 source address cannot be read");
  return out;
}

}  // namespace

ProxyParse parse_proxy_header(std::string_view bytes) {
  if (bytes.empty()) return need_more();
  if (bytes[0] == 'P') return parse_v1(bytes);
  if (bytes[0] == '\r') return parse_v2(bytes);
  return fail("not a PROXY protocol header (the connection starts with neither 'PROXY ' nor the v2 signature)");
}

}  // namespace grpc_ingress
