// http-pod's HTTP/2 side: a libnghttp2 server session driven by Asio reads
// and writes; ?delay_ms answers wait on a timer without holding up the other
// streams of the connection.

#include "tests/pods/http_pod_answer.h"
#include "tests/pods/http_pod_sessions.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <vector>

namespace grpc_ingress::testing::http_pod {
namespace {

namespace net = boost::asio;

constexpr size_t kMaxWriteBatch = 256 * 1024;  // bytes taken from nghttp2 per socket write
constexpr uint32_t kMaxConcurrentStreams = 1000;

template <class Stream>
class H2Session : public std::enable_shared_from_this<H2Session<Stream>> {
 public:
  H2Session(Stream stream, uint64_t connection) : stream_(std::move(stream)), connection_(connection) {}
  ~H2Session() {
    if (session_) nghttp2_session_del(session_);
  }

  void start(const std::string& already_read) {
    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    int rv = nghttp2_session_server_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    if (rv != 0) return close();
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 1);
    if (!receive(reinterpret_cast<const uint8_t*>(already_read.data()), already_read.size())) return;
    flush();
    read();
  }

 private:
  struct StreamState {
    ReceivedRequest request;
    Answer answer;
    size_t sent = 0;
    int chunks_left = 0;  // streaming: pieces still to send, one DATA frame or more each
    int piece_left = 0;   // bytes of the current piece still to send
    std::unique_ptr<net::steady_timer> delay;
  };

  // nghttp2 calls back only inside receive() and flush(), while a handler holds a reference.
  static H2Session& of(void* user_data) { return *static_cast<H2Session*>(user_data); }

  bool receive(const uint8_t* data, size_t size) {
    if (size == 0) return true;
    ssize_t rv = nghttp2_session_mem_recv(session_, data, size);
    if (rv < 0) {
      std::cerr << "http-pod " << pod_name() << ": C" << connection_ << " HTTP/2 error: " << nghttp2_strerror(int(rv))
                << "\n";
      flush();  // the GOAWAY nghttp2 queued, if any
      close();
      return false;
    }
    return true;
  }

  void read() {
    stream_.async_read_some(net::buffer(read_buffer_), [self = this->shared_from_this()](auto ec, size_t size) {
      if (ec || self->closed_) return self->close();
      if (!self->receive(self->read_buffer_.data(), size)) return;
      self->flush();
      if (!self->closed_) self->read();
    });
  }

