#include "dataplane/upstream/h1_client_connection.h"

#include "dataplane/h2_headers.h"
#include "dataplane/http1/response.h"

#include <boost/beast/http/error.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace grpc_ingress {
namespace {

namespace http = boost::beast::http;

// Methods whose requests carry a body by convention: an empty one is sent as
// "content-length: 0" so the pod does not wait for one.
bool expects_body(std::string_view method) { return method == "POST" || method == "PUT" || method == "PATCH"; }

constexpr size_t kMaxWriteBytes = 64 * 1024;  // request body bytes per write

}  // namespace

H1ClientConnection::H1ClientConnection(boost::asio::io_context& io, Endpoint endpoint, const UpstreamOptions& options,
                                       std::optional<UpstreamTlsTarget> tls, UpstreamHandlers handlers,
                                       OnClosed on_closed, WorkerStats* stats)
    : UpstreamConnection(io, std::move(endpoint), options, std::move(tls), "H", std::move(handlers),
                         std::move(on_closed), stats),
      idle_timer_(io) {}

H1ClientConnection::~H1ClientConnection() {
  // Closed connections hold no stream; this covers one that never closed.
  if (stream_) stream_->detach_upstream();
}

void H1ClientConnection::on_connected(Transport transport) {
  transport_.emplace(std::move(transport));
  state_ = State::kConnected;
  if (stats_) bump(stats_->upstream_connections, int64_t{1});
  spdlog::debug("{} connected", log_prefix_);
  do_read();
  if (stream_) {
    stream_->set_pending(false);
    start_request();
  } else {
    idle_timeout_tick();
  }
}

bool H1ClientConnection::accepting_streams() const { return state_ != State::kClosed && !draining_ && !stream_; }

void H1ClientConnection::start(ProxyStream& stream) {
  stream_ = &stream;
  parser_.emplace(options_.max_header_bytes, stream.method == "HEAD");
  head_written_ = false;
  request_done_ = false;
  head_delivered_ = false;
  response_bytes_ = 0;
  idle_timer_.cancel();
  if (state_ == State::kConnected) {
    start_request();
  } else {
    stream.set_pending(true);
  }
}

void H1ClientConnection::start_request() {
  ProxyStream& stream = *stream_;
  stream.attempt.id = 1;  // the request is on its way (not waiting for the connection)
  std::string head;
  head.append(stream.method).append(" ").append(stream.path).append(" HTTP/1.1\r\nhost: ");
  head.append(stream.authority).append("\r\n");
  bool has_length = false;
  for (const Header& header : stream.request_headers) {
    if (is_connection_specific(header.name, header.value) || header.name == "te") continue;
    if (header.name == "content-length") has_length = true;
    head.append(header.name).append(": ").append(header.value).append("\r\n");
  }
  chunked_request_ = false;
  if (!has_length) {
    bool whole = stream.request_ended && stream.request_trailers.empty();
    if (whole && (!stream.request_body.empty() || expects_body(stream.method))) {
      head += "content-length: " + std::to_string(stream.request_body.size()) + "\r\n";
    } else if (!whole) {
      head += "transfer-encoding: chunked\r\n";
      chunked_request_ = true;
    }
  }
  head += "\r\n";
  write_buffer_ = std::move(head);
  head_written_ = true;
  spdlog::debug("{}{} -> {} {}", stream.log_prefix(), log_prefix_, stream.method, stream.path);
  write_more();
}

void H1ClientConnection::write_more() {
  if (writing_ || state_ != State::kConnected || !stream_ || !head_written_) return;
  ProxyStream& stream = *stream_;
  size_t body_bytes = 0;
  if (!request_done_) {
    uint8_t chunk[kMaxWriteBytes];
    body_bytes = stream.request_body.read(chunk, sizeof(chunk));
    if (body_bytes > 0) {
      stream.touch();
      stream.record_sent(chunk, body_bytes);
      if (chunked_request_) {
        append_chunk(write_buffer_, chunk, body_bytes);
      } else {
        write_buffer_.append(reinterpret_cast<const char*>(chunk), body_bytes);
      }
    }
    if (stream.request_ended && stream.request_body.empty()) {
      if (chunked_request_) append_last_chunk(write_buffer_, &stream.request_trailers);
      request_done_ = true;
    }
  }
  if (write_buffer_.empty()) return;
  writing_ = true;
  auto self = this->self<H1ClientConnection>();
  transport_->async_write(boost::asio::buffer(write_buffer_), [self, body_bytes](boost::system::error_code ec, size_t) {
    self->writing_ = false;
    self->write_buffer_.clear();
    if (self->state_ != State::kConnected) return;
    if (ec) {
      self->close("write to pod failed: " + ec.message());
      return;
    }
    if (self->stream_ && body_bytes > 0) {
      if (auto downstream = self->stream_->downstream()) {
        downstream->request_body_consumed(*self->stream_, self->stream_->request_credit(body_bytes));
      }
    }
    if (self->request_done_) {
      self->maybe_finish_exchange();
    } else {
      self->write_more();
    }
  });
}

