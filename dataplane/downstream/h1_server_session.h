#pragma once

#include "dataplane/transport.h"
#include "dataplane/downstream/downstream_connection.h"
#include "dataplane/downstream/downstream_peer.h"
#include "dataplane/http1/request_parser.h"
#include "dataplane/http1/response.h"
#include "dataplane/proxy_stream.h"

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

// One client connection speaking HTTP/1.1 (or 1.0). Each request becomes a
// ProxyStream that the router sends to a pod as an HTTP/2 stream; requests
// are served one at a time, so pipelined requests are answered in order.
// Keep-alive between requests, bounded by an idle timeout; the request head
// and body are bounded (431 / 413); the body is read only as fast as the pod
// takes it. Worker thread only; kept alive by its own pending I/O.
class H1ServerSession : public DownstreamSide,
                        public DownstreamConnection,
                        public std::enable_shared_from_this<H1ServerSession> {
 public:
  // Over TLS the requests' scheme is https.
  H1ServerSession(Worker& worker, Transport transport, const DownstreamOptions& options, uint64_t id);
  ~H1ServerSession() override;

  // `received`: bytes already read from the client.
  void start(std::string_view received);
  // Graceful: the running request finishes (with "Connection: close"), then close.
  void shutdown() override;

  // DownstreamSide
  void response_headers_ready(ProxyStream& stream) override;
  void response_data_ready(ProxyStream& stream) override;
  void request_body_consumed(ProxyStream& stream, size_t bytes) override;
  void reset(ProxyStream& stream, uint32_t h2_error_code) override;

  void collect_buffering_streams(std::vector<std::shared_ptr<ProxyStream>>& out) override {
    if (exchange_ && exchange_->stream->buffered_bytes() > 0) out.push_back(exchange_->stream);
  }

 private:
  // The exchange in progress: one request and its response.
  struct Exchange {
    std::shared_ptr<ProxyStream> stream;
    int version = 11;
    bool accepts_trailers = false;
    bool keep_alive = true;
    bool request_complete = false;
    bool send_continue = false;  // "100 Continue" owed before the final answer
    bool head_written = false;
    bool body_written = false;  // the last byte of the response is queued
    bool broken = false;        // the response cannot be delimited: close after it
    H1Framing framing = H1Framing::kContentLength;
    uint64_t remaining = 0;  // kContentLength: bytes still owed
  };

  enum class TimerPurpose { kIdle, kBusy, kLinger };

  void arm_timer(TimerPurpose purpose, std::chrono::steady_clock::duration after);
  void on_idle_timeout();
  void next_request();
  void read_more();
  void on_read_closed(const boost::system::error_code& ec);
  void consume(size_t n);
  void schedule_input();
  void process_input();
  void on_request_head();
  void on_request_complete();
  void on_parse_error(const boost::beast::error_code& ec);
  // An exchange for an answer of our own (no request head to route).
  void begin_local_exchange();
  void answer_locally(int status, const std::string& message, HeaderList extra_headers = {});
  void schedule_write();
  void write();
  void queue_head(Exchange& exchange);
  void queue_body(Exchange& exchange);
  void finish_exchange();
  void release(ProxyStream& stream);
  void linger_then_close(const std::string& reason);
  void shut_down_sending();
  void close(const std::string& reason);
  size_t buffered() const { return input_.size() - input_start_; }

  Worker& worker_;
  Transport transport_;
  std::shared_ptr<const DownstreamPeer> peer_;  // who the client is (never null)
  DownstreamOptions options_;
  uint64_t id_;
  std::string log_prefix_;
  boost::asio::steady_timer timer_;
  TimerPurpose timer_purpose_ = TimerPurpose::kIdle;

  std::string input_;  // bytes read, not parsed yet: input_[input_start_..]
  size_t input_start_ = 0;
  static constexpr size_t kReadChunk = 16 * 1024;  // what one read brings at most
  std::optional<H1RequestParser> parser_;  // the request being read
  std::optional<Exchange> exchange_;
  std::shared_ptr<BufferAccount> buffers_;  // body bytes held for its streams
  std::string output_;  // being written
  int32_t requests_ = 0;

  bool reading_ = false;
  bool read_closed_ = false;
  bool writing_ = false;
  bool input_scheduled_ = false;
  bool write_scheduled_ = false;
  bool draining_ = false;
  bool refuse_more_ = false;  // a request could not be parsed: no request after it
  bool lingering_ = false;
  size_t lingered_bytes_ = 0;
  bool closed_ = false;
};

}  // namespace grpc_ingress
