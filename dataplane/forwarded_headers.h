#pragma once

#include "common/ip_address.h"

#include <string>
#include <vector>

namespace grpc_ingress {

class ProxyStream;

// Who may name the client (docs/edge-access.md "Client identity"), as ingress-nginx's
// --proxy-real-ip-cidr, --forwarded-for-header and --compute-full-forwarded-for.
struct ClientIdentityOptions {
  std::vector<IpRange> trusted_proxies;                   // empty: nobody
  std::string forwarded_for_header = "x-forwarded-for";  // lower-case
  bool compute_full_forwarded_for = false;
};

// Once per request, before access control: judges the client of `stream` and
// sets the X-Forwarded-* headers the pod gets.
//
// The connection's address is the TCP peer's, or what a PROXY protocol header
// declared. When it is in `trusted_proxies`, the client is the right-most
// address of the forwarded-for header that is not itself trusted (nginx's
// real_ip_recursive on), and the proxy's x-forwarded-proto, -host and -port
// are kept. From any other peer those headers and the forwarded-for header
// are dropped: they are the client's word about itself.
//
// Toward the pod, replacing what came in: x-forwarded-for (the client; with
// compute_full_forwarded_for a trusted proxy's list and the connection's
// address), x-real-ip (the client), x-forwarded-proto (https on a TLS
// connection, else http), x-forwarded-host (the authority).
//
// Sets stream.client_address and client_address_text (the peer's text, or a
// copy kept in the stream). Allocates nothing but header bytes in the
// stream's lists; with no trusted proxies the judgement is one comparison.
void apply_client_identity(ProxyStream& stream, const ClientIdentityOptions& options);

}  // namespace grpc_ingress
