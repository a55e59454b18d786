#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace grpc_ingress {

// A certificate chain and its private key from a kubernetes.io/tls Secret,
// PEM-encoded and already checked by the controller (they parse, the key
// matches the leaf).
struct TlsCertificate {
  std::string secret;    // "namespace/name", for logs and /debug
  std::string cert_pem;  // tls.crt: the leaf first, then intermediates
  std::string key_pem;   // tls.key

  bool operator==(const TlsCertificate&) const = default;
};

// What the TLS listener serves, part of the RouteTable.
struct TlsSettings {
  // By SNI host: lower-case exact names and "*.example.com" (one label).
  std::map<std::string, TlsCertificate> certificates;
  // --default-ssl-certificate, when given and valid; else the data plane's
  // self-signed certificate answers hosts without a certificate of their own.
  std::optional<TlsCertificate> default_certificate;
  // Where ssl-redirect sends HTTP/1.1 clients (443 is left out of the URL).
  uint16_t redirect_port = 443;

  // The certificate for an SNI name: exact, then the one-label wildcard; nullptr for none.
  const TlsCertificate* find(std::string_view server_name) const;

  bool operator==(const TlsSettings&) const = default;
};

}  // namespace grpc_ingress
