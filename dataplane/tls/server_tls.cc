#include "dataplane/tls/server_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

namespace grpc_ingress {
namespace {

namespace ssl = boost::asio::ssl;

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

// Switches the handshake to the SNI name's certificate. `arg` is the
// ServerTlsContexts that owns the default context; the handshake holds it.
int on_server_name(SSL* ssl, int*, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;
  auto* contexts = static_cast<const ServerTlsContexts*>(arg);
  ssl::context& context = contexts->context_for(name);
  if (context.native_handle() != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, context.native_handle());
  return SSL_TLSEXT_ERR_OK;
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
  if (settings.default_certificate) {
    auto context = make_context(*settings.default_certificate);
    if (context) {
      contexts->default_ = std::move(*context);
    } else {
      spdlog::warn("TLS: default certificate {}: {}; using the self-signed one",
                   settings.default_certificate->secret, context.error().message);
    }
  }
  if (!contexts->default_) {
    auto context = make_context(fallback);
    if (!context) return Error{context.error().message};
    contexts->default_ = std::move(*context);
  }
  SSL_CTX_set_tlsext_servername_callback(contexts->default_->native_handle(), on_server_name);
  SSL_CTX_set_tlsext_servername_arg(contexts->default_->native_handle(), contexts.get());

  std::map<std::pair<std::string, std::string>, std::shared_ptr<ssl::context>> loaded;  // by (cert, key)
  for (const auto& [host, certificate] : contexts->settings_.certificates) {
    auto& context = loaded[{certificate.cert_pem, certificate.key_pem}];
    if (!context) {
      auto made = make_context(certificate);
      if (!made) {
        spdlog::warn("TLS: host {}: {}; it gets the default certificate", host, made.error().message);
        continue;
      }
      context = std::move(*made);
    }
    contexts->by_certificate_[&certificate] = context;
  }
  return std::shared_ptr<const ServerTlsContexts>(std::move(contexts));
}

ssl::context& ServerTlsContexts::context_for(std::string_view server_name) const {
  const TlsCertificate* certificate = settings_.find(server_name);
  if (!certificate) return *default_;
  auto it = by_certificate_.find(certificate);
  return it == by_certificate_.end() ? *default_ : *it->second;
}

std::string negotiated_alpn(const SSL* ssl) {
  const unsigned char* protocol = nullptr;
  unsigned int size = 0;
  SSL_get0_alpn_selected(ssl, &protocol, &size);
  return protocol ? std::string(reinterpret_cast<const char*>(protocol), size) : std::string();
}

}  // namespace grpc_ingress
