// http-pod's HTTP/1.1 side: Boost.Beast parses each request (bodies read in
// pieces, so any size is only counted), keep-alive, one request at a time.
// Bytes of a next request that arrive before an answer is written mean the
// client pipelined; the answer reports it as "overlapped".

#include "tests/pods/http_pod_answer.h"
#include "tests/pods/http_pod_sessions.h"

#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <type_traits>

namespace grpc_ingress::testing::http_pod {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using error_code = boost::system::error_code;

constexpr uint32_t kMaxHeaderBytes = 64 * 1024;

// Bytes that arrived on the connection and nobody has read yet.
size_t bytes_waiting(TcpStream& socket) {
  error_code ec;
  size_t available = socket.available(ec);
  return ec ? 0 : available;
}
size_t bytes_waiting(TlsStream& stream) {
  SSL* ssl = stream.native_handle();
  size_t in_tls = static_cast<size_t>(SSL_pending(ssl)) + BIO_ctrl_pending(SSL_get_rbio(ssl));
  return in_tls + bytes_waiting(stream.next_layer());
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string chunk_frame(const std::string& data) {
  char size[20];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return size + data + "\r\n";
}

template <class Stream>
class H1Session : public std::enable_shared_from_this<H1Session<Stream>> {
 public:
  H1Session(Stream stream, uint64_t connection, const std::string& already_read)
      : stream_(std::move(stream)), connection_(connection), delay_(stream_.get_executor()) {
    auto space = buffer_.prepare(already_read.size());
    net::buffer_copy(space, net::buffer(already_read));
    buffer_.commit(already_read.size());
  }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    // The body is counted, not kept whole. (Not boost::none: Beast 1.74 compares
    // the length with the empty optional and reports body_limit.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    http::async_read_header(stream_, buffer_, *parser_, [self = this->shared_from_this()](error_code ec, size_t) {
      if (ec) return self->end(ec);
      self->on_header();
    });
  }

 private:
  void on_header() {
    const auto& head = parser_->get();
    request_ = ReceivedRequest{};
    request_.method = std::string(head.method_string());
    request_.scheme = is_tls(stream_) ? "https" : "http";
    request_.path = std::string(head.target());
    request_.authority = std::string(head[http::field::host]);
    for (const auto& field : head) {
      std::string name = lower(std::string(field.name_string()));
      if (name != "host") request_.headers.emplace_back(name, std::string(field.value()));
    }
    head_fields_ = static_cast<size_t>(std::distance(head.begin(), head.end()));
    if (lower(std::string(head[http::field::expect])) == "100-continue") {
      interim_ = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(interim_), [self = this->shared_from_this()](error_code ec, size_t) {
        if (ec) return self->end(ec);
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    if (parser_->is_done()) return request_complete();
    parser_->get().body().data = body_piece_.data();
    parser_->get().body().size = body_piece_.size();
    http::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](error_code ec, size_t) {
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return self->end(ec);
      size_t got = self->body_piece_.size() - self->parser_->get().body().size;
      self->request_.add_body(self->body_piece_.data(), got);
      self->read_body();
    });
  }

  void request_complete() {
    // Trailer fields of a chunked body were appended to the head's.
    const auto& message = parser_->get();
    size_t index = 0;
    for (const auto& field : message) {
      if (index++ >= head_fields_) {
        request_.headers.emplace_back("trailer:" + lower(std::string(field.name_string())), std::string(field.value()));
      }
    }
    ++requests_;
    auto delay = requested_delay(request_.path);
    if (delay.count() == 0) return answer();
    delay_.expires_after(delay);
    delay_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (ec) return self->end(ec);
      self->answer();
    });
  }

  void answer() {
    const auto& message = parser_->get();
    keep_alive_ = message.keep_alive();
    ArrivalInfo arrival{.protocol = message.version() == 10 ? "HTTP/1.0" : "HTTP/1.1",
                        .tls = is_tls(stream_),
                        .connection = connection_,
                        .request_on_connection = requests_,
                        .overlapped = buffer_.size() > 0 || bytes_waiting(stream_) > 0};
    if (arrival.overlapped) {
      std::cerr << "http-pod " << pod_name() << ": C" << connection_ << " request " << requests_
                << ": the next request's bytes arrived before the answer (pipelined)\n";
    }
    answer_ = make_answer(request_, arrival);
    // Trailers and bodies of unknown length need chunked framing.
    bool chunked = answer_.has_body && (answer_.streaming() || answer_.trailers);
    std::string head = "HTTP/1.1 " + std::to_string(answer_.status) + " " +
                       std::string(http::obsolete_reason(static_cast<http::status>(answer_.status))) + "\r\n";
    for (const auto& [name, value] : answer_.headers) {
      if (!(chunked && name == "content-length")) head += name + ": " + value + "\r\n";
    }
    if (chunked) head += "transfer-encoding: chunked\r\n";
    if (chunked && answer_.trailers) head += std::string("trailer: ") + kTrailerName + "\r\n";
    if (!keep_alive_) head += "connection: close\r\n";
    head += "\r\n";
    if (!chunked) {
      out_ = head + answer_.body;
      return write(/*last=*/true);
    }
    out_ = head;
    if (!answer_.streaming() && !answer_.body.empty()) out_ += chunk_frame(answer_.body);
    pieces_left_ = answer_.chunks;
    write(/*last=*/false);
  }

  // Writes out_; then the next streamed piece, the last chunk, or the next request.
  void write(bool last) {
    net::async_write(stream_, net::buffer(out_), [self = this->shared_from_this(), last](error_code ec, size_t) {
      if (ec) return self->end(ec);
      if (last) return self->keep_alive_ ? self->read_header() : self->end({});
      if (self->pieces_left_ > 0) {
        self->out_ = chunk_frame(std::string(self->answer_.chunk_bytes, chunk_byte(self->pieces_left_--)));
        return self->write(false);
      }
      self->out_ = "0\r\n";
      if (self->answer_.trailers) self->out_ += std::string(kTrailerName) + ": " + pod_name() + "\r\n";
      self->out_ += "\r\n";
      self->write(true);
    });
  }

  // The connection is over: the peer closed, failed, or asked for close.
  void end(error_code ec) {
    bool quiet = !ec || ec == http::error::end_of_stream || ec == net::error::eof ||
                 ec == net::error::connection_reset || ec == net::error::operation_aborted ||
                 ec == net::ssl::error::stream_truncated;
    if (!quiet) std::cerr << "http-pod " << pod_name() << ": C" << connection_ << " HTTP/1.1: " << ec.message() << "\n";
    shutdown();
  }

  void shutdown() {
    error_code ignored;
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      // close_notify, so that TLS clients see a clean end; then the socket goes.
      stream_.async_shutdown([self = this->shared_from_this()](error_code) {
        error_code ignored;
        self->stream_.next_layer().close(ignored);
      });
    } else {
      stream_.shutdown(TcpStream::shutdown_send, ignored);  // closed when the session goes
    }
  }

  Stream stream_;
  const uint64_t connection_;
  net::steady_timer delay_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  std::array<uint8_t, 64 * 1024> body_piece_;
  size_t head_fields_ = 0;
  ReceivedRequest request_;
  uint64_t requests_ = 0;
  Answer answer_;
  bool keep_alive_ = true;
  int pieces_left_ = 0;
  std::string interim_;
  std::string out_;
};

}  // namespace

template <class Stream>
void serve_h1(Stream stream, uint64_t connection, std::string already_read) {
  std::make_shared<H1Session<Stream>>(std::move(stream), connection, already_read)->read_header();
}

template void serve_h1<TcpStream>(TcpStream, uint64_t, std::string);
template void serve_h1<TlsStream>(TlsStream, uint64_t, std::string);

}  // namespace grpc_ingress::testing::http_pod
