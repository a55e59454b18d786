#pragma once

#include "dataplane/transport.h"
#include "dataplane/downstream/downstream_connection.h"
#include "dataplane/downstream/downstream_peer.h"
#include "dataplane/proxy_stream.h"

#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct nghttp2_session;

namespace grpc_ingress {

class Worker;

// One client connection speaking HTTP/2: h2c with prior knowledge, or h2
// over TLS. Lives on one worker; kept alive by its own pending I/O.
class H2ServerSession : public DownstreamSide,
                        public DownstreamConnection,
                        public std::enable_shared_from_this<H2ServerSession> {
 public:
  H2ServerSession(Worker& worker, Transport transport, const DownstreamOptions& options, uint64_t id);
  ~H2ServerSession() override;

  // `received`: bytes already read from the client (the preface, at least in part).
  void start(std::string_view received);
  // Graceful: GOAWAY, finish the running streams, then close.
  void shutdown() override;
  uint64_t id() const { return id_; }
  bool closed() const { return closed_; }

  // DownstreamSide
  void response_headers_ready(ProxyStream& stream) override;
  void response_data_ready(ProxyStream& stream) override;
  void request_body_consumed(ProxyStream& stream, size_t bytes) override;
  void reset(ProxyStream& stream, uint32_t h2_error_code) override;

  // nghttp2 callbacks (the .cc file's static trampolines call these).
  int on_begin_request(int32_t stream_id);
  // Frame headers and DATA frames, to spot floods of frames without payload.
  int on_begin_frame(uint8_t type, uint8_t flags, size_t length);
  int on_data_frame(uint8_t flags, size_t payload);
  int on_header(int32_t stream_id, bool trailers, std::string_view name, std::string_view value);
  int on_headers_complete(int32_t stream_id, bool trailers, bool end_stream);
  int on_data(int32_t stream_id, const uint8_t* data, size_t len);
  int on_data_end(int32_t stream_id);
  int on_stream_close(int32_t stream_id, uint32_t error_code);
  int on_end_stream_sent(int32_t stream_id);
  // A GOAWAY with an error code left: ours, or libnghttp2's own.
  void on_error_goaway_sent(uint32_t h2_error_code, std::string_view debug);
  long read_response_body(int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags);

 private:
  void do_read();
  void handle_input(const uint8_t* data, size_t n);
  void flush();
  void schedule_flush();
  void close(const std::string& reason);
  // The stream's state, attached to nghttp2's stream (no lookup by id).
  ProxyStream* find(int32_t stream_id);
  // A DATA/HEADERS/CONTINUATION frame with (`empty`) or without an empty payload.
  int count_frame(bool empty);
  // Ends the connection for abuse: GOAWAY with `h2_error_code`, then close at
  // the latest after goaway_linger (a client that does not read never takes it).
  void terminate(uint32_t h2_error_code, const std::string& reason);
  // Once per connection: grpc_ingress_protocol_errors_total and a log line.
  void count_protocol_error(const std::string& reason, uint32_t h2_error_code);
  void arm_linger_timer();
  void linger();
  void collect_buffering_streams(std::vector<std::shared_ptr<ProxyStream>>& out) override;

  Worker& worker_;
  Transport transport_;
  std::shared_ptr<const DownstreamPeer> peer_;  // who the client is (never null)
  DownstreamOptions options_;
  uint64_t id_;
  std::string log_prefix_;

  nghttp2_session* session_ = nullptr;
  bool closed_ = false;
  bool writing_ = false;
  bool flush_scheduled_ = false;
  ByteQueue write_buffer_;  // frames on their way out
  uint32_t consecutive_empty_frames_ = 0;
  const char* abuse_ = nullptr;  // why the connection is being cut off, if it is
  bool protocol_error_counted_ = false;
  bool error_goaway_sent_ = false;
  bool lingering_ = false;  // GOAWAY sent: dropping input until the client closes
  bool reading_ = false;
  std::optional<boost::asio::steady_timer> linger_timer_;
  std::shared_ptr<BufferAccount> buffers_;  // body bytes held for this connection's streams

  OwnedStreams streams_;
};

}  // namespace grpc_ingress
