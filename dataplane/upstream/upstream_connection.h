#pragma once

#include "dataplane/proxy_stream.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
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

// How a connection tells the router about its streams.
struct UpstreamHandlers {
  std::function<void(const std::shared_ptr<ProxyStream>& stream, const std::string& reason,
                     UpstreamFailure failure)>
      failed;
  // The final response headers arrived (maybe a trailers-only answer).
  // false: the router took the stream back for a retry; the connection forgets it.
  std::function<bool(const std::shared_ptr<ProxyStream>& stream)> answered;
};

// One connection to a pod, HTTP/2 (many streams at once) or HTTP/1.1 (one
// request at a time), over TCP or TLS. Worker thread only; kept alive by its
// own pending I/O and by the streams it serves.
class UpstreamConnection : public UpstreamSide {
 public:
  using OnClosed = std::function<void(UpstreamConnection*)>;

  // Starts the TCP connect (and TLS handshake); streams submitted meanwhile wait.
  virtual void connect() = 0;
  // Can take another stream now (maybe still connecting).
  virtual bool accepting_streams() const = 0;
  virtual void submit(std::shared_ptr<ProxyStream> stream) = 0;

  // No new streams; close once the running ones finish.
  virtual void drain() = 0;
  // Close now; running streams fail with UNAVAILABLE (or are retried).
  virtual void close(const std::string& reason) = 0;

  const std::string& address() const { return address_; }
  uint64_t id() const { return id_; }

 protected:
  // `kind` starts the log prefix: "U" for HTTP/2, "H" for HTTP/1.1.
  UpstreamConnection(const std::string& address, const char* kind, UpstreamHandlers handlers, OnClosed on_closed,
                     WorkerStats* stats);

  // Tells the pool once (the first close or drain-for-idle); later calls do nothing.
  void leave_pool() {
    if (!on_closed_) return;
    OnClosed callback = std::move(on_closed_);
    on_closed_ = nullptr;
    callback(this);
  }

  std::string address_;
  uint64_t id_;
  std::string log_prefix_;  // "[U7 10.0.0.5:8080]" (h2) / "[H7 ...]" (HTTP/1.1)
  UpstreamHandlers handlers_;
  WorkerStats* stats_;  // the worker's; outlives the connection's I/O

 private:
  OnClosed on_closed_;
};

}  // namespace grpc_ingress