void H1ClientConnection::do_read() {
  if (reading_ || pod_closed_ || state_ != State::kConnected) return;
  if (read_begin_ == read_end_) read_begin_ = read_end_ = 0;
  if (read_end_ == read_buffer_.size()) {
    if (read_begin_ == 0) {
      if (!parser_ || parser_->head_done()) return;  // full of body the stream has no room for: back-pressure
      // Beast needs a whole head in one buffer.
      if (read_buffer_.size() >= options_.max_header_bytes + 16 * 1024) {
        close("pod sent a response head larger than " + std::to_string(options_.max_header_bytes) + " bytes");
        return;
      }
      read_buffer_.resize(read_buffer_.size() * 2);
    }
  }
  if (read_end_ == read_buffer_.size()) {
    std::copy(read_buffer_.begin() + static_cast<long>(read_begin_), read_buffer_.begin() + static_cast<long>(read_end_),
              read_buffer_.begin());
    read_end_ -= read_begin_;
    read_begin_ = 0;
  }
  reading_ = true;
  auto self = this->self<H1ClientConnection>();
  transport_->async_read_some(
      boost::asio::buffer(read_buffer_.data() + read_end_, read_buffer_.size() - read_end_),
      [self](boost::system::error_code ec, size_t n) {
        self->reading_ = false;
        if (self->state_ != State::kConnected) return;
        if (ec) {
          bool eof = ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated;
          if (eof && self->stream_ && self->parser_ && self->head_delivered_) {
            // The response may still be whole: the bytes not parsed yet (the
            // client is slow) go first, then the close ends the body.
            self->pod_closed_ = true;
            self->parse();
            return;
          }
          std::string reason = eof ? "pod closed the connection" : ec.message();
          if (self->tls_ && self->exchanges_ == 0 && self->response_bytes_ == 0 && !eof) {
            reason = tls_handshake_failure(*self->tls_, self->address_, ec.message());
          }
          self->close(reason);
          return;
        }
        self->read_end_ += n;
        self->response_bytes_ += n;
        if (!self->stream_) {
          // Bytes on an idle connection answer no request: the pod is confused.
          self->read_begin_ = self->read_end_ = 0;
          self->close("pod sent " + std::to_string(n) + " bytes without a request");
          return;
        }
        self->parse();
        self->do_read();
      });
}

void H1ClientConnection::parse() {
  while (stream_ && parser_ && state_ == State::kConnected && read_begin_ < read_end_ && !parser_->done()) {
    ProxyStream* stream = stream_;
    auto guard = stream->shared_from_this();  // the client may let go of it while it is fed
    size_t room = SIZE_MAX;
    if (head_delivered_) {
      size_t queued = stream->response.body.size();
      room = queued >= options_.stream_window ? 0 : options_.stream_window - queued;
      if (room == 0) return;  // the client has not taken what it has: wait
    }
    boost::beast::error_code ec;
    size_t used = parser_->feed(*stream, read_buffer_.data() + read_begin_, read_end_ - read_begin_, room, ec);
    read_begin_ += used;
    if (stream_ != stream) return;  // refused (a message limit): the attempt was cancelled
    if (ec == http::error::need_more) break;
    if (ec) {
      if (stats_) bump(stats_->upstream_protocol_errors);
      close("pod sent a malformed HTTP/1.1 response: " + ec.message());
      return;
    }
    if (parser_->head_done() && !head_delivered_) {
      int status = parser_->status();
      if (status >= 100 && status < 200) {
        // An interim response (100 Continue, 103 Early Hints): the real one follows.
        if (status == 101) {
          close("pod switched protocols (101), which grpc-ingress does not proxy");
          return;
        }
        parser_.emplace(options_.max_header_bytes, stream->method == "HEAD");
        continue;
      }
      deliver_head();
      if (!stream_) return;
      continue;
    }
    if (parser_->body_taken() > 0 || parser_->done()) {
      if (parser_->done()) stream->response.ended = true;
      if (auto downstream = stream->downstream()) downstream->response_data_ready(*stream);
    }
    if (used == 0) break;
  }
  if (stream_ && parser_ && parser_->done()) {
    maybe_finish_exchange();
  } else if (pod_closed_ && stream_ && parser_ && read_begin_ == read_end_ && state_ == State::kConnected) {
    finish_at_close();
  }
}

