#include "dataplane/downstream/tls_handshake.h"

#include "dataplane/tls/client_certificate.h"
#include "dataplane/worker.h"

#include <spdlog/spdlog.h>

namespace grpc_ingress {

TlsHandshake::TlsHandshake(Worker& worker, boost::asio::ip::tcp::socket socket,
                           std::shared_ptr<const ServerTlsContexts> contexts, uint64_t id,
                           std::chrono::milliseconds timeout)
    : worker_(worker),
      contexts_(std::move(contexts)),
      stream_(std::make_unique<TlsStream>(std::move(socket), contexts_->initial())),
      id_(id),
      timer_(stream_->get_executor()),
      timeout_(timeout) {}

void TlsHandshake::start() {
  boost::system::error_code ignored;
  stream_->next_layer().set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  timer_.expires_after(timeout_);
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->done_) return;
    bump(self->worker_.stats().tls_handshake_failures);
    self->close("no TLS handshake within " + std::to_string(self->timeout_.count()) + " ms");
  });
  stream_->async_handshake(boost::asio::ssl::stream_base::server, [self = shared_from_this()](
                                                                      boost::system::error_code ec) {
    if (self->done_) return;
    if (ec) {
      bump(self->worker_.stats().tls_handshake_failures);
      self->close("TLS handshake failed: " + ec.message());
      return;
    }
    self->done_ = true;
    self->timer_.cancel();
    SSL* ssl = self->stream_->native_handle();
    std::string alpn = negotiated_alpn(ssl);
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    spdlog::debug("[C{}] TLS {} with {} (SNI '{}', ALPN '{}')", self->id_, SSL_get_version(ssl),
                  SSL_get_cipher_name(ssl), sni ? sni : "", alpn);
    // The host asked for a client certificate (auth-tls): judged once, for every request of the connection.
    if (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) {
      if (auto peer = self->worker_.peer(self->id_)) {
        peer->certificate = client_certificate_of(ssl);
        const ClientCertificate& certificate = *peer->certificate;
        spdlog::debug("[C{}] client certificate: {}{}{}", self->id_,
                      !certificate.presented ? "none" : certificate.verified ? "verified" : "not verified: ",
                      certificate.verify_error, certificate.presented ? " (" + certificate.subject + ")" : "");
      }
    }
    Transport transport(std::move(self->stream_));
    if (alpn == "h2") {
      self->worker_.start_session(self->id_, DownstreamProtocol::kH2, std::move(transport), {});
    } else {
      self->worker_.start_detector(self->id_, std::move(transport));
    }
  });
}

void TlsHandshake::close(const std::string& reason) {
  if (done_) return;
  done_ = true;
  spdlog::debug("[C{}] closed: {}", id_, reason);
  timer_.cancel();
  boost::system::error_code ignored;
  stream_->next_layer().close(ignored);
  worker_.session_closed(id_);
}

}  // namespace grpc_ingress
