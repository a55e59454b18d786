#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

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

// auth-tls-verify-client: whether clients of a host are asked for a
// certificate, and what a request needs (ingress-nginx's ssl_verify_client).
enum class ClientCertMode : uint8_t {
  kOff,           // not asked
  kOn,            // asked; a request without a valid one is refused
  kOptional,      // asked; one that is sent must verify
  kOptionalNoCa,  // asked; not verified, only passed on
};

// Client certificates a TLS host asks for (auth-tls-secret): the CA bundle
// (ca.crt of the Secret) that verifies them.
struct ClientAuthority {
  std::string secret;  // "namespace/name", for logs
  std::string ca_pem;
  ClientCertMode mode = ClientCertMode::kOn;
  uint32_t verify_depth = 1;  // auth-tls-verify-depth

  bool operator==(const ClientAuthority&) const = default;
};

// What the TLS listener serves, part of the RouteTable.
struct TlsSettings {
  // By SNI host: lower-case exact names and "*.example.com" (one label).
  std::map<std::string, TlsCertificate> certificates;
  // --default-ssl-certificate, when given and valid; else the data plane's
  // self-signed certificate answers hosts without a certificate of their own.
  std::optional<TlsCertificate> default_certificate;
  // By SNI host, as `certificates`: hosts that ask clients for a certificate.
  std::map<std::string, ClientAuthority> client_authorities;
  // Where ssl-redirect sends HTTP/1.1 clients (443 is left out of the URL).
  uint16_t redirect_port = 443;

  // The certificate for an SNI name: exact, then the one-label wildcard; nullptr for none.
  const TlsCertificate* find(std::string_view server_name) const;
  // The client authority for an SNI name, matched as find(); nullptr: no certificate is asked.
  const ClientAuthority* find_client_authority(std::string_view server_name) const;

  bool operator==(const TlsSettings&) const = default;
};

}  // namespace grpc_ingress
