#include "common/ip_address.h"

#include "common/text.h"

#include <arpa/inet.h>

#include <algorithm>
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

std::optional<IpRange> IpRange::parse(std::string_view text) {
  auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  unsigned max_bits = address->family() == IpFamily::kV4 ? 32 : 128;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    bits = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      bits = bits * 10 + static_cast<unsigned>(c - '0');
    }
    if (bits > max_bits) return std::nullopt;
  }
  // Host bits are cleared, as nginx's allow/deny do with "10.1.2.3/8".
  std::array<uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), address->bytes(), address->size());
  for (unsigned i = 0; i < address->size(); ++i) {
    unsigned keep = bits > i * 8 ? std::min(8u, bits - i * 8) : 0;
    bytes[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  char text_form[INET6_ADDRSTRLEN];
  int af = address->family() == IpFamily::kV4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), text_form, sizeof(text_form)) == nullptr) return std::nullopt;
  return IpRange{*IpAddress::parse(text_form, address->family()), static_cast<uint8_t>(bits)};
}

bool IpRange::contains(const IpAddress& address) const {
  if (address.family() != network.family()) return false;
  const uint8_t* a = address.bytes();
  const uint8_t* n = network.bytes();
  unsigned bits = prefix_bits;
  size_t whole = bits / 8;
  if (std::memcmp(a, n, whole) != 0) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == n[whole];
}

std::string IpRange::to_string() const { return network.to_string() + "/" + std::to_string(prefix_bits); }

std::optional<std::vector<IpRange>> parse_ip_ranges(std::string_view list, std::string* bad) {
  std::vector<IpRange> out;
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    item = trim_blanks(item);
    if (item.empty()) continue;
    auto range = IpRange::parse(item);
    if (!range) {
      if (bad) *bad = std::string(item);
      return std::nullopt;
    }
    out.push_back(*range);
  }
  return out;
}

bool contains_any(const std::vector<IpRange>& ranges, const IpAddress& address) {
  for (const IpRange& range : ranges) {
    if (range.contains(address)) return true;
  }
  return false;
}

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
