#include "dataplane/upstream/h2_client_connection.h"

#include "dataplane/h2_headers.h"
#include "dataplane/nghttp2_memory.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <nghttp2/nghttp2.h>
#include <spdlog/spdlog.h>

#include <charconv>

namespace grpc_ingress {
namespace {

H2ClientConnection* self(void* user_data) { return static_cast<H2ClientConnection*>(user_data); }

std::string_view view(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

bool is_trailers(const nghttp2_frame* frame) { return frame->headers.cat == NGHTTP2_HCAT_HEADERS; }

int on_begin_headers_cb(nghttp2_session*, const nghttp2_frame*, void*) { return 0; }

int on_header_cb(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                 const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  return self(user_data)->on_header(frame->hd.stream_id, is_trailers(frame), view(name, namelen),
                                    view(value, valuelen));
}

int on_frame_recv_cb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      return self(user_data)->on_headers_complete(frame->hd.stream_id, is_trailers(frame), end_stream);
    case NGHTTP2_DATA:
      return end_stream ? self(user_data)->on_data_end(frame->hd.stream_id) : 0;
    case NGHTTP2_GOAWAY:
      self(user_data)->on_goaway(frame->goaway.last_stream_id);
      return 0;
    default:
      return 0;
  }
}

int on_data_chunk_recv_cb(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                          size_t len, void* user_data) {
  return self(user_data)->on_data(stream_id, data, len);
}

int on_stream_close_cb(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  return self(user_data)->on_stream_close(stream_id, error_code);
}

ssize_t read_request_body_cb(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                             uint32_t* data_flags, nghttp2_data_source*, void* user_data) {
  return self(user_data)->read_request_body(stream_id, buf, length, data_flags);
}

nghttp2_session_callbacks* client_callbacks() {
  static nghttp2_session_callbacks* callbacks = [] {
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close_cb);
    return cbs;
  }();
  return callbacks;
}

}  // namespace

H2ClientConnection::H2ClientConnection(boost::asio::io_context& io, Endpoint endpoint,
                                       const UpstreamOptions& options, std::optional<UpstreamTlsTarget> tls,
                                       UpstreamHandlers handlers, OnClosed on_closed, WorkerStats* stats)
    : UpstreamConnection(io, std::move(endpoint), options, std::move(tls), "U", std::move(handlers),
                         std::move(on_closed), stats),
      keepalive_timer_(io) {}

H2ClientConnection::~H2ClientConnection() {
  // Closed connections hold no stream; this covers one that never closed.
  for (ProxyStream* stream : pending_) stream->detach_upstream();
  for (ProxyStream* stream : streams_.all()) stream->detach_upstream();
  if (session_) nghttp2_session_del(session_);
}

void H2ClientConnection::on_connected(Transport transport) {
  transport_.emplace(std::move(transport));

  nghttp2_option* option;
  nghttp2_option_new(&option);
  // We open the window only when the client has taken the bytes: back-pressure.
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_option_set_peer_max_concurrent_streams(option, 100);
  nghttp2_option_set_no_closed_streams(option, 1);  // kept only for priorities, which we never send
  int rv = nghttp2_session_client_new3(&session_, client_callbacks(), this, option, nghttp2_memory());
  nghttp2_option_del(option);
  if (rv != 0) {
    close(std::string("cannot create HTTP/2 session: ") + nghttp2_strerror(rv));
    return;
  }
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options_.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(options_.max_header_bytes)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<int32_t>(options_.connection_window));
  state_ = State::kConnected;
  if (stats_) bump(stats_->upstream_connections, int64_t{1});
  spdlog::debug("{} connected", log_prefix_);

  auto waiting = std::move(pending_);
  pending_.clear();
  for (ProxyStream* stream : waiting) {
    stream->set_pending(false);
    start_stream(*stream);
  }
  do_read();
  flush();
  keepalive_tick();
}

