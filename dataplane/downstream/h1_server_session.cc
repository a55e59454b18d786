#include "dataplane/downstream/h1_server_session.h"

#include "dataplane/access_log.h"
#include "dataplane/grpc.h"
#include "dataplane/worker.h"

#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>
#include <spdlog/spdlog.h>

namespace grpc_ingress {
namespace {

constexpr size_t kWriteBatch = 64 * 1024;          // response bytes queued per socket write
constexpr auto kLingerTime = std::chrono::seconds(2);  // reading what a closed-on client still sends
constexpr size_t kMaxLingerBytes = 1024 * 1024;
constexpr auto kBusyHold = std::chrono::hours(1);  // the router's stream timers bound a request
constexpr uint32_t kH2Cancel = 0x8;                // how an abandoned request is recorded
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

H1ServerSession::H1ServerSession(Worker& worker, Transport transport, const DownstreamOptions& options,
                                 uint64_t id)
    : worker_(worker),
      transport_(std::move(transport)),
      peer_(worker.peer(id) ? worker.peer(id) : std::make_shared<DownstreamPeer>()),
      options_(options),
      id_(id),
      log_prefix_("[C" + std::to_string(id) + "]"),
      timer_(transport_.get_executor()) {}

H1ServerSession::~H1ServerSession() = default;

void H1ServerSession::start(std::string_view received) {
  buffers_ = worker_.new_connection_buffers(weak_from_this());
  transport_.set_no_delay();
  spdlog::debug("{} HTTP/1.1 from {} on worker {}", log_prefix_, transport_.peer(), worker_.index());
  input_.assign(received);
  next_request();
  process_input();
}

void H1ServerSession::shutdown() {
  draining_ = true;
  if (closed_ || lingering_ || exchange_) return;  // a running request ends with "Connection: close"
  if (buffered() == 0 && !(parser_ && parser_->got_any())) close("shutting down");
}

// ---- timer: the idle timeout before a request head, a hold while a request
// runs (its pending wait keeps the session alive), the linger before close.

void H1ServerSession::arm_timer(TimerPurpose purpose, std::chrono::steady_clock::duration after) {
  timer_purpose_ = purpose;
  timer_.expires_after(after);  // cancels the previous wait
  timer_.async_wait(recycled([self = shared_from_this(), purpose](boost::system::error_code ec) {
    if (ec || self->closed_ || self->timer_purpose_ != purpose) return;
    switch (purpose) {
      case TimerPurpose::kIdle: self->on_idle_timeout(); break;
      case TimerPurpose::kBusy: self->arm_timer(TimerPurpose::kBusy, kBusyHold); break;
      case TimerPurpose::kLinger: self->close("linger time over"); break;
    }
  }));
}

void H1ServerSession::on_idle_timeout() {
  if (exchange_) return;
  if (buffered() == 0 && !(parser_ && parser_->got_any())) {
    close("idle for " + std::to_string(options_.http1_idle_timeout.count()) + " ms");
    return;
  }
  // A request head that never completed (a slow or stuck client).
  spdlog::info("{} request head not complete within {} ms", log_prefix_, options_.http1_idle_timeout.count());
  refuse_more_ = true;
  begin_local_exchange();
  answer_locally(408, "the request head did not arrive within " +
                          std::to_string(options_.http1_idle_timeout.count()) + " ms");
}

// ---- reading requests

void H1ServerSession::next_request() {
  parser_.emplace(options_.max_header_bytes, options_.http1_max_body_bytes);
  arm_timer(TimerPurpose::kIdle, options_.http1_idle_timeout);
}

void H1ServerSession::read_more() {
  if (reading_ || closed_ || read_closed_) return;
  // Back-pressure: a paused body or pipelined requests waiting their turn
  // stop the reads once a head's worth is buffered.
  if (!lingering_ && buffered() >= options_.max_header_bytes + kReadChunk) return;
  reading_ = true;
  transport_.async_read([self = shared_from_this()](boost::system::error_code ec, const uint8_t* data, size_t n) {
    self->reading_ = false;
    if (self->closed_) return;
    if (ec == boost::asio::error::operation_aborted && self->lingering_) {
      self->shut_down_sending();  // the read was cancelled to make way for it
      return;
    }
    if (ec) {
      self->on_read_closed(ec);
      return;
    }
    if (self->lingering_) {
      self->lingered_bytes_ += n;
      if (self->lingered_bytes_ > kMaxLingerBytes) {
        self->close("client kept sending after the last answer");
      } else {
        self->read_more();
      }
      return;
    }
    if (self->input_start_ == self->input_.size()) {
      self->input_.clear();
      self->input_start_ = 0;
    }
    self->input_.append(reinterpret_cast<const char*>(data), n);
    self->process_input();
  });
}

void H1ServerSession::on_read_closed(const boost::system::error_code& ec) {
  read_closed_ = true;
  std::string why = ec == boost::asio::error::eof ? "client closed" : ec.message();
  // A client that half-closes after a complete request still gets its answer.
  if (lingering_ || !exchange_ || !exchange_->request_complete) {
    close(why);
  }
}

void H1ServerSession::consume(size_t n) {
  input_start_ += n;
  if (input_start_ == input_.size()) {
    std::string().swap(input_);  // a kept-alive connection between requests holds no buffer
    input_start_ = 0;
  } else if (input_start_ > 64 * 1024) {
    input_.erase(0, input_start_);
    input_start_ = 0;
  }
}

void H1ServerSession::schedule_input() {
  if (input_scheduled_ || closed_) return;
  input_scheduled_ = true;
  boost::asio::post(worker_.io(), recycled([self = shared_from_this()] {
    self->input_scheduled_ = false;
    if (!self->closed_) self->process_input();
  }));
}

void H1ServerSession::process_input() {
  while (!closed_ && !lingering_ && parser_) {
    ProxyStream* stream = exchange_ ? exchange_->stream.get() : nullptr;
    if (parser_->head_done()) {
      if (stream->response.ended || stream->closed) {
        parser_->set_body_sink(nullptr, 0);  // answered already: nobody will forward the rest
      } else {
        size_t queued = stream->request_body.size();
        if (queued >= options_.stream_window) break;  // the pod has not taken what it has
        parser_->set_body_sink(stream, options_.stream_window - queued);
      }
    }
    if (buffered() == 0) {
      if (read_closed_) close(exchange_ ? "client closed mid-request" : "client closed");
      break;
    }
    uint64_t body_before = parser_->body_bytes();
    boost::beast::error_code ec;
    size_t n = parser_->feed(input_.data() + input_start_, buffered(), ec);
    consume(n);
    if (stream && parser_->body_bytes() > body_before && !stream->response.ended && !stream->closed) {
      stream->bytes_in += parser_->body_bytes() - body_before;
      stream->touch();
      if (UpstreamSide* upstream = stream->upstream()) upstream->request_data_ready(*stream);
    }
    if (ec == boost::beast::http::error::need_more) {
      if (read_closed_) close("client closed mid-request");
      break;
    }
    if (ec) {
      on_parse_error(ec);
      return;
    }
    if (!exchange_ && parser_->head_done()) {
      on_request_head();
      continue;
    }
    if (parser_->done()) {
      on_request_complete();
      break;
    }
    if (n == 0) break;  // the body room is used up
  }
  read_more();
}

void H1ServerSession::on_request_head() {
  H1Request& request = parser_->request();
  auto stream = ProxyStream::make(id_, ++requests_, weak_from_this(), buffers_);
  stream->method = stream->keep(request.method);
  stream->scheme = transport_.tls() ? "https" : "http";
  stream->downstream_tls = transport_.tls();
  stream->set_peer(peer_);
  // HTTP/1.0 may omit Host; HTTP/2 needs an authority: the address it reached.
  stream->authority = stream->keep(request.authority.empty() ? transport_.local() : request.authority);
  stream->path = stream->keep(request.path);
  stream->request_headers = std::move(request.headers);
  stream->grpc = is_grpc_content_type(request.content_type);
  worker_.assign_request_id(*stream);
  exchange_.emplace(Exchange{});  // not emplace(): clang 14 sees no default constructor (CWG 1360)
  exchange_->stream = stream;
  exchange_->version = request.version;
  exchange_->accepts_trailers = request.accepts_trailers;
  exchange_->keep_alive = request.keep_alive;
  arm_timer(TimerPurpose::kBusy, kBusyHold);
  const bool complete = parser_->done();

  if (stream->grpc) {
    // gRPC needs HTTP/2 (trailers, full duplex): say so instead of letting
    // the pod see a request it cannot answer.
    spdlog::debug("{} gRPC request {} over HTTP/1.1 refused", stream->log_prefix(), stream->path);
    std::string message = transport_.tls() ? "gRPC needs HTTP/2: offer ALPN h2 on this port"
                                           : "gRPC needs HTTP/2: use h2c (HTTP/2 with prior knowledge) on this "
                                             "port, or h2 on the TLS port";
    std::string status = std::to_string(static_cast<int>(GrpcStatus::kUnimplemented));
    std::string encoded = percent_encode_grpc_message(message);
    answer_locally(415, message, {{"grpc-status", status}, {"grpc-message", encoded}});
  } else {
    stream->request_ended = complete;
    worker_.router().dispatch(stream);
    if (!complete && request.expect_continue && !stream->response_started) {
      exchange_->send_continue = true;
      schedule_write();
    }
  }
  if (complete) on_request_complete();
}

void H1ServerSession::on_request_complete() {
  parser_.reset();
  if (!exchange_) return;
  exchange_->request_complete = true;
  ProxyStream& stream = *exchange_->stream;
  if (stream.request_ended) return;
  stream.request_ended = true;
  if (UpstreamSide* upstream = stream.upstream()) upstream->request_data_ready(stream);
}

void H1ServerSession::on_parse_error(const boost::beast::error_code& ec) {
  int status = parser_->error_status(ec);
  std::string reason = parser_->error_reason(ec);
  spdlog::info("{} answering {}: {}", log_prefix_, status, reason);
  bump(worker_.stats().downstream_protocol_errors);
  refuse_more_ = true;  // the stream of requests has lost its framing
  if (!exchange_) {
    begin_local_exchange();
    parser_.reset();
    answer_locally(status, reason);
    return;
  }
  parser_.reset();
  ProxyStream& stream = *exchange_->stream;
  if (exchange_->head_written) {
    close("bad request body after the answer began: " + reason);
    return;
  }
  stream.cancel_upstream();
  stream.stop_timers();
  answer_locally(status, reason);
}

void H1ServerSession::begin_local_exchange() {
  auto stream = ProxyStream::make(id_, ++requests_, weak_from_this(), buffers_);
  if (parser_) {
    const H1Request& request = parser_->request();
    stream->method = stream->keep(request.method);
    stream->authority = stream->keep(request.authority);
    stream->path = stream->keep(request.path);
  }
  stream->scheme = transport_.tls() ? "https" : "http";
  stream->downstream_tls = transport_.tls();
  stream->set_peer(peer_);
  exchange_.emplace(Exchange{});
  exchange_->stream = std::move(stream);
  exchange_->keep_alive = false;
  arm_timer(TimerPurpose::kBusy, kBusyHold);
}

void H1ServerSession::answer_locally(int status, const std::string& message, HeaderList extra_headers) {
  ProxyStream& stream = *exchange_->stream;
  stream.grpc = false;  // a plain HTTP answer, logged with its HTTP status
  HeaderList headers = {{"content-type", "text/plain; charset=utf-8"}};
  for (const Header& header : extra_headers) headers.push_back(header);
  stream.response.answer(status, std::move(headers), message + "\n");
  stream.response_started = true;
  schedule_write();
}

// ---- DownstreamSide: the router and the pod's connection report here.

void H1ServerSession::response_headers_ready(ProxyStream& stream) {
  if (closed_ || !exchange_ || exchange_->stream.get() != &stream || stream.response_started) return;
  stream.response_started = true;
  if (stream.response.ended && stream.deadline_timer) stream.deadline_timer->cancel();
  schedule_write();
}

void H1ServerSession::response_data_ready(ProxyStream& stream) {
  if (closed_ || !exchange_ || exchange_->stream.get() != &stream) return;
  schedule_write();
}

void H1ServerSession::request_body_consumed(ProxyStream& stream, size_t) {
  if (closed_ || !exchange_ || exchange_->stream.get() != &stream || !parser_) return;
  schedule_input();  // not from inside the pod connection's callback
}

void H1ServerSession::reset(ProxyStream& stream, uint32_t) {
  if (closed_ || !exchange_ || exchange_->stream.get() != &stream) return;
  if (!exchange_->head_written) {
    // Nothing of the pod's answer reached the client yet: a clean 502.
    stream.cancel_upstream();
    answer_locally(502, "the pod's answer broke off before it began");
    return;
  }
  // HTTP/1.1 cannot reset one response: closing is how the client learns
  // that the body is incomplete.
  close("the pod's answer broke off");
}

// ---- writing the response

void H1ServerSession::schedule_write() {
  if (write_scheduled_ || closed_) return;
  write_scheduled_ = true;
  boost::asio::post(worker_.io(), recycled([self = shared_from_this()] {
    self->write_scheduled_ = false;
    self->write();
  }));
}

void H1ServerSession::write() {
  if (writing_ || closed_ || !exchange_) return;
  Exchange& exchange = *exchange_;
  ProxyStream& stream = *exchange.stream;
  if (exchange.send_continue) {
    exchange.send_continue = false;
    if (!stream.response_started) output_ += kContinue;
  }
  if (stream.response_started) {
    if (!exchange.head_written) queue_head(exchange);
    queue_body(exchange);
  }
  if (output_.empty()) {
    if (exchange.body_written) finish_exchange();
    return;
  }
  writing_ = true;
  transport_.async_write(boost::asio::buffer(output_), [self = shared_from_this()](boost::system::error_code ec,
                                                                                    size_t) {
    self->writing_ = false;
    self->output_.clear();
    if (self->closed_) return;
    if (ec) {
      self->close("write failed: " + ec.message());
      return;
    }
    self->write();
  });
}

void H1ServerSession::queue_head(Exchange& exchange) {
  ProxyStream& stream = *exchange.stream;
  // A finished answer goes out with its length, unless it has trailers for
  // a client that takes them: only a chunked body can carry those.
  std::optional<uint64_t> complete_body;
  bool trailers_wanted = exchange.accepts_trailers && !stream.response.trailers.empty();
  if (stream.response.ended && !trailers_wanted) complete_body = stream.response.body.size();
  H1ResponseHead head = frame_response(stream.method, exchange.version, stream.response.status, complete_body,
                                       content_length_of(stream.response.headers));
  // A request still arriving when its answer starts (an early answer, a
  // refused body) leaves the connection without framing: close after it.
  if (!exchange.keep_alive || !exchange.request_complete || draining_ || refuse_more_) head.keep_alive = false;
  exchange.keep_alive = head.keep_alive;
  exchange.framing = head.framing;
  exchange.remaining = head.content_length;
  output_ += serialize_response_head(head, stream.response.headers);
  exchange.head_written = true;
}

void H1ServerSession::queue_body(Exchange& exchange) {
  ProxyStream& stream = *exchange.stream;
  uint8_t chunk[16 * 1024];
  while (output_.size() < kWriteBatch && !stream.response.body.empty()) {
    size_t n = stream.response.body.read(chunk, std::min(sizeof(chunk), kWriteBatch - output_.size()));
    stream.bytes_out += n;
    stream.touch();
    if (UpstreamSide* upstream = stream.upstream()) upstream->response_body_consumed(stream, n);
    switch (exchange.framing) {
      case H1Framing::kNone:
        break;  // a HEAD, 204 or 304 answer has no body to send
      case H1Framing::kChunked:
        append_chunk(output_, chunk, n);
        break;
      case H1Framing::kUntilClose:
        output_.append(reinterpret_cast<const char*>(chunk), n);
        break;
      case H1Framing::kContentLength: {
        size_t fits = static_cast<size_t>(std::min<uint64_t>(n, exchange.remaining));
        output_.append(reinterpret_cast<const char*>(chunk), fits);
        exchange.remaining -= fits;
        if (fits < n) exchange.broken = true;  // more than the pod's content-length said
        break;
      }
    }
  }
  if (!stream.response.ended || !stream.response.body.empty() || exchange.body_written) return;
  exchange.body_written = true;
  if (exchange.framing == H1Framing::kChunked) {
    // Trailers only for a client that said it takes them (TE: trailers).
    bool trailers = exchange.accepts_trailers && !stream.response.trailers.empty();
    append_last_chunk(output_, trailers ? &stream.response.trailers : nullptr);
  } else if (exchange.framing == H1Framing::kContentLength && exchange.remaining > 0) {
    exchange.broken = true;  // fewer bytes than promised: only a close tells the client
  }
}

void H1ServerSession::finish_exchange() {
  Exchange exchange = std::move(*exchange_);
  exchange_.reset();
  ProxyStream& stream = *exchange.stream;
  if (!stream.method.empty()) record_request(stream, 0);
  release(stream);
  if (exchange.broken) {
    close("the pod's body did not match its content-length");
    return;
  }
  if (!exchange.keep_alive || draining_ || refuse_more_ || (read_closed_ && buffered() == 0)) {
    linger_then_close("answer complete, not keeping the connection");
    return;
  }
  next_request();
  process_input();
}

void H1ServerSession::release(ProxyStream& stream) {
  stream.closed = true;
  stream.stop_timers();
  stream.cancel_upstream();
  stream.request_body.clear();
  stream.response.body.clear();
}

// ---- closing

void H1ServerSession::linger_then_close(const std::string& reason) {
  if (read_closed_) {
    close(reason);
    return;
  }
  // Closing with unread bytes would reset the connection and could destroy
  // the answer in flight: say we are done sending, read what is left, then
  // close (after the client closes, or the linger time).
  spdlog::debug("{} {}; lingering", log_prefix_, reason);
  parser_.reset();
  lingering_ = true;
  input_.clear();
  input_start_ = 0;
  arm_timer(TimerPurpose::kLinger, kLingerTime);
  if (reading_ && transport_.tls()) {
    // A TLS close_notify cannot go out beside a pending read: cancel it first.
    transport_.cancel();
    return;
  }
  shut_down_sending();
}

void H1ServerSession::shut_down_sending() {
  if (transport_.tls()) {
    // close_notify, then (bounded by the linger timer) the client's.
    transport_.async_shutdown_send([self = shared_from_this()] { self->close("TLS connection closed"); });
    return;
  }
  transport_.async_shutdown_send([] {});
  read_more();
}

void H1ServerSession::close(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  spdlog::debug("{} closed: {}", log_prefix_, reason);
  timer_.cancel();
  transport_.close();
  parser_.reset();
  if (exchange_) {
    ProxyStream& stream = *exchange_->stream;
    if (!stream.method.empty()) record_request(stream, kH2Cancel);
    release(stream);
    exchange_.reset();
  }
  worker_.session_closed(id_);
}

}  // namespace grpc_ingress
