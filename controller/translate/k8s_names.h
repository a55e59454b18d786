#pragma once

#include "common/ip_address.h"  // canonical_ip, is_ip_address

#include <optional>
#include <string>
#include <string_view>

namespace grpc_ingress {

// The name rules of the Kubernetes API, so that what we accept from a manifest
// file is what the API server would have accepted.

// RFC 1123 subdomain: lower-case labels of [a-z0-9-] joined by '.', at most 253 characters.
// Object names, namespaces and Ingress hosts.
bool is_dns_subdomain(std::string_view name);

}  // namespace grpc_ingress
