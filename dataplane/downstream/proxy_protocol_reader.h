#pragma once

#include "dataplane/downstream/downstream_connection.h"
#include "dataplane/tls/server_tls.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace grpc_ingress {

class Worker;

// With --use-proxy-protocol, the first step of every accepted connection:
// reads the PROXY protocol header (v1 or v2) within a timeout, records the
// client it names in the connection's DownstreamPeer, and hands the socket on
// to the TLS handshake (TLS port) or the protocol detector, which then see
// the connection's bytes untouched: bytes are peeked, and only those that
// belong to the header are consumed. A connection without a valid header is
// closed and counted (grpc_ingress_proxy_protocol_errors_total). Worker
// thread only; kept alive by its pending wait.
class ProxyProtocolReader : public DownstreamConnection, public std::enable_shared_from_this<ProxyProtocolReader> {
 public:
  // `contexts`: the TLS port's certificates of the moment (a TLS handshake
  // follows), or null (cleartext).
  ProxyProtocolReader(Worker& worker, boost::asio::ip::tcp::socket socket,
                      std::shared_ptr<const ServerTlsContexts> contexts, uint64_t id,
                      std::chrono::milliseconds timeout);

  void start();
  // No request yet: a draining process closes it.
  void shutdown() override { close("shutting down", false); }

 private:
  void wait();
  void on_readable();
  // `counted`: a client that broke the protocol (not a clean close or a drain).
  void close(const std::string& reason, bool counted);

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  std::shared_ptr<const ServerTlsContexts> contexts_;
  uint64_t id_;
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds timeout_;
  std::string consumed_;  // the header's bytes read so far (it came in pieces)
  bool done_ = false;
};

}  // namespace grpc_ingress
