#pragma once

#include "dataplane/proxy_stream.h"

#include <string>

namespace grpc_ingress {

// How a finished request ended, as the client saw it: the gRPC status for
// gRPC requests, the HTTP status otherwise; `h2_error_code` is the code the
// stream was closed with (0 when it ended normally).
struct RequestOutcome {
  size_t code_slot;    // for RouteStats::requests
  std::string status;  // for the access log: "0", "14", "200", "reset"
};
RequestOutcome request_outcome(const ProxyStream& stream, uint32_t h2_error_code);

// Records the request in its route's stats and, when on, the access log.
// Worker thread; never blocks.
void record_request(const ProxyStream& stream, uint32_t h2_error_code);

}  // namespace grpc_ingress
