#pragma once

#include "dataplane/proxy_stream.h"
#include "dataplane/stats.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace grpc_ingress {

// "https://<host>[:port]<path>" for a request to `authority` (its port, if
// any, dropped) and `path`; port 443 is left out.
std::string tls_redirect_location(std::string_view authority, std::string_view path, uint16_t https_port);

// Answers a cleartext request for a host that requires TLS (a spec.tls host,
// unless ssl-redirect "false"): HTTP 308 to the https URL, or for gRPC (which
// cannot follow a redirect) a trailers-only PERMISSION_DENIED (7) whose
// message says to use TLS, counted in access_refused[kRefusedCleartext].
// Worker thread only.
void answer_tls_redirect(ProxyStream& stream, uint16_t https_port, WorkerStats& stats);

}  // namespace grpc_ingress
