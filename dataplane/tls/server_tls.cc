#include "dataplane/tls/server_tls.h"

#include "common/log.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <set>

namespace grpc_ingress {
namespace {

namespace ssl = boost::asio::ssl;

const ComponentLog kTlsLog{"tls"};

// TLS 1.2 suites with forward secrecy and AEAD only (Mozilla "intermediate");
// TLS 1.3's own suites are all of that kind.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Ours, in preference order, in ALPN wire format.
constexpr unsigned char kAlpn[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int select_alpn(SSL*, const unsigned char** out, unsigned char* out_size, const unsigned char* offered,
                unsigned int offered_size, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_size, kAlpn, sizeof(kAlpn), offered, offered_size) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // nothing in common: no ALPN, the first bytes decide
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// Records the client certificate's verification and lets the handshake go
// on: a route refuses what its mode does not accept (AccessControl), as
// nginx's ssl_verify_client optional does, so a gRPC client gets a status
// instead of a handshake alert. SSL_get_verify_result keeps the error.
int record_verification(int, X509_STORE_CTX*) { return 1; }

// Makes `ssl` use `served` for the rest of its handshake. SSL_set_SSL_CTX
// takes the certificate and the session id context (the SSL still has the
// initial context's), so that a session resumes only under the same client
// authority; not the verification settings: those are copied as nginx's
// servername handler does.
void use_context(SSL* ssl, const ServerTlsContexts::Served& served) {
  SSL_CTX* context = served.context->native_handle();
  if (context == SSL_get_SSL_CTX(ssl)) return;
  SSL_set_SSL_CTX(ssl, context);
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(context), SSL_CTX_get_verify_callback(context));
  SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(context));
  if (served.authority) {
    STACK_OF(X509_NAME)* names = SSL_dup_CA_list(SSL_CTX_get_client_CA_list(context));
    if (names) SSL_set_client_CA_list(ssl, names);
  }
}

// The host_name of a ClientHello's server_name extension (RFC 6066 3), or "" when
// absent or malformed (OpenSSL then refuses the malformed one itself).
std::string_view client_hello_server_name(SSL* ssl) {
  const unsigned char* data = nullptr;
  size_t size = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &data, &size) != 1 || size < 2) return {};
  size_t list = (size_t{data[0]} << 8) | data[1];
  if (list + 2 != size) return {};
  size_t at = 2;
  while (at + 3 <= size) {
    unsigned type = data[at];
    size_t length = (size_t{data[at + 1]} << 8) | data[at + 2];
    at += 3;
    if (length > size - at) return {};
    if (type == TLSEXT_NAMETYPE_host_name) {
      if (length == 0 || length > 255) return {};
      return {reinterpret_cast<const char*>(data + at), length};
    }
    at += length;
  }
  return {};
}

// At the ClientHello, before OpenSSL looks for a session to resume (TLS 1.2
// and 1.3 alike): the SNI name's context, whose session id context then
// decides whether the offered session may resume. `arg` is the
// ServerTlsContexts that owns the default context; the handshake holds it.
int on_client_hello(SSL* ssl, int*, void* arg) {
  std::string_view name = client_hello_server_name(ssl);
  if (name.empty()) return SSL_CLIENT_HELLO_SUCCESS;
  use_context(ssl, static_cast<const ServerTlsContexts*>(arg)->served_for(name));
  return SSL_CLIENT_HELLO_SUCCESS;
}

// After the extensions are parsed: the same choice by the name OpenSSL
// accepted (normally made already at the ClientHello). Switching to a host
// that asks for client certificates after a session resumed would skip its
// verification: that handshake fails instead.
int on_server_name(SSL* ssl, int* alert, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;
  const auto& served = static_cast<const ServerTlsContexts*>(arg)->served_for(name);
  if (served.context->native_handle() == SSL_get_SSL_CTX(ssl)) return SSL_TLSEXT_ERR_OK;
  if (served.authority && SSL_session_reused(ssl)) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  use_context(ssl, served);
  return SSL_TLSEXT_ERR_OK;
}

