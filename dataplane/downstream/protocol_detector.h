#pragma once

#include "dataplane/transport.h"
#include "dataplane/downstream/downstream_connection.h"

#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace grpc_ingress {

class Worker;

// What the first bytes of a connection say: the HTTP/2 client preface; an
// HTTP/1.x request (a method token, then a space or the end of the line; the
// HTTP/1.1 parser answers 400 if the rest is wrong); neither (closed at once);
// or too few bytes yet to tell.
enum class PrefaceKind { kNeedMore, kHttp2, kHttp1, kGarbage };
PrefaceKind classify_preface(std::string_view first_bytes);

// Reads the first bytes of a client connection and hands it, with those
// bytes, to the worker's HTTP/2 or HTTP/1.1 session: the 24-byte HTTP/2
// preface means HTTP/2; a method token means HTTP/1.x, without waiting for
// more; anything else is closed. Worker thread only; kept alive by its pending read.
class ProtocolDetector : public DownstreamConnection,
                         public std::enable_shared_from_this<ProtocolDetector> {
 public:
  // `transport` may be TLS, its handshake done.
  ProtocolDetector(Worker& worker, Transport transport, uint64_t id, std::chrono::milliseconds timeout);

  void start();
  // Nothing read yet: close (a draining process takes no new clients).
  // Otherwise the session it hands over to finishes the first request.
  void shutdown() override;

 private:
  void read();
  void close(const std::string& reason);

  Worker& worker_;
  std::optional<Transport> transport_;  // moved out at the hand-over
  uint64_t id_;
  bool done_ = false;
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds timeout_;
  std::string received_;
};

}  // namespace grpc_ingress