  // Writes what nghttp2 has queued, one batch at a time; closes when the session is done.
  void flush() {
    if (writing_ || closed_) return;
    write_buffer_.clear();
    while (write_buffer_.size() < kMaxWriteBatch) {
      const uint8_t* data;
      ssize_t size = nghttp2_session_mem_send(session_, &data);
      if (size < 0) return close();
      if (size == 0) break;
      write_buffer_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(size));
    }
    if (write_buffer_.empty()) {
      if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) close();
      return;
    }
    writing_ = true;
    net::async_write(stream_, net::buffer(write_buffer_), [self = this->shared_from_this()](auto ec, size_t) {
      self->writing_ = false;
      if (ec) return self->close();
      self->flush();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    streams_.clear();  // cancels the delay timers
    boost::system::error_code ignored;
    socket_of(stream_).close(ignored);
  }

  // The request on `stream_id` is complete: answer now or after its ?delay_ms.
  void request_complete(int32_t stream_id) {
    StreamState& state = streams_[stream_id];
    uint64_t number = ++requests_;
    auto delay = requested_delay(state.request.path);
    if (delay.count() == 0) return submit_answer(stream_id, number);
    state.delay = std::make_unique<net::steady_timer>(stream_.get_executor(), delay);
    state.delay->async_wait([self = this->shared_from_this(), stream_id, number](auto ec) {
      if (ec || self->closed_) return;
      self->submit_answer(stream_id, number);
      self->flush();
    });
  }

  void submit_answer(int32_t stream_id, uint64_t number) {
    auto it = streams_.find(stream_id);
    if (it == streams_.end()) return;  // reset meanwhile
    StreamState& state = it->second;
    ArrivalInfo arrival{.protocol = "HTTP/2", .tls = is_tls(stream_), .connection = connection_,
                        .request_on_connection = number, .overlapped = false};
    state.answer = make_answer(state.request, arrival);
    state.chunks_left = state.answer.chunks;
    std::string status = std::to_string(state.answer.status);
    std::vector<nghttp2_nv> nva;
    auto add = [&nva](const std::string& name, const std::string& value) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                     NGHTTP2_NV_FLAG_NONE});
    };
    static const std::string kStatus = ":status";
    add(kStatus, status);
    for (const auto& [name, value] : state.answer.headers) add(name, value);
    nghttp2_data_provider provider{};
    provider.read_callback = read_body;
    nghttp2_submit_response(session_, stream_id, nva.data(), nva.size(), state.answer.has_body ? &provider : nullptr);
  }

  static ssize_t read_body(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags,
                           nghttp2_data_source*, void* user_data) {
    StreamState& state = of(user_data).streams_[stream_id];
    size_t n = 0;
    if (state.chunks_left > 0) {
      // At most one piece per call, so the proxy sees separate DATA frames.
      if (state.piece_left == 0) state.piece_left = state.answer.chunk_bytes;
      n = std::min(length, static_cast<size_t>(state.piece_left));
      std::memset(buf, chunk_byte(state.chunks_left), n);
      state.piece_left -= static_cast<int>(n);
      if (state.piece_left == 0) --state.chunks_left;
      if (state.chunks_left > 0) return static_cast<ssize_t>(n);
    } else {
      n = std::min(length, state.answer.body.size() - state.sent);
      std::memcpy(buf, state.answer.body.data() + state.sent, n);
      state.sent += n;
      if (state.sent < state.answer.body.size()) return static_cast<ssize_t>(n);
    }
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (state.answer.trailers) {
      static const std::string kName = kTrailerName;
      nghttp2_nv trailer{reinterpret_cast<uint8_t*>(const_cast<char*>(kName.data())),
                         reinterpret_cast<uint8_t*>(const_cast<char*>(pod_name().data())), kName.size(),
                         pod_name().size(), NGHTTP2_NV_FLAG_NONE};
      if (nghttp2_submit_trailer(session, stream_id, &trailer, 1) == 0) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
    return static_cast<ssize_t>(n);
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      StreamState& state = of(user_data).streams_[frame->hd.stream_id];
      state.request.scheme = "http";
    }
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
    auto& streams = of(user_data).streams_;
    auto it = streams.find(frame->hd.stream_id);
    if (it == streams.end()) return 0;
    std::string n(reinterpret_cast<const char*>(name), namelen), v(reinterpret_cast<const char*>(value), valuelen);
    ReceivedRequest& request = it->second.request;
    if (n == ":method") request.method = v;
    else if (n == ":scheme") request.scheme = v;
    else if (n == ":authority") request.authority = v;
    else if (n == ":path") request.path = v;
    else if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) request.headers.emplace_back("trailer:" + n, v);
    else request.headers.emplace_back(n, v);
    return 0;
  }

  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                           void* user_data) {
    auto& streams = of(user_data).streams_;
    auto it = streams.find(stream_id);
    if (it != streams.end()) it->second.request.add_body(data, len);
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && of(user_data).streams_.count(frame->hd.stream_id)) {
      of(user_data).request_complete(frame->hd.stream_id);
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t, void* user_data) {
    of(user_data).streams_.erase(stream_id);
    return 0;
  }

  Stream stream_;
  const uint64_t connection_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, StreamState> streams_;
  uint64_t requests_ = 0;
  std::array<uint8_t, 64 * 1024> read_buffer_;
  std::string write_buffer_;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace

template <class Stream>
void serve_h2(Stream stream, uint64_t connection, std::string already_read) {
  std::make_shared<H2Session<Stream>>(std::move(stream), connection)->start(already_read);
}

template void serve_h2<TcpStream>(TcpStream, uint64_t, std::string);
template void serve_h2<TlsStream>(TlsStream, uint64_t, std::string);

}  // namespace grpc_ingress::testing::http_pod