void H1ClientConnection::finish_at_close() {
  // A body that runs until the connection closes ends here; any other is cut short.
  boost::beast::error_code ec;
  parser_->feed_eof(ec);
  if (ec || !parser_->done()) {
    close("pod closed the connection in the middle of its response");
    return;
  }
  auto guard = stream_->shared_from_this();
  stream_->response.ended = true;
  if (auto downstream = stream_->downstream()) downstream->response_data_ready(*stream_);
  request_done_ = true;  // nothing more can be sent anyway
  if (stream_) end_exchange();
  close("pod closed the connection after its response");
}

void H1ClientConnection::deliver_head() {
  head_delivered_ = true;
  // false: the router retries elsewhere and cancelled this exchange, which
  // closed the connection (HTTP/1.1 cannot abandon one response).
  UpstreamConnection::deliver_head(*stream_, parser_->done());
}

void H1ClientConnection::end_exchange() {
  ProxyStream* stream = stream_;
  stream_ = nullptr;
  if (stream) stream->detach_upstream();
}

void H1ClientConnection::maybe_finish_exchange() {
  // A write still in flight finishes first (its completion comes back here).
  if (writing_ || !stream_ || !parser_ || !parser_->done()) return;
  if (!request_done_) {
    // The pod answered before taking the whole request body: this
    // connection's framing is lost to the rest of it.
    end_exchange();
    close("pod answered before the request body was sent");
    return;
  }
  bool keep = parser_->keep_alive() && !draining_ && !pod_closed_;
  end_exchange();
  parser_.reset();
  ++exchanges_;
  if (!keep) {
    close("pod asked to close the connection");
    return;
  }
  if (read_begin_ < read_end_) {
    close("pod sent bytes after its response");
    return;
  }
  idle_timeout_tick();
}

void H1ClientConnection::idle_timeout_tick() {
  idle_timer_.expires_after(options_.idle_timeout);
  idle_timer_.async_wait(recycled([this, weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || stream_ || state_ == State::kClosed) return;
    spdlog::debug("{} idle for {} ms; closing", log_prefix_, options_.idle_timeout.count());
    close("idle");
  }));
}

void H1ClientConnection::request_data_ready(ProxyStream& stream) {
  if (stream_ == &stream) write_more();
}

void H1ClientConnection::response_body_consumed(ProxyStream& stream, size_t) {
  if (stream_ != &stream) return;
  parse();
  do_read();
}

void H1ClientConnection::cancel(ProxyStream& stream) {
  if (stream_ != &stream) return;
  // HTTP/1.1 cannot stop one request: the connection goes with it. The
  // stream is the caller's to answer.
  end_exchange();
  close("request cancelled");
}

void H1ClientConnection::drain() {
  draining_ = true;
  if (!stream_) close("drained");
}

void H1ClientConnection::close(const std::string& reason) {
  if (state_ == State::kClosed) return;
  bool was_connected = state_ == State::kConnected;
  state_ = State::kClosed;
  connecting_ = false;
  spdlog::debug("{} closed: {}", log_prefix_, reason);
  if (connector_) connector_->cancel();
  idle_timer_.cancel();
  if (transport_) transport_->close();
  if (was_connected && stats_) bump(stats_->upstream_connections, int64_t{-1});
  auto self = shared_from_this();  // the pool lets go of it here
  leave_pool();

  ProxyStream* stream = stream_;
  stream_ = nullptr;
  if (!stream) return;
  bool tls_refused = tls_ && exchanges_ == 0 && response_bytes_ == 0 && reason.starts_with("TLS handshake");
  if (!was_connected || tls_refused) {
    if (stream->cluster_stats && !stream->closed && !stream->response.ended) {
      bump(stream->cluster_stats->connect_failures);
    }
    fail_stream(*stream, reason, UpstreamFailure::kConnectFailed);
    return;
  }
  // A kept-alive connection the pod closed as we reused it: it never read
  // the request (the usual keep-alive race), so another connection may take it.
  bool stale = !head_delivered_ && exchanges_ > 0 && response_bytes_ == 0;
  fail_stream(*stream, "connection to pod " + address_ + " lost: " + reason,
              stale ? UpstreamFailure::kStale : UpstreamFailure::kReset);
}

}  // namespace grpc_ingress