void H2ClientConnection::keepalive_tick() {
  if (state_ != State::kConnected) return;
  if (ping_outstanding_ && reads_ == reads_at_ping_) {
    close("pod did not answer a keepalive PING within " +
          std::to_string(options_.keepalive_interval.count()) + " ms");
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (streams_.empty() && pending_.empty() && now - idle_since_ >= options_.idle_timeout && !draining_) {
    spdlog::debug("{} idle for {} ms; closing", log_prefix_, options_.idle_timeout.count());
    draining_ = true;
    leave_pool();  // out of the pool first: no new stream may pick it
    maybe_finish_drain();
    return;
  }
  // PING only a connection that was silent for a whole interval, so a gRPC
  // server's ping-abuse policy (no more than one PING per 5 min without data)
  // is not tripped by busy connections.
  if (reads_ == reads_at_tick_) {
    nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
    ping_outstanding_ = true;
    reads_at_ping_ = reads_;
    schedule_flush();
  }
  reads_at_tick_ = reads_;
  auto tick = std::min(options_.keepalive_interval, options_.idle_timeout);
  keepalive_timer_.expires_after(tick);
  keepalive_timer_.async_wait([weak = weak_from_this(), this](boost::system::error_code ec) {
    auto self_ptr = weak.lock();
    if (!ec && self_ptr) keepalive_tick();
  });
}

bool H2ClientConnection::accepting_streams() const {
  if (state_ == State::kClosed || draining_ || goaway_received_) return false;
  uint32_t limit = 100;  // until the pod's SETTINGS arrive
  if (session_) {
    limit = nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  }
  return stream_count() < limit;
}

void H2ClientConnection::start(ProxyStream& stream) {
  if (state_ == State::kConnected) {
    start_stream(stream);
    schedule_flush();
  } else {
    stream.set_pending(true);
    pending_.push_back(&stream);
  }
}

void H2ClientConnection::start_stream(ProxyStream& stream) {
  NvList nva;
  nva.add(":method", stream.method);
  nva.add(":scheme", stream.scheme.empty() ? std::string_view("http") : std::string_view(stream.scheme));
  nva.add(":authority", stream.authority);
  nva.add(":path", stream.path);
  for (const Header& header : stream.request_headers) {
    if (!is_connection_specific(header.name, header.value)) nva.add(header.name, header.value);
  }
  nghttp2_data_provider provider{};
  provider.read_callback = read_request_body_cb;
  bool has_body = !(stream.request_ended && stream.request_body.empty() && stream.request_trailers.empty());
  int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), has_body ? &provider : nullptr,
                                      &stream);
  if (id < 0) {
    fail_stream(stream, std::string("cannot start stream to pod: ") + nghttp2_strerror(id), UpstreamFailure::kRefused);
    return;
  }
  stream.attempt.id = id;
  streams_.add(&stream);
  spdlog::debug("{}{} -> {} stream {}", stream.log_prefix(), log_prefix_, stream.path, id);
}

ProxyStream* H2ClientConnection::find(int32_t stream_id) {
  return static_cast<ProxyStream*>(nghttp2_session_get_stream_user_data(session_, stream_id));
}

void H2ClientConnection::forget(int32_t stream_id, ProxyStream& stream) {
  nghttp2_session_set_stream_user_data(session_, stream_id, nullptr);
  streams_.remove(stream);
  if (streams_.empty()) idle_since_ = std::chrono::steady_clock::now();
}

long H2ClientConnection::read_request_body(int32_t stream_id, uint8_t* buf, size_t length,
                                           uint32_t* flags) {
  ProxyStream* stream = find(stream_id);
  if (!stream) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  size_t n = stream->request_body.read(buf, length);
  if (n > 0) {
    stream->touch();
    stream->record_sent(buf, n);
    if (auto downstream = stream->downstream()) downstream->request_body_consumed(*stream, stream->request_credit(n));
  }
  if (stream->request_body.empty() && stream->request_ended) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!stream->request_trailers.empty()) {
      NvList trailers;
      for (const Header& h : stream->request_trailers) trailers.add(h.name, h.value);
      if (nghttp2_submit_trailer(session_, stream_id, trailers.data(), trailers.size()) == 0) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
    }
    return static_cast<long>(n);
  }
  if (n == 0) return NGHTTP2_ERR_DEFERRED;
  return static_cast<long>(n);
}

