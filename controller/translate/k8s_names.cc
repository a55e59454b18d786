#include "controller/translate/k8s_names.h"

#include <arpa/inet.h>

namespace grpc_ingress {
namespace {

constexpr size_t kMaxSubdomainLength = 253;
constexpr size_t kMaxLabelLength = 63;

bool is_alnum_lower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool is_dns_label(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabelLength) return false;
  if (!is_alnum_lower(label.front()) || !is_alnum_lower(label.back())) return false;
  for (char c : label) {
    if (!is_alnum_lower(c) && c != '-') return false;
  }
  return true;
}

}  // namespace

bool is_dns_subdomain(std::string_view name) {
  if (name.empty() || name.size() > kMaxSubdomainLength) return false;
  while (true) {
    size_t dot = name.find('.');
    if (!is_dns_label(name.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    name.remove_prefix(dot + 1);
  }
}

std::optional<std::string> canonical_ip(std::string_view address, IpFamily family) {
  // inet_pton needs a terminated string, and an address never has a NUL in it.
  if (address.size() >= INET6_ADDRSTRLEN || address.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string text(address);
  int af = family == IpFamily::kV4 ? AF_INET : AF_INET6;
  unsigned char binary[sizeof(in6_addr)];
  if (inet_pton(af, text.c_str(), binary) != 1) return std::nullopt;
  char out[INET6_ADDRSTRLEN];
  if (inet_ntop(af, binary, out, sizeof(out)) == nullptr) return std::nullopt;
  return std::string(out);
}

bool is_ip_address(std::string_view text) {
  return canonical_ip(text, IpFamily::kV4) || canonical_ip(text, IpFamily::kV6);
}

}  // namespace grpc_ingress
