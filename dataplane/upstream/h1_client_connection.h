#pragma once

#include "common/route_table.h"
#include "dataplane/proxy_stream.h"
#include "dataplane/upstream/upstream_connection.h"
#include "dataplane/upstream/upstream_connector.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/basic_parser.hpp>

#include <vector>
#include <memory>
#include <optional>
#include <string>

namespace grpc_ingress {

// One HTTP/1.1 response from a pod, parsed by Beast into a ProxyStream:
// status and headers (hop-by-hop ones dropped), body bytes at most `room` at a
// time (the stream's window), chunked trailers.
class H1ResponseParser : private boost::beast::http::basic_parser<false> {
 public:
  H1ResponseParser(size_t max_header_bytes, bool head_request);

  // Parses from `data`; returns the bytes consumed. Stops after the head and
  // whenever the room for body bytes is used up.
  size_t feed(ProxyStream& stream, const char* data, size_t size, size_t room, boost::beast::error_code& ec);
  // The pod closed the connection: ends a body that runs until close.
  void feed_eof(boost::beast::error_code& ec) { put_eof(ec); }

  bool head_done() const { return is_header_done(); }
  bool done() const { return is_done(); }
  bool keep_alive() const { return basic_parser::keep_alive(); }
  int status() const { return status_; }
  // Body bytes handed to the stream by the last feed().
  size_t body_taken() const { return body_taken_; }

 private:
  void on_request_impl(boost::beast::http::verb, boost::beast::string_view, boost::beast::string_view, int,
                       boost::beast::error_code&) override {}
  void on_response_impl(int code, boost::beast::string_view reason, int version,
                        boost::beast::error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, boost::beast::string_view name_text,
                     boost::beast::string_view value, boost::beast::error_code& ec) override;
  void on_header_impl(boost::beast::error_code& ec) override;
  void on_body_init_impl(const boost::optional<uint64_t>&, boost::beast::error_code&) override {}
  size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code& ec) override;
  void on_chunk_header_impl(uint64_t, boost::beast::string_view, boost::beast::error_code&) override {}
  size_t on_chunk_body_impl(uint64_t remain, boost::beast::string_view body, boost::beast::error_code& ec) override;
  void on_finish_impl(boost::beast::error_code&) override {}

  size_t take(boost::beast::string_view body);

  ProxyStream* stream_ = nullptr;  // during feed() only
  size_t room_ = 0;
  size_t body_taken_ = 0;
  int status_ = 0;
  HeaderList headers_;  // the head's fields until it is complete
};

// One HTTP/1.1 client connection to a pod (cleartext, or TLS with ALPN
// http/1.1): one request at a time, kept alive for the next one. Never
// pipelines: a second concurrent request gets another connection.
// Worker thread only.
class H1ClientConnection : public UpstreamConnection {
 public:
  H1ClientConnection(boost::asio::io_context& io, Endpoint endpoint, const UpstreamOptions& options,
                     std::optional<UpstreamTlsTarget> tls, UpstreamHandlers handlers, OnClosed on_closed,
                     WorkerStats* stats);
  ~H1ClientConnection() override;

  // Open (or opening) and not serving a request.
  bool accepting_streams() const override;
  void drain() override;
  void close(const std::string& reason) override;

  // UpstreamSide
  void request_data_ready(ProxyStream& stream) override;
  void response_body_consumed(ProxyStream& stream, size_t bytes) override;
  void cancel(ProxyStream& stream) override;

 private:
  enum class State { kOpening, kConnected, kClosed };

  void on_connected(Transport transport) override;
  void start(ProxyStream& stream) override;
  void start_request();
  // Writes the head (first time) and whatever request body is queued.
  void write_more();
  void do_read();
  // Feeds buffered bytes to the parser, as far as the stream's window allows.
  void parse();
  void deliver_head();
  // Both directions of the exchange are over: keep the connection or close it.
  void maybe_finish_exchange();
  // The exchange's stream is done here (its attempt detached).
  void end_exchange();
  void idle_timeout_tick();
  // The pod closed the connection and every byte it sent is parsed.
  void finish_at_close();

  std::optional<Transport> transport_;
  boost::asio::steady_timer idle_timer_;
  State state_ = State::kOpening;
  bool draining_ = false;

  // The exchange in progress: the stream it serves (not owned).
  ProxyStream* stream_ = nullptr;
  std::optional<H1ResponseParser> parser_;
  bool head_written_ = false;
  bool chunked_request_ = false;
  bool request_done_ = false;    // every request byte is written
  bool head_delivered_ = false;  // the response head went to the router
  uint64_t response_bytes_ = 0;  // bytes from the pod for this exchange
  uint64_t exchanges_ = 0;       // finished on this connection: > 0 means reused
  bool pod_closed_ = false;      // the pod closed its side; what it sent is still being parsed

  bool writing_ = false;
  bool reading_ = false;
  std::string write_buffer_;
  // Grows past its first 16 KiB only while a large response head is incomplete.
  std::vector<char> read_buffer_ = std::vector<char>(16 * 1024);
  size_t read_begin_ = 0, read_end_ = 0;  // bytes read and not parsed yet
};

}  // namespace grpc_ingress
