#pragma once

#include "dataplane/proxy_stream.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

struct nghttp2_session;

namespace grpc_ingress {

class Worker;

struct DownstreamOptions {
  uint32_t max_concurrent_streams = 1000;
  uint32_t stream_window = 256 * 1024;          // bytes a client may send ahead, per stream
  uint32_t connection_window = 8 * 1024 * 1024;  // and per connection
  size_t max_header_bytes = 64 * 1024;           // request header list
  std::chrono::milliseconds preface_timeout{10000};  // for the client's connection preface
  // A stream with no frames either way for this long ends (UNAVAILABLE); long
  // but finite by default, so healthy long-lived streams are never cut.
  std::chrono::milliseconds stream_idle_timeout{3600000};
};

// One client connection speaking HTTP/2 with prior knowledge (h2c).
// Lives on one worker; kept alive by its own pending I/O.
class H2ServerSession : public DownstreamSide,
                        public std::enable_shared_from_this<H2ServerSession> {
 public:
  H2ServerSession(Worker& worker, boost::asio::ip::tcp::socket socket, const DownstreamOptions& options);
  ~H2ServerSession() override;

  void start();
  // Graceful: GOAWAY, finish the running streams, then close.
  void shutdown();
  uint64_t id() const { return id_; }
  bool closed() const { return closed_; }

  // DownstreamSide
  void response_headers_ready(ProxyStream& stream) override;
  void response_data_ready(ProxyStream& stream) override;
  void request_body_consumed(ProxyStream& stream, size_t bytes) override;
  void reset(ProxyStream& stream, uint32_t h2_error_code) override;

  // nghttp2 callbacks (the .cc file's static trampolines call these).
  int on_begin_request(int32_t stream_id);
  int on_header(int32_t stream_id, bool trailers, std::string_view name, std::string_view value);
  int on_headers_complete(int32_t stream_id, bool trailers, bool end_stream);
  int on_data(int32_t stream_id, const uint8_t* data, size_t len);
  int on_data_end(int32_t stream_id);
  int on_stream_close(int32_t stream_id, uint32_t error_code);
  int on_end_stream_sent(int32_t stream_id);
  long read_response_body(int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags);

 private:
  void do_read();
  void handle_input(size_t n);
  void reject_non_h2();
  void flush();
  void schedule_flush();
  void close(const std::string& reason);
  std::shared_ptr<ProxyStream> find(int32_t stream_id);

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer preface_timer_;
  DownstreamOptions options_;
  uint64_t id_;
  std::string log_prefix_;

  nghttp2_session* session_ = nullptr;
  bool preface_checked_ = false;
  bool closed_ = false;
  bool writing_ = false;
  bool flush_scheduled_ = false;
  std::array<uint8_t, 16 * 1024> read_buffer_;
  std::string write_buffer_;

  std::map<int32_t, std::shared_ptr<ProxyStream>> streams_;
};

}  // namespace grpc_ingress
