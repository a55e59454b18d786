#pragma once

#include "common/route_table.h"
#include "dataplane/http1/response_parser.h"
#include "dataplane/proxy_stream.h"
#include "dataplane/upstream/upstream_connection.h"
#include "dataplane/upstream/upstream_connector.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <vector>
#include <memory>
#include <optional>
#include <string>

namespace grpc_ingress {

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
