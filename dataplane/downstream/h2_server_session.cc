#include "dataplane/downstream/h2_server_session.h"

#include "dataplane/access_log.h"
#include "dataplane/h2_headers.h"
#include "dataplane/nghttp2_memory.h"
#include "dataplane/worker.h"

#include <boost/asio/post.hpp>
#include <nghttp2/nghttp2.h>
#include <spdlog/spdlog.h>

namespace grpc_ingress {
namespace {

H2ServerSession* self(void* user_data) { return static_cast<H2ServerSession*>(user_data); }

std::string_view view(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

bool is_trailers(const nghttp2_frame* frame) { return frame->headers.cat == NGHTTP2_HCAT_HEADERS; }

int on_begin_frame_cb(nghttp2_session*, const nghttp2_frame_hd* hd, void* user_data) {
  return self(user_data)->on_begin_frame(hd->type, hd->flags, hd->length);
}

int on_begin_headers_cb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  return self(user_data)->on_begin_request(frame->hd.stream_id);
}

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
    case NGHTTP2_DATA: {
      if (frame->hd.flags & NGHTTP2_FLAG_PADDED) {
        int rv = self(user_data)->on_data_frame(frame->hd.flags, frame->hd.length - frame->data.padlen);
        if (rv != 0) return rv;
      }
      return end_stream ? self(user_data)->on_data_end(frame->hd.stream_id) : 0;
    }
    default:
      return 0;
  }
}

int on_frame_send_cb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR) {
    // Also the GOAWAYs libnghttp2 sends by itself (malformed frames, reset floods).
    auto debug = std::string_view(reinterpret_cast<const char*>(frame->goaway.opaque_data), frame->goaway.opaque_data_len);
    self(user_data)->on_error_goaway_sent(frame->goaway.error_code, debug);
    return 0;
  }
  bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && end_stream) {
    return self(user_data)->on_end_stream_sent(frame->hd.stream_id);
  }
  return 0;
}

int on_data_chunk_recv_cb(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                          size_t len, void* user_data) {
  return self(user_data)->on_data(stream_id, data, len);
}

int on_stream_close_cb(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  return self(user_data)->on_stream_close(stream_id, error_code);
}

ssize_t read_response_body_cb(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                              uint32_t* data_flags, nghttp2_data_source*, void* user_data) {
  return self(user_data)->read_response_body(stream_id, buf, length, data_flags);
}

nghttp2_session_callbacks* server_callbacks() {
  static nghttp2_session_callbacks* callbacks = [] {
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, on_begin_frame_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv_cb);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close_cb);
    return cbs;
  }();
  return callbacks;
}

}  // namespace

H2ServerSession::H2ServerSession(Worker& worker, Transport transport, const DownstreamOptions& options,
                                 uint64_t id)
    : worker_(worker),
      transport_(std::move(transport)),
      peer_(worker.peer(id) ? worker.peer(id) : std::make_shared<DownstreamPeer>()),
      options_(options),
      id_(id),
      log_prefix_("[C" + std::to_string(id_) + "]") {}

H2ServerSession::~H2ServerSession() {
  if (session_) nghttp2_session_del(session_);
}

void H2ServerSession::start(std::string_view received) {
  buffers_ = worker_.new_connection_buffers(weak_from_this());
  transport_.set_no_delay();
  spdlog::debug("{} HTTP/2 from {} on worker {}", log_prefix_, transport_.peer(), worker_.index());

  nghttp2_option* option;
  nghttp2_option_new(&option);
  // Window updates are sent only once the pod has taken the bytes: back-pressure.
  nghttp2_option_set_no_auto_window_update(option, 1);
  // PING and SETTINGS acks owed to a client that does not read: NGHTTP2_ERR_FLOODED beyond.
  nghttp2_option_set_max_outbound_ack(option, options_.max_outbound_control_frames);
  // Closed streams are kept only for RFC 7540 priorities, which we ignore:
  // kept, each connection would hold up to a thousand of them.
  nghttp2_option_set_no_closed_streams(option, 1);
  int rv = nghttp2_session_server_new3(&session_, server_callbacks(), this, option, nghttp2_memory());
  nghttp2_option_del(option);
  if (rv != 0) {
    close(std::string("cannot create HTTP/2 session: ") + nghttp2_strerror(rv));
    return;
  }
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options_.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(options_.max_header_bytes)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<int32_t>(options_.connection_window));

  // The rest of the preface (nghttp2 checks it) may still be on its way.
  handle_input(reinterpret_cast<const uint8_t*>(received.data()), received.size());
}

void H2ServerSession::shutdown() {
  if (closed_ || !session_) return;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
  schedule_flush();
}

ProxyStream* H2ServerSession::find(int32_t stream_id) {
  return static_cast<ProxyStream*>(nghttp2_session_get_stream_user_data(session_, stream_id));
}

