#include "dataplane/upstream/upstream_connector.h"

#include "common/tls_certificate.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>

namespace grpc_ingress {
namespace {

// The table holds addresses in binary already: nothing to parse per connection.
boost::asio::ip::address to_asio(const IpAddress& ip) {
  if (ip.family() == IpFamily::kV4) {
    boost::asio::ip::address_v4::bytes_type bytes;
    std::copy_n(ip.bytes(), bytes.size(), bytes.begin());
    return boost::asio::ip::address_v4(bytes);
  }
  boost::asio::ip::address_v6::bytes_type bytes;
  std::copy_n(ip.bytes(), bytes.size(), bytes.begin());
  return boost::asio::ip::address_v6(bytes);
}

// ALPN's wire format: each protocol name after its length byte.
std::string alpn_wire(const std::string& protocol) {
  return std::string(1, static_cast<char>(protocol.size())) + protocol;
}

bool is_ip_address(const std::string& name) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(name, ec);
  return !ec;
}

}  // namespace

std::string tls_handshake_failure(const UpstreamTlsTarget& tls, const std::string& address, const std::string& reason) {
  std::string message = "TLS handshake with pod " + address + " failed: " + reason;
  if (!tls.client_certificate) {
    message += " (if the pod requires a client certificate, name one with grpc-ingress.io/upstream-client-secret)";
  }
  return message;
}

Result<std::shared_ptr<boost::asio::ssl::context>> make_upstream_tls_context(const UpstreamTls& tls) {
  namespace ssl = boost::asio::ssl;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = context->native_handle();
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  context->set_options(ssl::context::no_compression);
  if (!tls.ca_pem.empty()) {
    boost::system::error_code ec;
    context->add_certificate_authority(boost::asio::buffer(tls.ca_pem), ec);
    if (ec) return Error{"the upstream CA does not load: " + openssl_reason()};
    context->set_verify_mode(ssl::verify_peer);
  } else {
    context->set_verify_mode(ssl::verify_none);
  }
  if (!tls.cert_pem.empty()) {
    boost::system::error_code ec;
    context->use_certificate_chain(boost::asio::buffer(tls.cert_pem), ec);
    if (!ec) context->use_private_key(boost::asio::buffer(tls.key_pem), ssl::context::pem, ec);
    if (!ec && SSL_CTX_check_private_key(native) != 1) {
      return Error{"the upstream client key does not match its certificate"};
    }
    if (ec) return Error{"the upstream client certificate does not load: " + openssl_reason()};
  }
  return context;
}

UpstreamConnector::UpstreamConnector(boost::asio::io_context& io, const Endpoint& endpoint,
                                     std::chrono::milliseconds timeout, std::optional<UpstreamTlsTarget> tls)
    : socket_(io), timer_(io), endpoint_(endpoint), address_(endpoint.address()), timeout_(timeout),
      tls_(std::move(tls)) {}

void UpstreamConnector::start(Done done) {
  done_ = std::move(done);
  auto self = shared_from_this();
  timer_.expires_after(timeout_);
  timer_.async_wait([self](boost::system::error_code ec) {
    if (ec || self->finished_) return;
    std::string what = self->tls_stream_ ? "TLS handshake with pod " : "connect to ";
    self->finish(std::nullopt, what + self->address_ + " timed out after " + std::to_string(self->timeout_.count()) +
                                   " ms");
  });
  socket_.async_connect({to_asio(endpoint_.ip), endpoint_.port}, [self](boost::system::error_code ec) {
    if (self->finished_) return;
    if (ec) {
      self->finish(std::nullopt, "connect to " + self->address_ + " failed: " + ec.message());
      return;
    }
    boost::system::error_code ignored;
    self->socket_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
    if (self->tls_) {
      self->handshake();
    } else {
      self->finish(Transport(std::move(self->socket_)), "");
    }
  });
}

void UpstreamConnector::handshake() {
  const UpstreamTlsTarget& tls = *tls_;
  tls_stream_ = std::make_unique<TlsStream>(std::move(socket_), *tls.context);
  SSL* ssl = tls_stream_->native_handle();
  // SNI may not be an IP address (RFC 6066 3).
  if (!tls.sni.empty() && !is_ip_address(tls.sni)) SSL_set_tlsext_host_name(ssl, tls.sni.c_str());
  std::string alpn = alpn_wire(tls.alpn);
  SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn.data()), static_cast<unsigned>(alpn.size()));
  if (tls.verify && !tls.verify_names.empty()) {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(ssl, tls.verify_names.front().c_str());
    for (size_t i = 1; i < tls.verify_names.size(); ++i) SSL_add1_host(ssl, tls.verify_names[i].c_str());
  }
  auto self = shared_from_this();
  tls_stream_->async_handshake(boost::asio::ssl::stream_base::client, [self](boost::system::error_code ec) {
    if (self->finished_) return;
    if (ec) {
      std::string reason = ec.message();
      long verify = SSL_get_verify_result(self->tls_stream_->native_handle());
      if (verify != X509_V_OK) reason += ": " + std::string(X509_verify_cert_error_string(verify));
      self->finish(std::nullopt, tls_handshake_failure(*self->tls_, self->address_, reason));
      return;
    }
    self->finish(Transport(std::move(self->tls_stream_)), "");
  });
}

void UpstreamConnector::cancel() {
  if (finished_) return;
  finish(std::nullopt, "connect cancelled");
}

void UpstreamConnector::finish(std::optional<Transport> transport, const std::string& error) {
  if (finished_) return;
  finished_ = true;
  timer_.cancel();
  boost::system::error_code ignored;
  if (!transport) {
    // Abort whatever is in flight; its handler sees finished_.
    if (tls_stream_) {
      tls_stream_->next_layer().close(ignored);
    } else {
      socket_.close(ignored);
    }
  }
  Done done = std::move(done_);
  done_ = nullptr;
  if (done) done(std::move(transport), error);
}

}  // namespace grpc_ingress
