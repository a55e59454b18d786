#pragma once

#include "common/result.h"
#include "common/route_table.h"
#include "dataplane/transport.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace grpc_ingress {

// What a TLS connection to a pod needs beyond TCP.
struct UpstreamTlsTarget {
  std::shared_ptr<boost::asio::ssl::context> context;  // roots, client certificate
  bool verify = false;                    // the context verifies the pod's certificate
  std::string sni;
  std::vector<std::string> verify_names;  // the certificate must carry one of them
  std::string alpn;                       // "h2" or "http/1.1"
  uint64_t context_id = 0;                // which context, for telling connections apart
  bool client_certificate = false;        // the context presents one (mTLS)
};

// "TLS handshake with pod ADDRESS failed: REASON", with a hint when we had
// no client certificate to offer (a pod that wants one often just closes).
std::string tls_handshake_failure(const UpstreamTlsTarget& tls, const std::string& address, const std::string& reason);

// The client SSL_CTX for a cluster's upstream TLS: TLS 1.2 and 1.3, the CA
// (verification on) when there is one, the client certificate when there is one.
Result<std::shared_ptr<boost::asio::ssl::context>> make_upstream_tls_context(const UpstreamTls& tls);

// Opens the byte stream to a pod: TCP connect, then the TLS handshake when
// asked for, both within one timeout. Worker thread only; keeps itself alive
// until `done` has run, exactly once.
class UpstreamConnector : public std::enable_shared_from_this<UpstreamConnector> {
 public:
  // `transport` is set on success; `error` says what failed, in words.
  using Done = std::function<void(std::optional<Transport> transport, const std::string& error)>;

  UpstreamConnector(boost::asio::io_context& io, const Endpoint& endpoint, std::chrono::milliseconds timeout,
                    std::optional<UpstreamTlsTarget> tls);

  void start(Done done);
  // Stops connecting; `done` runs with an error.
  void cancel();

 private:
  void handshake();
  void finish(std::optional<Transport> transport, const std::string& error);

  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<TlsStream> tls_stream_;
  boost::asio::steady_timer timer_;
  Endpoint endpoint_;
  std::string address_;
  std::chrono::milliseconds timeout_;
  std::optional<UpstreamTlsTarget> tls_;
  Done done_;
  bool finished_ = false;
};

}  // namespace grpc_ingress