int H2ServerSession::on_begin_frame(uint8_t type, uint8_t flags, size_t length) {
  switch (type) {
    case NGHTTP2_HEADERS:
    case NGHTTP2_CONTINUATION:
      return count_frame(length == 0);
    case NGHTTP2_DATA:
      // Padding hides an empty payload: those are counted once received (on_data_frame).
      if (flags & NGHTTP2_FLAG_PADDED) return 0;
      return on_data_frame(flags, length);
    default:
      return 0;
  }
}

int H2ServerSession::on_data_frame(uint8_t flags, size_t payload) {
  // An empty DATA frame that ends the stream is how many clients half-close.
  return count_frame(payload == 0 && !(flags & NGHTTP2_FLAG_END_STREAM));
}

int H2ServerSession::count_frame(bool empty) {
  if (!empty) {
    consecutive_empty_frames_ = 0;
    return 0;
  }
  if (++consecutive_empty_frames_ <= options_.max_consecutive_empty_frames) return 0;
  abuse_ = "frames without payload, one after another";
  return NGHTTP2_ERR_CALLBACK_FAILURE;
}

int H2ServerSession::on_begin_request(int32_t stream_id) {
  auto stream = ProxyStream::make(id_, stream_id, weak_from_this(), buffers_);
  stream->downstream_tls = transport_.tls();
  stream->set_peer(peer_);
  nghttp2_session_set_stream_user_data(session_, stream_id, stream.get());
  streams_.add(std::move(stream));
  return 0;
}

int H2ServerSession::on_header(int32_t stream_id, bool trailers, std::string_view name,
                               std::string_view value) {
  ProxyStream* stream = find(stream_id);
  if (!stream) return 0;
  stream->request_header_bytes += name.size() + value.size() + 32;
  if (stream->request_header_bytes > options_.max_header_bytes) {
    spdlog::info("{} request headers over {} bytes; resetting the stream", stream->log_prefix(),
                 options_.max_header_bytes);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  if (trailers) {
    stream->request_trailers.push_back({name, value});
  } else if (name == ":method") {
    stream->method = stream->keep(value);
  } else if (name == ":scheme") {
    stream->scheme = stream->keep(value);
  } else if (name == ":authority") {
    stream->authority = stream->keep(value);
  } else if (name == ":path") {
    stream->path = stream->keep(value);
  } else if (name == "host") {
    if (stream->authority.empty()) stream->authority = stream->keep(value);
  } else if (!name.starts_with(':')) {
    if (name == "content-type") stream->grpc = is_grpc_content_type(value);
    stream->request_headers.push_back({name, value});
  }
  return 0;
}

int H2ServerSession::on_headers_complete(int32_t stream_id, bool trailers, bool end_stream) {
  ProxyStream* stream = find(stream_id);
  if (!stream) return 0;
  if (end_stream) stream->request_ended = true;
  if (trailers) {
    if (UpstreamSide* upstream = stream->upstream()) upstream->request_data_ready(*stream);
    return 0;
  }
  worker_.assign_request_id(*stream);
  worker_.router().dispatch(streams_.owner(*stream));
  return 0;
}

int H2ServerSession::on_data(int32_t stream_id, const uint8_t* data, size_t len) {
  // Isolation: the connection window comes back as soon as the bytes are held
  // (the stream's account bounds them); only the stream's waits for the pod.
  nghttp2_session_consume_connection(session_, len);
  ProxyStream* stream = find(stream_id);
  if (!stream || stream->response.ended) {
    // Nobody will forward these bytes: give the stream's window back too.
    nghttp2_session_consume_stream(session_, stream_id, len);
    return 0;
  }
  stream->bytes_in += len;
  stream->touch();
  if (!stream->take_request_body(data, len)) {
    nghttp2_session_consume_stream(session_, stream_id, len);
    return 0;
  }
  if (UpstreamSide* upstream = stream->upstream()) upstream->request_data_ready(*stream);
  return 0;
}

int H2ServerSession::on_data_end(int32_t stream_id) {
  ProxyStream* stream = find(stream_id);
  if (!stream) return 0;
  stream->request_ended = true;
  if (UpstreamSide* upstream = stream->upstream()) upstream->request_data_ready(*stream);
  return 0;
}

int H2ServerSession::on_end_stream_sent(int32_t stream_id) {
  ProxyStream* stream = find(stream_id);
  // The answer is complete but the client is still sending: tell it to stop
  // (RFC 9113 8.1: RST_STREAM with NO_ERROR).
  if (stream && !stream->request_ended) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

int H2ServerSession::on_stream_close(int32_t stream_id, uint32_t error_code) {
  ProxyStream* attached = find(stream_id);
  if (!attached) return 0;
  nghttp2_session_set_stream_user_data(session_, stream_id, nullptr);
  std::shared_ptr<ProxyStream> stream = streams_.remove(*attached);
  if (!stream) return 0;
  stream->closed = true;
  stream->stop_timers();
  if (error_code != NGHTTP2_NO_ERROR) {
    spdlog::debug("{} closed by client: {}", stream->log_prefix(), nghttp2_http2_strerror(error_code));
    bump(worker_.stats().downstream_resets[reset_reason_slot(error_code)]);
  }
  if (!stream->method.empty()) record_request(*stream, error_code);
  stream->cancel_upstream();
  // Bytes that will never be forwarded; the connection windows they came
  // through were returned when they arrived.
  stream->request_body.clear();
  stream->response.body.clear();
  return 0;
}

long H2ServerSession::read_response_body(int32_t stream_id, uint8_t* buf, size_t length,
                                         uint32_t* flags) {
  ProxyStream* stream = find(stream_id);
  if (!stream) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  size_t n = stream->response.body.read(buf, length);
  stream->bytes_out += n;
  if (n > 0) stream->touch();
  if (UpstreamSide* upstream = stream->upstream(); n > 0 && upstream) upstream->response_body_consumed(*stream, n);
  if (stream->response.body.empty() && stream->response.ended) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!stream->response.trailers.empty()) {
      NvList trailers;
      for (const Header& h : stream->response.trailers) trailers.add(h.name, h.value);
      if (nghttp2_submit_trailer(session_, stream_id, trailers.data(), trailers.size()) == 0) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
    }
    return static_cast<long>(n);
  }
  if (n == 0) return NGHTTP2_ERR_DEFERRED;
  return static_cast<long>(n);
}

