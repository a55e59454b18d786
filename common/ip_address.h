#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grpc_ingress {

enum class IpFamily : uint8_t { kV4, kV6 };

// An IP address in binary: 17 bytes in place, no heap. Routing tables hold one
// per endpoint and the data plane keys its per-pod maps by them, so 100,000
// endpoints cost no address strings.
class IpAddress {
 public:
  IpAddress() = default;  // 0.0.0.0

  // nullopt unless `text` is an address of `family` (or of either).
  static std::optional<IpAddress> parse(std::string_view text, IpFamily family);
  static std::optional<IpAddress> parse(std::string_view text);
  // For literals the caller wrote (tests, defaults); throws std::invalid_argument.
  static IpAddress from(std::string_view text);

  IpFamily family() const { return family_; }
  // 4 or 16 bytes, network order.
  const uint8_t* bytes() const { return bytes_.data(); }
  size_t size() const { return family_ == IpFamily::kV4 ? 4 : 16; }
  std::string to_string() const;  // canonical text: "10.0.0.1", "fd00::1"

  auto operator<=>(const IpAddress&) const = default;
  bool operator==(const IpAddress&) const = default;

 private:
  std::array<uint8_t, 16> bytes_{};  // an IPv4 address in the first 4, the rest zero
  IpFamily family_ = IpFamily::kV4;
};

// The canonical text of an IP address of `family` ("::0001" -> "::1"), or nullopt.
std::optional<std::string> canonical_ip(std::string_view address, IpFamily family);
bool is_ip_address(std::string_view text);

// A pod's ip:port, the key of the data plane's per-pod maps (20 bytes).
struct PodAddress {
  IpAddress ip;
  uint16_t port = 0;

  std::string to_string() const;  // "10.0.0.1:8080", "[fd00::1]:8080"
  auto operator<=>(const PodAddress&) const = default;
  bool operator==(const PodAddress&) const = default;
};

// A CIDR block ("10.0.0.0/8", "fd00::/64"; a bare address is a /32 or /128).
struct IpRange {
  IpAddress network;  // host bits zero
  uint8_t prefix_bits = 0;

  static std::optional<IpRange> parse(std::string_view text);
  // An address of the other family is never contained.
  bool contains(const IpAddress& address) const;
  std::string to_string() const;
  bool operator==(const IpRange&) const = default;
};

// "10.0.0.0/8, 192.168.1.1" (commas, spaces around them): the ranges, or the
// first item that is not one (as `bad`).
std::optional<std::vector<IpRange>> parse_ip_ranges(std::string_view list, std::string* bad = nullptr);
bool contains_any(const std::vector<IpRange>& ranges, const IpAddress& address);

struct PodAddressHash {
  size_t operator()(const PodAddress& address) const;
};

}  // namespace grpc_ingress
