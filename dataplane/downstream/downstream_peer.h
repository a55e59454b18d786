#pragma once

#include "common/ip_address.h"

#include <cstdint>
#include <optional>
#include <string>

namespace grpc_ingress {

// The certificate a TLS client sent to a host that asked for one
// (auth-tls-secret), as the handshake judged it against the host's CA.
struct ClientCertificate {
  bool presented = false;
  bool verified = false;      // presented and its chain verified
  std::string verify_error;   // why not, when presented and not verified
  std::string verify_header;  // ssl-client-verify when presented: SUCCESS or FAILED:<verify_error>
  std::string subject;        // RFC 2253, for the access log and ssl-client-subject-dn
  std::string issuer;
  std::string escaped_pem;    // URL-escaped PEM, for ssl-client-cert (as nginx's $ssl_client_escaped_cert)
  std::string server_name;    // the SNI name (lower case) whose client authority judged it
};

// Who is at the other end of a client connection, known once per connection
// (the text forms are made once, not per request). Worker thread only.
struct DownstreamPeer {
  IpAddress address;          // the client: the TCP peer, or what a PROXY protocol header declared
  uint16_t port = 0;
  std::string address_text;   // `address` in canonical text
  IpAddress socket_address;   // the TCP peer (the load balancer, with PROXY protocol)
  bool proxy_protocol = false;  // `address` came from a PROXY protocol header
  bool known = false;           // false: a test's in-memory pipe, no socket
  std::optional<ClientCertificate> certificate;  // a TLS host asked for one
};

}  // namespace grpc_ingress
