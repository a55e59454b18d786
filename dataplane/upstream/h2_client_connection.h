#pragma once

#include "common/route_table.h"
#include "dataplane/proxy_stream.h"
#include "dataplane/stats.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

struct nghttp2_session;

namespace grpc_ingress {

struct UpstreamOptions {
  std::chrono::milliseconds connect_timeout{2000};
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

// One HTTP/2 (h2c) client connection to a pod, multiplexing many streams.
// Worker thread only; kept alive by its own pending I/O.
class H2ClientConnection : public UpstreamSide,
                           public std::enable_shared_from_this<H2ClientConnection> {
 public:
  H2ClientConnection(boost::asio::io_context& io, Endpoint endpoint, const UpstreamOptions& options,
                     UpstreamHandlers handlers,
                     std::function<void(H2ClientConnection*)> on_closed, WorkerStats* stats);
  ~H2ClientConnection() override;

  void connect();

  // Can take another stream now: not closing, not told to go away, and below
  // the pod's SETTINGS_MAX_CONCURRENT_STREAMS.
  bool accepting_streams() const;
  void submit(std::shared_ptr<ProxyStream> stream);

  // No new streams; GOAWAY and close once the running ones finish.
  void drain();
  // Close now; running streams fail with UNAVAILABLE.
  void close(const std::string& reason);

  const std::string& address() const { return address_; }
  size_t stream_count() const { return streams_.size() + pending_.size(); }
  uint64_t id() const { return id_; }

  // UpstreamSide
  void request_data_ready(ProxyStream& stream) override;
  void response_body_consumed(ProxyStream& stream, size_t bytes) override;
  void cancel(ProxyStream& stream) override;

  // nghttp2 callbacks (the .cc file's static trampolines call these).
  int on_header(int32_t stream_id, bool trailers, std::string_view name, std::string_view value);
  int on_headers_complete(int32_t stream_id, bool trailers, bool end_stream);
  int on_data(int32_t stream_id, const uint8_t* data, size_t len);
  int on_data_end(int32_t stream_id);
  int on_stream_close(int32_t stream_id, uint32_t error_code);
  void on_goaway(int32_t last_stream_id);
  long read_request_body(int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags);

 private:
  enum class State { kIdle, kConnecting, kConnected, kClosed };

  void on_connected();
  void start_stream(const std::shared_ptr<ProxyStream>& stream);
  void do_read();
  void flush();
  void schedule_flush();
  void maybe_finish_drain();
  void keepalive_tick();
  ProxyStream* find(int32_t stream_id);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer keepalive_timer_;
  uint64_t reads_ = 0;              // socket reads so far: any answer proves the pod alive
  uint64_t reads_at_ping_ = 0;
  uint64_t reads_at_tick_ = 0;
  bool ping_outstanding_ = false;
  std::chrono::steady_clock::time_point idle_since_ = std::chrono::steady_clock::now();
  Endpoint endpoint_;
  std::string address_;
  UpstreamOptions options_;
  UpstreamHandlers handlers_;
  std::function<void(H2ClientConnection*)> on_closed_;
  WorkerStats* stats_;  // the worker's; outlives the connection's I/O
  uint64_t id_;
  std::string log_prefix_;

  State state_ = State::kIdle;
  bool draining_ = false;
  bool goaway_received_ = false;
  bool writing_ = false;
  bool flush_scheduled_ = false;
  nghttp2_session* session_ = nullptr;
  std::array<uint8_t, 16 * 1024> read_buffer_;
  std::string write_buffer_;
  size_t header_bytes_ = 0;  // of the header block being received

  std::vector<std::shared_ptr<ProxyStream>> pending_;  // waiting for the connection
  std::map<int32_t, std::shared_ptr<ProxyStream>> streams_;
};

}  // namespace grpc_ingress
