#include "controller/translate/k8s_names.h"

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

}  // namespace grpc_ingress