// Asks clients of `context` for a certificate verified by `authority`'s CA
// bundle (only it: never the system's roots). A bundle that does not load
// leaves the store empty: every certificate then fails (fails closed).
void ask_client_certificates(SSL_CTX* context, const ClientAuthority& authority, const std::string& host) {
  X509_STORE* store = X509_STORE_new();
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  size_t loaded = 0;
  if (store && names && !authority.ca_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(authority.ca_pem.data(), static_cast<int>(authority.ca_pem.size()));
    while (X509* ca = bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr) {
      if (X509_STORE_add_cert(store, ca) == 1) ++loaded;
      if (X509_NAME* name = X509_NAME_dup(X509_get_subject_name(ca))) {
        if (!sk_X509_NAME_push(names, name)) X509_NAME_free(name);
      }
      X509_free(ca);
    }
    BIO_free(bio);
  }
  ERR_clear_error();
  if (loaded == 0) {
    kTlsLog.warn({.kind = "Secret", .object = authority.secret, .reason = "ClientCaUnusable"},
                 "TLS: host {}: client CA {} has no usable certificate; every client certificate fails verification",
                 host, authority.secret.empty() ? "(none)" : authority.secret);
  }
  if (store) SSL_CTX_set_cert_store(context, store);  // takes it
  if (names) SSL_CTX_set_client_CA_list(context, names);  // takes it
  // Asked, never required: the route's mode decides (no FAIL_IF_NO_PEER_CERT).
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, record_verification);
  SSL_CTX_set_verify_depth(context, static_cast<int>(authority.verify_depth));
  // Sessions resume only where the same CA, mode and depth judged the certificate.
  std::string identity = authority.ca_pem + '\0' + authority.secret + '\0' +
                         std::to_string(static_cast<int>(authority.mode)) + '\0' +
                         std::to_string(authority.verify_depth);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(identity.data()), identity.size(), digest);
  static_assert(SHA256_DIGEST_LENGTH <= SSL_MAX_SID_CTX_LENGTH);
  SSL_CTX_set_session_id_context(context, digest, SHA256_DIGEST_LENGTH);
}

Result<std::shared_ptr<ssl::context>> make_context(const TlsCertificate& certificate) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    ERR_clear_error();
    return Error{"no usable TLS 1.2 cipher"};
  }
  SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);
  boost::system::error_code ec;
  context->use_certificate_chain(boost::asio::buffer(certificate.cert_pem), ec);
  if (!ec) context->use_private_key(boost::asio::buffer(certificate.key_pem), ssl::context::pem, ec);
  if (!ec && SSL_CTX_check_private_key(native) != 1) ec = boost::asio::error::invalid_argument;
  if (ec) {
    ERR_clear_error();
    return Error{"cannot load the certificate of " + certificate.secret + ": " + ec.message()};
  }
  return context;
}

}  // namespace

