#include "common/ip_address.h"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>

namespace grpc_ingress {

std::optional<IpAddress> IpAddress::parse(std::string_view text, IpFamily family) {
  // inet_pton needs a terminated string, and an address never has a NUL in it.
  char terminated[INET6_ADDRSTRLEN];
  if (text.size() >= sizeof(terminated) || text.find('\0') != std::string_view::npos) return std::nullopt;
  std::memcpy(terminated, text.data(), text.size());
  terminated[text.size()] = '\0';
  IpAddress address;
  address.family_ = family;
  int af = family == IpFamily::kV4 ? AF_INET : AF_INET6;
  if (inet_pton(af, terminated, address.bytes_.data()) != 1) return std::nullopt;
  return address;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (auto v4 = parse(text, IpFamily::kV4)) return v4;
  return parse(text, IpFamily::kV6);
}

IpAddress IpAddress::from(std::string_view text) {
  auto address = parse(text);
  if (!address) throw std::invalid_argument("not an IP address: '" + std::string(text) + "'");
  return *address;
}

std::string IpAddress::to_string() const {
  char out[INET6_ADDRSTRLEN];
  int af = family_ == IpFamily::kV4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes_.data(), out, sizeof(out)) == nullptr) return {};
  return out;
}

std::optional<std::string> canonical_ip(std::string_view address, IpFamily family) {
  auto ip = IpAddress::parse(address, family);
  if (!ip) return std::nullopt;
  return ip->to_string();
}

bool is_ip_address(std::string_view text) { return IpAddress::parse(text).has_value(); }

std::string PodAddress::to_string() const {
  std::string text = ip.to_string();
  if (ip.family() == IpFamily::kV6) text = "[" + text + "]";
  return text + ":" + std::to_string(port);
}

size_t PodAddressHash::operator()(const PodAddress& address) const {
  // Two loads of the 16 bytes (an IPv4 address is zero-padded), then a
  // SplitMix64 finaliser: looked up on every call, so no byte loop.
  uint64_t high, low;
  std::memcpy(&high, address.ip.bytes(), 8);
  std::memcpy(&low, address.ip.bytes() + 8, 8);
  uint64_t h = high * 0x9e3779b97f4a7c15ULL ^ low ^ (uint64_t{address.port} << 48) ^
               static_cast<uint64_t>(address.ip.family());
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<size_t>(h ^ (h >> 31));
}

}  // namespace grpc_ingress
