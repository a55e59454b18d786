#pragma once

#include "dataplane/proxy_stream.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace grpc_ingress {

// "https://<host>[:port]<path>" for a request to `authority` (its port, if
// any, dropped) and `path`; port 443 is left out.
std::string tls_redirect_location(std::string_view authority, std::string_view path, uint16_t https_port);

// Answers a cleartext request for a host that requires TLS (ssl-redirect):
// HTTP 308 to the https URL, or for gRPC a trailers-only PERMISSION_DENIED (7)
// whose message says to use TLS. Worker thread only.
void answer_tls_redirect(ProxyStream& stream, uint16_t https_port);

}  // namespace grpc_ingress