void H2ServerSession::response_headers_ready(ProxyStream& stream) {
  if (stream.closed || closed_ || stream.response_started) return;
  stream.response_started = true;
  if (stream.response.ended && stream.deadline_timer) stream.deadline_timer->cancel();
  std::string status = std::to_string(stream.response.status);
  NvList nva;
  nva.add(":status", status);
  for (const Header& h : stream.response.headers) nva.add(h.name, h.value);
  bool headers_only = stream.response.trailers_only || (stream.response.ended && stream.response.body.empty() &&
                                               stream.response.trailers.empty());
  nghttp2_data_provider provider{};
  provider.read_callback = read_response_body_cb;
  int rv = nghttp2_submit_response(session_, stream.downstream_id(), nva.data(), nva.size(),
                                   headers_only ? nullptr : &provider);
  if (rv != 0) {
    spdlog::warn("{} cannot send response headers: {}", stream.log_prefix(), nghttp2_strerror(rv));
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.downstream_id(), NGHTTP2_INTERNAL_ERROR);
  }
  schedule_flush();
}

void H2ServerSession::response_data_ready(ProxyStream& stream) {
  if (stream.closed || closed_ || !stream.response_started) return;
  nghttp2_session_resume_data(session_, stream.downstream_id());
  schedule_flush();
}

void H2ServerSession::request_body_consumed(ProxyStream& stream, size_t bytes) {
  if (stream.closed || closed_) return;
  nghttp2_session_consume_stream(session_, stream.downstream_id(), bytes);
  schedule_flush();
}

void H2ServerSession::reset(ProxyStream& stream, uint32_t h2_error_code) {
  if (stream.closed || closed_) return;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.downstream_id(), h2_error_code);
  schedule_flush();
}

void H2ServerSession::do_read() {
  if (reading_ || closed_) return;
  reading_ = true;
  auto self_ptr = shared_from_this();
  transport_.async_read([self_ptr](boost::system::error_code ec, const uint8_t* data, size_t n) {
    self_ptr->reading_ = false;
    if (self_ptr->closed_) return;
    if (self_ptr->lingering_) {
      if (ec == boost::asio::error::operation_aborted && self_ptr->transport_.tls()) {
        self_ptr->transport_.async_shutdown_send([self_ptr] { self_ptr->close("TLS connection closed"); });
      } else if (ec) {
        self_ptr->close("client closed after GOAWAY");
      } else {
        self_ptr->do_read();  // dropped: the session is over
      }
      return;
    }
    if (ec) {
      self_ptr->close(ec == boost::asio::error::eof ? "client closed" : ec.message());
      return;
    }
    self_ptr->handle_input(data, n);
  });
}

void H2ServerSession::handle_input(const uint8_t* data, size_t n) {
  ssize_t rv = nghttp2_session_mem_recv(session_, data, n);
  if (rv < 0) {
    if (abuse_) {
      terminate(NGHTTP2_ENHANCE_YOUR_CALM, abuse_);
    } else if (rv == NGHTTP2_ERR_FLOODED) {
      terminate(NGHTTP2_ENHANCE_YOUR_CALM, "flood: more than " +
                                               std::to_string(options_.max_outbound_control_frames) +
                                               " PING/SETTINGS acks it does not read, or too many resets");
    } else {
      terminate(NGHTTP2_PROTOCOL_ERROR, nghttp2_strerror(static_cast<int>(rv)));
    }
    return;
  }
  flush();
  if (!closed_) do_read();
}

