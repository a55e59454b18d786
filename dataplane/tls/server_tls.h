#pragma once

#include "common/result.h"
#include "common/tls_settings.h"

#include <boost/asio/ssl/context.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace grpc_ingress {

// The server side of TLS for one TlsSettings: an SSL_CTX per certificate
// and client authority, chosen at the ClientHello by SNI (exact host, then
// one-label wildcard, else the default certificate). TLS 1.2 and 1.3 only,
// forward-secret AEAD ciphers, ALPN h2 then http/1.1. A host with a
// ClientAuthority sends a CertificateRequest naming its CAs; the client's
// certificate is verified against them and the result recorded, never
// failing the handshake (the route answers, see AccessControl); a session
// resumes only with the same authority. Hosts without one ask nothing.
// Immutable once built; built on the controller thread, shared by every
// worker. A handshake must hold the set it began with; an established
// connection holds only its own SSL_CTX, so a new set never touches running
// connections.
class ServerTlsContexts {
 public:
  // `fallback` serves when `settings` has no default certificate of its own.
  // A host whose certificate cannot be loaded is left out (and logged): it
  // gets the default one.
  static Result<std::shared_ptr<const ServerTlsContexts>> build(const TlsSettings& settings,
                                                                const TlsCertificate& fallback);

  // The context a new connection starts its handshake with.
  boost::asio::ssl::context& initial() const { return *default_; }
  // The context for an SNI name (the default one when none matches).
  boost::asio::ssl::context& context_for(std::string_view server_name) const { return *served_for(server_name).context; }
  // The client authority the context for an SNI name asks with (nullptr: none).
  const ClientAuthority* client_authority_for(std::string_view server_name) const {
    return served_for(server_name).authority;
  }
  const TlsSettings& settings() const { return settings_; }

  // One SSL_CTX and what it asks of clients.
  struct Served {
    std::shared_ptr<boost::asio::ssl::context> context;
    const ClientAuthority* authority = nullptr;  // in settings_
  };
  const Served& served_for(std::string_view server_name) const;

  ServerTlsContexts(const ServerTlsContexts&) = delete;
  ServerTlsContexts& operator=(const ServerTlsContexts&) = delete;

 private:
  ServerTlsContexts() = default;

  TlsSettings settings_;
  std::shared_ptr<boost::asio::ssl::context> default_;
  Served default_served_;
  // By the certificate in settings_ it serves (nullptr: the default one) and
  // the client authority it asks with (nullptr: none); hosts sharing both share one.
  std::map<std::pair<const TlsCertificate*, const ClientAuthority*>, Served> by_pair_;
};

// The ALPN protocol a finished handshake agreed on ("h2", "http/1.1"), or "".
std::string negotiated_alpn(const SSL* ssl);

}  // namespace grpc_ingress