int H2ClientConnection::on_header(int32_t stream_id, bool trailers, std::string_view name,
                                  std::string_view value) {
  ProxyStream* stream = find(stream_id);
  if (!stream) return 0;
  header_bytes_ += name.size() + value.size() + 32;
  if (header_bytes_ > options_.max_header_bytes) {
    spdlog::warn("{}{} pod sent more than {} bytes of headers; resetting", stream->log_prefix(),
                 log_prefix_, options_.max_header_bytes);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  if (trailers && stream->response.status >= 200) {
    stream->response.trailers.push_back({name, value});
    return 0;
  }
  if (name == ":status") {
    int status = 0;
    std::from_chars(value.data(), value.data() + value.size(), status);
    stream->response.status = status;
    stream->response.headers.clear();
  } else if (!name.starts_with(':') && !is_connection_specific(name, value)) {
    stream->response.headers.push_back({name, value});
  }
  return 0;
}

int H2ClientConnection::on_headers_complete(int32_t stream_id, bool trailers, bool end_stream) {
  header_bytes_ = 0;
  ProxyStream* stream = find(stream_id);
  if (!stream || stream->closed) return 0;
  if (trailers && stream->response_started) {
    stream->trailers_into_body();
    stream->response.ended = true;
    if (auto downstream = stream->downstream()) downstream->response_data_ready(*stream);
    return 0;
  }
  if (stream->response.status < 200) return 0;  // 1xx: wait for the final response
  deliver_head(*stream, end_stream);  // false: retried elsewhere, and forgotten here
  return 0;
}

int H2ClientConnection::on_data(int32_t stream_id, const uint8_t* data, size_t len) {
  // Isolation: the connection window comes back as soon as the bytes are held
  // for the client (the stream's window bounds them), so a client that stops
  // reading stalls its own stream, never the pod's other streams.
  nghttp2_session_consume_connection(session_, len);
  ProxyStream* stream = find(stream_id);
  if (!stream || stream->closed) {
    // Nobody will read these bytes: give the stream's window back too.
    nghttp2_session_consume_stream(session_, stream_id, len);
    return 0;
  }
  stream->touch();
  if (!stream->take_response_body(data, len)) {
    // Refused (a message limit): the stream answered and cancelled this attempt.
    nghttp2_session_consume_stream(session_, stream_id, len);
    return 0;
  }
  if (auto downstream = stream->downstream()) downstream->response_data_ready(*stream);
  return 0;
}

int H2ClientConnection::on_data_end(int32_t stream_id) {
  ProxyStream* stream = find(stream_id);
  if (!stream || stream->closed) return 0;
  stream->response.ended = true;
  if (auto downstream = stream->downstream()) downstream->response_data_ready(*stream);
  return 0;
}

int H2ClientConnection::on_stream_close(int32_t stream_id, uint32_t error_code) {
  if (error_code != NGHTTP2_NO_ERROR && stats_) bump(stats_->upstream_resets[reset_reason_slot(error_code)]);
  ProxyStream* stream = find(stream_id);
  if (stream) {
    forget(stream_id, *stream);
    if (stream->response.ended) {
      stream->detach_upstream();
    } else if (error_code == NGHTTP2_REFUSED_STREAM) {
      fail_stream(*stream, "pod " + address_ + " refused the stream", UpstreamFailure::kRefused);
    } else {
      fail_stream(*stream, "pod " + address_ + " reset the stream (" + nghttp2_http2_strerror(error_code) + ")",
                  UpstreamFailure::kReset);
    }
  }
  maybe_finish_drain();
  return 0;
}

void H2ClientConnection::on_goaway(int32_t last_stream_id) {
  goaway_received_ = true;
  spdlog::debug("{} pod sent GOAWAY (last stream {})", log_prefix_, last_stream_id);
}

void H2ClientConnection::request_data_ready(ProxyStream& stream) {
  if (state_ != State::kConnected || stream.attempt.id < 0) return;
  nghttp2_session_resume_data(session_, stream.attempt.id);
  schedule_flush();
}

void H2ClientConnection::response_body_consumed(ProxyStream& stream, size_t bytes) {
  if (state_ != State::kConnected || stream.attempt.id < 0) return;
  bytes = stream.response_credit(bytes);
  nghttp2_session_consume_stream(session_, stream.attempt.id, bytes);
  schedule_flush();
}

void H2ClientConnection::cancel(ProxyStream& stream) {
  if (auto it = std::find(pending_.begin(), pending_.end(), &stream); it != pending_.end()) {
    pending_.erase(it);
  } else if (streams_.contains(stream)) {
    forget(stream.attempt.id, stream);
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.attempt.id, NGHTTP2_CANCEL);
    schedule_flush();
  }
  stream.detach_upstream();
  maybe_finish_drain();
}

void H2ClientConnection::drain() {
  if (draining_ || state_ == State::kClosed) return;
  draining_ = true;
  maybe_finish_drain();
}

void H2ClientConnection::maybe_finish_drain() {
  if (!draining_ || state_ == State::kClosed || !streams_.empty() || !pending_.empty()) return;
  if (state_ == State::kConnected) {
    nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);  // GOAWAY
    schedule_flush();  // flush() closes once the GOAWAY is written
  } else {
    close("drained");
  }
}