void H2ServerSession::terminate(uint32_t h2_error_code, const std::string& reason) {
  count_protocol_error(reason, h2_error_code);
  // nghttp2 may have queued its own GOAWAY; the first one queued is sent.
  nghttp2_session_terminate_session(session_, h2_error_code);
  arm_linger_timer();
  flush();  // closes once the GOAWAY is written
}

void H2ServerSession::on_error_goaway_sent(uint32_t h2_error_code, std::string_view debug) {
  error_goaway_sent_ = true;
  count_protocol_error(debug.empty() ? std::string("protocol error") : std::string(debug), h2_error_code);
  arm_linger_timer();
}

void H2ServerSession::count_protocol_error(const std::string& reason, uint32_t h2_error_code) {
  if (protocol_error_counted_) return;
  protocol_error_counted_ = true;
  bump(worker_.stats().downstream_protocol_errors);
  spdlog::info("{} HTTP/2 protocol error from client {}: {}; GOAWAY {}", log_prefix_, transport_.peer(), reason,
               nghttp2_http2_strerror(h2_error_code));
}

void H2ServerSession::arm_linger_timer() {
  if (linger_timer_) return;
  linger_timer_.emplace(transport_.get_executor());
  linger_timer_->expires_after(options_.goaway_linger);
  linger_timer_->async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self_ptr = weak.lock();
    if (ec || !self_ptr) return;
    // A client that has not closed by now (after an error GOAWAY) may not be
    // reading at all: a graceful close would queue our FIN behind bytes it
    // never takes, and the kernel would hold them. Reset instead.
    self_ptr->transport_.abort();
    self_ptr->close(self_ptr->lingering_ ? "closed after GOAWAY" : "GOAWAY not taken in time");
  });
}

void H2ServerSession::linger() {
  // Closing with unread bytes would reset the connection and could destroy
  // the GOAWAY in flight: say we are done sending, read and drop what is
  // left, then close (when the client closes, or at the linger timer).
  if (lingering_) return;
  lingering_ = true;
  arm_linger_timer();
  if (transport_.tls()) {
    // A TLS close_notify cannot go out beside a pending read: cancel it first.
    if (reading_) {
      transport_.cancel();
      return;  // the read's handler shuts down sending
    }
    transport_.async_shutdown_send([self_ptr = shared_from_this()] { self_ptr->close("TLS connection closed"); });
    return;
  }
  transport_.async_shutdown_send([] {});
  do_read();
}

void H2ServerSession::collect_buffering_streams(std::vector<std::shared_ptr<ProxyStream>>& out) {
  for (const auto& stream : streams_.all()) {
    if (stream->buffered_bytes() > 0) out.push_back(stream);
  }
}

void H2ServerSession::schedule_flush() {
  if (flush_scheduled_ || closed_) return;
  flush_scheduled_ = true;
  boost::asio::post(worker_.io(), recycled([self_ptr = shared_from_this()] {
                      self_ptr->flush_scheduled_ = false;
                      self_ptr->flush();
                    }));
}

void H2ServerSession::flush() {
  if (writing_ || closed_) return;
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
    // Nothing left to send: an idle connection holds no write buffer.
    write_buffer_.clear();
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
      if (error_goaway_sent_) {
        linger();
      } else {
        close("done");
      }
    }
    return;
  }
  writing_ = true;
  auto self_ptr = shared_from_this();
  transport_.async_write(boost::asio::buffer(write_buffer_.view()), [self_ptr](boost::system::error_code ec, size_t) {
    self_ptr->writing_ = false;
    self_ptr->write_buffer_.discard(self_ptr->write_buffer_.size());
    if (ec) {
      self_ptr->close("write failed: " + ec.message());
      return;
    }
    self_ptr->flush();
  });
}

void H2ServerSession::close(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  spdlog::debug("{} closed: {}", log_prefix_, reason);
  transport_.close();
  if (linger_timer_) linger_timer_->cancel();
  for (auto& stream : streams_.take_all()) {
    if (session_) nghttp2_session_set_stream_user_data(session_, stream->downstream_id(), nullptr);
    if (!stream->closed && !stream->method.empty()) record_request(*stream, NGHTTP2_CANCEL);
    stream->closed = true;
    stream->stop_timers();
    stream->cancel_upstream();
    stream->request_body.clear();
    stream->response.body.clear();
  }
  worker_.session_closed(id_);
}

}  // namespace grpc_ingress
