#pragma once

#include "common/route_table.h"
#include "dataplane/proxy_stream.h"
#include "dataplane/stats.h"
#include "dataplane/upstream/upstream_connection.h"
#include "dataplane/upstream/upstream_connector.h"

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

// One HTTP/2 client connection to a pod (h2c, or TLS with ALPN h2),
// multiplexing many streams. Worker thread only.
class H2ClientConnection : public UpstreamConnection {
 public:
  H2ClientConnection(boost::asio::io_context& io, Endpoint endpoint, const UpstreamOptions& options,
                     std::optional<UpstreamTlsTarget> tls, UpstreamHandlers handlers, OnClosed on_closed,
                     WorkerStats* stats);
  ~H2ClientConnection() override;

  // Can take another stream now: not closing, not told to go away, and below
  // the pod's SETTINGS_MAX_CONCURRENT_STREAMS.
  bool accepting_streams() const override;

  // No new streams; GOAWAY and close once the running ones finish.
  void drain() override;
  // Close now; running streams fail with UNAVAILABLE.
  void close(const std::string& reason) override;

  size_t stream_count() const { return streams_.size() + pending_.size(); }

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
  enum class State { kOpening, kConnected, kClosed };

  void on_connected(Transport transport) override;
  void start(ProxyStream& stream) override;
  void start_stream(ProxyStream& stream);
  void do_read();
  // Why a read failed, in words.
  std::string read_failure(const boost::system::error_code& ec) const;
  // A TLS connection that ends before the pod sent a byte was refused in the
  // handshake (a TLS 1.3 pod checks our certificate after our side is done).
  bool refused_by_tls() const;
  void flush();
  void schedule_flush();
  void maybe_finish_drain();
  void keepalive_tick();
  // The stream's state, attached to nghttp2's stream (no lookup by id).
  ProxyStream* find(int32_t stream_id);
  // Forgets the stream the pod's stream `stream_id` carries.
  void forget(int32_t stream_id, ProxyStream& stream);

  std::optional<Transport> transport_;  // once connected
  boost::asio::steady_timer keepalive_timer_;
  uint64_t reads_ = 0;              // socket reads so far: any answer proves the pod alive
  uint64_t reads_at_ping_ = 0;
  uint64_t reads_at_tick_ = 0;
  bool ping_outstanding_ = false;
  std::chrono::steady_clock::time_point idle_since_ = std::chrono::steady_clock::now();

  State state_ = State::kOpening;
  bool draining_ = false;
  bool goaway_received_ = false;
  bool writing_ = false;
  bool flush_scheduled_ = false;
  nghttp2_session* session_ = nullptr;
  std::array<uint8_t, 16 * 1024> read_buffer_;
  ByteQueue write_buffer_;  // frames on their way out
  size_t header_bytes_ = 0;  // of the header block being received

  std::vector<ProxyStream*> pending_;  // waiting for the connection
  AttachedStreams streams_;             // started at the pod
};

}  // namespace grpc_ingress