void H2ClientConnection::close(const std::string& reason) {
  if (state_ == State::kClosed) return;
  bool was_connected = state_ == State::kConnected;
  state_ = State::kClosed;
  connecting_ = false;
  spdlog::debug("{} closed: {}", log_prefix_, reason);
  if (connector_) connector_->cancel();
  keepalive_timer_.cancel();
  if (transport_) transport_->close();
  auto self_ptr = shared_from_this();  // the pool lets go of it below

  // Streams still waiting never reached the pod: another pod may serve them.
  auto waiting = std::move(pending_);
  pending_.clear();
  auto running = streams_.take_all();
  // Held while each is failed in turn: telling one may end another's client.
  std::vector<std::shared_ptr<ProxyStream>> held;
  held.reserve(waiting.size() + running.size());
  for (ProxyStream* stream : waiting) held.push_back(stream->shared_from_this());
  for (ProxyStream* stream : running) held.push_back(stream->shared_from_this());
  for (ProxyStream* stream : waiting) {
    if (!was_connected && stream->cluster_stats) bump(stream->cluster_stats->connect_failures);
    fail_stream(*stream, reason, was_connected ? UpstreamFailure::kRefused : UpstreamFailure::kConnectFailed);
  }
  // Refused at the TLS layer, the pod never saw a request.
  bool refused = refused_by_tls();
  for (ProxyStream* stream : running) {
    if (session_) nghttp2_session_set_stream_user_data(session_, stream->attempt.id, nullptr);
    if (refused && !stream->response.ended && stream->cluster_stats) bump(stream->cluster_stats->connect_failures);
    fail_stream(*stream, refused ? reason : "connection to pod " + address_ + " lost: " + reason,
                refused ? UpstreamFailure::kConnectFailed : UpstreamFailure::kReset);
  }
  if (was_connected && stats_) bump(stats_->upstream_connections, int64_t{-1});
  leave_pool();
}

bool H2ClientConnection::refused_by_tls() const { return tls_ && reads_ == 0; }

std::string H2ClientConnection::read_failure(const boost::system::error_code& ec) const {
  if (ec == boost::asio::error::eof) return "pod closed the connection";
  // TLS 1.3 finishes the client's handshake before the pod has checked our
  // certificate: its refusal arrives as the first read.
  if (refused_by_tls()) return tls_handshake_failure(*tls_, address_, ec.message());
  return ec.message();
}

void H2ClientConnection::do_read() {
  auto self_ptr = self<H2ClientConnection>();
  transport_->async_read_some(
      boost::asio::buffer(read_buffer_), [self_ptr](boost::system::error_code ec, size_t n) {
        if (self_ptr->state_ != State::kConnected) return;
        if (ec) {
          self_ptr->close(self_ptr->read_failure(ec));
          return;
        }
        ++self_ptr->reads_;
        self_ptr->ping_outstanding_ = false;
        ssize_t rv = nghttp2_session_mem_recv(self_ptr->session_, self_ptr->read_buffer_.data(), n);
        if (rv < 0) {
          if (self_ptr->stats_) bump(self_ptr->stats_->upstream_protocol_errors);
          self_ptr->close(std::string("HTTP/2 error from pod: ") + nghttp2_strerror(static_cast<int>(rv)));
          return;
        }
        self_ptr->flush();
        if (self_ptr->state_ == State::kConnected) self_ptr->do_read();
      });
}

void H2ClientConnection::schedule_flush() {
  if (flush_scheduled_ || state_ != State::kConnected) return;
  flush_scheduled_ = true;
  boost::asio::post(io_, recycled([self_ptr = self<H2ClientConnection>()] {
                      self_ptr->flush_scheduled_ = false;
                      self_ptr->flush();
                    }));
}

void H2ClientConnection::flush() {
  if (writing_ || state_ != State::kConnected) return;
  while (write_buffer_.size() < 64 * 1024) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      close(std::string("HTTP/2 send error: ") + nghttp2_strerror(static_cast<int>(n)));
      return;
    }
    if (n == 0) break;
    write_buffer_.append(data, static_cast<size_t>(n));
  }
  if (write_buffer_.empty()) {
    write_buffer_.clear();  // an idle connection holds no write buffer
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
      close("finished");
    }
    return;
  }
  writing_ = true;
  auto self_ptr = self<H2ClientConnection>();
  transport_->async_write(boost::asio::buffer(write_buffer_.view()), [self_ptr](boost::system::error_code ec, size_t) {
    self_ptr->writing_ = false;
    self_ptr->write_buffer_.discard(self_ptr->write_buffer_.size());
    if (ec) {
      self_ptr->close("write to pod failed: " + ec.message());
      return;
    }
    self_ptr->flush();
  });
}

}  // namespace grpc_ingress