Result<std::shared_ptr<const ServerTlsContexts>> ServerTlsContexts::build(const TlsSettings& settings,
                                                                          const TlsCertificate& fallback) {
  std::shared_ptr<ServerTlsContexts> contexts(new ServerTlsContexts());
  contexts->settings_ = settings;
  const TlsSettings& own = contexts->settings_;
  const TlsCertificate* default_certificate = &fallback;
  if (own.default_certificate) {
    auto context = make_context(*own.default_certificate);
    if (context) {
      contexts->default_ = std::move(*context);
      default_certificate = &*own.default_certificate;
    } else {
      kTlsLog.warn({.kind = "Secret", .object = own.default_certificate->secret, .reason = "CertificateUnusable"},
                   "TLS: default certificate {}: {}; using the self-signed one", own.default_certificate->secret,
                   context.error().message);
    }
  }
  if (!contexts->default_) {
    auto context = make_context(fallback);
    if (!context) return Error{context.error().message};
    contexts->default_ = std::move(*context);
  }
  SSL_CTX* initial = contexts->default_->native_handle();
  SSL_CTX_set_client_hello_cb(initial, on_client_hello, contexts.get());
  SSL_CTX_set_tlsext_servername_callback(initial, on_server_name);
  SSL_CTX_set_tlsext_servername_arg(initial, contexts.get());
  contexts->default_served_ = {contexts->default_, nullptr};

  // One context per (certificate, authority) an SNI name can get: each host
  // of either map, matched as a handshake matches it.
  std::map<std::pair<std::string, std::string>, std::shared_ptr<ssl::context>> loaded;  // by (cert, key)
  std::set<const TlsCertificate*> broken;
  std::set<std::string> hosts;
  for (const auto& [host, _] : own.certificates) hosts.insert(host);
  for (const auto& [host, _] : own.client_authorities) hosts.insert(host);
  for (const std::string& host : hosts) {
    const TlsCertificate* certificate = own.find(host);
    const ClientAuthority* authority = own.find_client_authority(host);
    if (certificate && broken.count(certificate)) certificate = nullptr;
    if (contexts->by_pair_.count({certificate, authority})) continue;
    if (certificate && !authority) {
      auto& context = loaded[{certificate->cert_pem, certificate->key_pem}];
      if (!context) {
        auto made = make_context(*certificate);
        if (!made) {
          kTlsLog.warn({.kind = "Secret", .object = certificate->secret, .reason = "CertificateUnusable"},
                       "TLS: host {}: {}; it gets the default certificate", host, made.error().message);
          broken.insert(certificate);
          continue;
        }
        context = std::move(*made);
      }
      contexts->by_pair_[{certificate, nullptr}] = {context, nullptr};
      continue;
    }
    if (!authority) continue;
    // A context of its own: the verification settings are the context's.
    auto made = make_context(certificate ? *certificate : *default_certificate);
    if (!made && certificate) {
      kTlsLog.warn({.kind = "Secret", .object = certificate->secret, .reason = "CertificateUnusable"},
                   "TLS: host {}: {}; it gets the default certificate", host, made.error().message);
      broken.insert(certificate);
      certificate = nullptr;
      if (contexts->by_pair_.count({nullptr, authority})) continue;
      made = make_context(*default_certificate);
    }
    if (!made) return Error{made.error().message};
    ask_client_certificates((*made)->native_handle(), *authority, host);
    contexts->by_pair_[{certificate, authority}] = {std::move(*made), authority};
  }
  // Every authority also with the default certificate: a host whose pair is
  // missing must still ask (never the default context, which asks nothing).
  for (const auto& [host, authority] : own.client_authorities) {
    if (contexts->by_pair_.count({nullptr, &authority})) continue;
    auto made = make_context(*default_certificate);
    if (!made) return Error{made.error().message};
    ask_client_certificates((*made)->native_handle(), authority, host);
    contexts->by_pair_[{nullptr, &authority}] = {std::move(*made), &authority};
  }
  return std::shared_ptr<const ServerTlsContexts>(std::move(contexts));
}

const ServerTlsContexts::Served& ServerTlsContexts::served_for(std::string_view server_name) const {
  const TlsCertificate* certificate = settings_.find(server_name);
  const ClientAuthority* authority = settings_.find_client_authority(server_name);
  if (auto it = by_pair_.find({certificate, authority}); it != by_pair_.end()) return it->second;
  if (authority) {
    // The host's certificate did not load: the default one, still asking.
    if (auto it = by_pair_.find({nullptr, authority}); it != by_pair_.end()) return it->second;
  }
  return default_served_;
}

std::string negotiated_alpn(const SSL* ssl) {
  const unsigned char* protocol = nullptr;
  unsigned int size = 0;
  SSL_get0_alpn_selected(ssl, &protocol, &size);
  return protocol ? std::string(reinterpret_cast<const char*>(protocol), size) : std::string();
}

}  // namespace grpc_ingress
