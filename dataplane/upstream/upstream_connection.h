#pragma once

#include "common/route_table.h"
#include "dataplane/proxy_stream.h"
#include "dataplane/stats.h"
#include "dataplane/upstream/upstream_connector.h"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace grpc_ingress {

struct UpstreamOptions {
  std::chrono::milliseconds connect_timeout{2000};  // TCP connect and TLS handshake together
  // A connection silent this long gets a PING; still silent a tick later, it is dead.
  std::chrono::milliseconds keepalive_interval{300000};
  std::chrono::milliseconds idle_timeout{300000};       // close after this long without streams
  uint32_t stream_window = 256 * 1024;          // bytes a pod may send ahead, per stream
  uint32_t connection_window = 8 * 1024 * 1024;  // and per connection
  size_t max_header_bytes = 64 * 1024;           // response header / trailer list
};

// Why a stream could not be served by a connection.
enum class UpstreamFailure {
  kConnectFailed,  // the pod could not be reached: it never saw the request
  kRefused,        // REFUSED_STREAM, GOAWAY above the stream, no stream could start: never processed
  kReset,          // reset, or the connection lost, before response headers: the pod may have seen it
  kStale,          // a kept-alive HTTP/1.1 connection the pod had closed: the same pod may take it anew
};

// How a connection tells the router about its streams. The connection has
// forgotten the stream's attempt before `failed` runs; during `answered` the
// attempt still runs, and the router cancels it to retry.
struct UpstreamHandlers {
  std::function<void(const std::shared_ptr<ProxyStream>& stream, const std::string& reason,
                     UpstreamFailure failure)>
      failed;
  // The final response headers arrived (maybe a trailers-only answer).
  // false: the router cancelled the attempt to retry the stream elsewhere.
  std::function<bool(const std::shared_ptr<ProxyStream>& stream)> answered;
};

// One connection to a pod, HTTP/2 (many streams at once) or HTTP/1.1 (one
// request at a time), over TCP or TLS. Owned by the UpstreamPool until it
// closes (and by its own pending I/O); it points at the streams it serves
// without owning them: a stream cancels its attempt before it goes, and a
// closing connection ends every attempt it holds. Worker thread only.
class UpstreamConnection : public UpstreamSide, public std::enable_shared_from_this<UpstreamConnection> {
 public:
  using OnClosed = std::function<void(UpstreamConnection*)>;

  // Starts the TCP connect (and TLS handshake); streams submitted meanwhile wait.
  void connect();
  // Runs over a byte stream already open (unit tests: a MemoryPipe) instead.
  void connect_over(Transport transport) { on_connected(std::move(transport)); }
  // Can take another stream now (maybe still connecting).
  virtual bool accepting_streams() const = 0;
  // Carries the stream's current attempt: now, or once connected.
  void submit(ProxyStream& stream);

  // No new streams; close once the running ones finish.
  virtual void drain() = 0;
  // Close now; running streams fail with UNAVAILABLE (or are retried).
  virtual void close(const std::string& reason) = 0;

  const std::string& address() const { return address_; }
  uint64_t id() const { return id_; }

 protected:
  // `kind` starts the log prefix: "U" for HTTP/2, "H" for HTTP/1.1.
  UpstreamConnection(boost::asio::io_context& io, Endpoint endpoint, const UpstreamOptions& options,
                     std::optional<UpstreamTlsTarget> tls, const char* kind, UpstreamHandlers handlers,
                     OnClosed on_closed, WorkerStats* stats);

  // The byte stream is open (the TLS handshake done).
  virtual void on_connected(Transport transport) = 0;
  // submit()'s own part: the stream is attached; send it or keep it waiting.
  virtual void start(ProxyStream& stream) = 0;

  // The final response head of `stream` is in stream.response: the router
  // sees it first (and may retry elsewhere: false, the attempt is gone),
  // then the client. `ended`: the head ends the response.
  bool deliver_head(ProxyStream& stream, bool ended);
  // Ends the attempt of `stream` that this connection cannot finish: before
  // the answer began the router retries or fails it; after, the client gets
  // UNAVAILABLE in its trailers (or a reset).
  void fail_stream(ProxyStream& stream, const std::string& reason, UpstreamFailure failure);

  // Tells the pool once (the first close or drain-for-idle); later calls do nothing.
  void leave_pool() {
    if (!on_closed_) return;
    OnClosed callback = std::move(on_closed_);
    on_closed_ = nullptr;
    callback(this);
  }

  template <typename Connection>
  std::shared_ptr<Connection> self() {
    return std::static_pointer_cast<Connection>(shared_from_this());
  }

  boost::asio::io_context& io_;
  Endpoint endpoint_;
  UpstreamOptions options_;
  std::optional<UpstreamTlsTarget> tls_;
  std::shared_ptr<UpstreamConnector> connector_;  // while connecting
  std::string address_;
  uint64_t id_;
  std::string log_prefix_;  // "[U7 10.0.0.5:8080]" (h2) / "[H7 ...]" (HTTP/1.1)
  UpstreamHandlers handlers_;
  WorkerStats* stats_;  // the worker's; outlives the connection's I/O
  bool connecting_ = false;  // connect() started and its end not yet handled

 private:
  OnClosed on_closed_;
};

}  // namespace grpc_ingress
