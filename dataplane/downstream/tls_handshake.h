#pragma once

#include "dataplane/transport.h"
#include "dataplane/downstream/downstream_connection.h"
#include "dataplane/tls/server_tls.h"

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>

namespace grpc_ingress {

class Worker;

// The TLS handshake of a connection accepted on the TLS port, bounded by a
// timeout. ALPN h2 hands it to an HTTP/2 session; anything else (http/1.1,
// no ALPN) to the protocol detector, whose first bytes decide. Worker thread
// only; kept alive by its pending handshake.
class TlsHandshake : public DownstreamConnection, public std::enable_shared_from_this<TlsHandshake> {
 public:
  // `contexts` are the certificates of the moment; the handshake keeps them.
  TlsHandshake(Worker& worker, boost::asio::ip::tcp::socket socket,
               std::shared_ptr<const ServerTlsContexts> contexts, uint64_t id, std::chrono::milliseconds timeout);

  void start();
  // No request yet: a draining process closes it.
  void shutdown() override { close("shutting down"); }

 private:
  void close(const std::string& reason);

  Worker& worker_;
  std::shared_ptr<const ServerTlsContexts> contexts_;
  std::unique_ptr<TlsStream> stream_;
  uint64_t id_;
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds timeout_;
  bool done_ = false;
};

}  // namespace grpc_ingress
