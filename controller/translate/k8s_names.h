#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace grpc_ingress {

// The name rules of the Kubernetes API, so that what we accept from a manifest
// file is what the API server would have accepted.

// RFC 1123 subdomain: lower-case labels of [a-z0-9-] joined by '.', at most 253 characters.
// Object names, namespaces and Ingress hosts.
bool is_dns_subdomain(std::string_view name);

enum class IpFamily { kV4, kV6 };

// The canonical text of an IP address of `family` ("::0001" -> "::1"), or nullopt.
std::optional<std::string> canonical_ip(std::string_view address, IpFamily family);

bool is_ip_address(std::string_view text);

}  // namespace grpc_ingress
