#pragma once

#include "dataplane/recycled_memory.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <variant>

namespace grpc_ingress {

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

// The byte stream of one connection, cleartext TCP or TLS over TCP, so the
// HTTP/2 and HTTP/1.1 codecs are written once for both, towards clients and
// towards pods. Worker thread only; at most one read and one write
// outstanding at a time.
class Transport {
 public:
  explicit Transport(boost::asio::ip::tcp::socket socket) : stream_(std::move(socket)) {}
  // A TLS stream whose handshake is done.
  explicit Transport(std::unique_ptr<TlsStream> tls) : stream_(std::move(tls)) {}

  bool tls() const { return std::holds_alternative<std::unique_ptr<TlsStream>>(stream_); }
  boost::asio::any_io_executor get_executor() { return socket().get_executor(); }

  template <typename Handler>
  void async_read_some(boost::asio::mutable_buffer buffer, Handler&& handler) {
    std::visit([&](auto& stream) { layer(stream).async_read_some(buffer, recycled(std::forward<Handler>(handler))); },
               stream_);
  }

  // Reads what has arrived and calls `handler(ec, data, size)`. The bytes are
  // valid only during the call: cleartext connections read into one buffer
  // per thread once the socket is readable, so an idle connection holds no
  // read buffer (16 KiB each otherwise); TLS decrypts into its own.
  template <typename Handler>
  void async_read(Handler&& handler) {
    if (auto* tls_stream = std::get_if<std::unique_ptr<TlsStream>>(&stream_)) {
      if (!tls_buffer_) tls_buffer_ = std::make_unique<ReadBuffer>();
      (*tls_stream)->async_read_some(
          boost::asio::buffer(*tls_buffer_),
          recycled([this, handler = std::forward<Handler>(handler)](boost::system::error_code ec, size_t n) mutable {
            handler(ec, tls_buffer_->data(), n);
          }));
      return;
    }
    auto& tcp = std::get<boost::asio::ip::tcp::socket>(stream_);
    tcp.async_wait(boost::asio::socket_base::wait_read,
                   recycled([this, handler = std::forward<Handler>(handler)](boost::system::error_code ec) mutable {
                     if (ec) {
                       handler(ec, nullptr, size_t{0});
                       return;
                     }
                     auto& tcp = std::get<boost::asio::ip::tcp::socket>(stream_);
                     static thread_local ReadBuffer shared;
                     if (!tcp.non_blocking()) tcp.non_blocking(true, ec);
                     size_t n = ec ? 0 : tcp.read_some(boost::asio::buffer(shared), ec);
                     if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
                       async_read(std::move(handler));  // woken without bytes after all: wait again
                       return;
                     }
                     handler(ec, shared.data(), n);
                   }));
  }

  // Writes all of `buffer` (which must stay valid until the handler runs).
  template <typename Handler>
  void async_write(boost::asio::const_buffer buffer, Handler&& handler) {
    std::visit(
        [&](auto& stream) { boost::asio::async_write(layer(stream), buffer, recycled(std::forward<Handler>(handler))); },
        stream_);
  }

  // Says "no more bytes from us" (TCP FIN; TLS close_notify) and calls
  // `handler` once that is on its way. TCP reads go on after it; a TLS
  // connection only waits, inside this call, for the peer's close_notify,
  // so the caller bounds it with a timer that closes.
  template <typename Handler>
  void async_shutdown_send(Handler&& handler) {
    if (auto* tls_stream = std::get_if<std::unique_ptr<TlsStream>>(&stream_)) {
      (*tls_stream)->async_shutdown([handler = std::forward<Handler>(handler)](boost::system::error_code) mutable {
        handler();
      });
      return;
    }
    boost::system::error_code ignored;
    socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    boost::asio::post(get_executor(), recycled(std::forward<Handler>(handler)));
  }

  // Aborts the pending read and write (their handlers see operation_aborted).
  void cancel() {
    boost::system::error_code ignored;
    socket().cancel(ignored);
  }

  void close() {
    boost::system::error_code ignored;
    socket().close(ignored);
  }

  void set_no_delay() {
    boost::system::error_code ignored;
    socket().set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  }

  // The TLS session, nullptr on cleartext.
  SSL* ssl() {
    auto* tls_stream = std::get_if<std::unique_ptr<TlsStream>>(&stream_);
    return tls_stream ? (*tls_stream)->native_handle() : nullptr;
  }

  // "ip:port" of the peer / of our end, "?" when the socket no longer knows.
  std::string peer() const { return text(socket().remote_endpoint(ignored_)); }
  std::string local() const { return text(socket().local_endpoint(ignored_)); }

 private:
  static boost::asio::ip::tcp::socket& layer(boost::asio::ip::tcp::socket& socket) { return socket; }
  static TlsStream& layer(std::unique_ptr<TlsStream>& tls) { return *tls; }

  boost::asio::ip::tcp::socket& socket() {
    return std::visit([](auto& stream) -> boost::asio::ip::tcp::socket& { return lowest(stream); }, stream_);
  }
  const boost::asio::ip::tcp::socket& socket() const { return const_cast<Transport*>(this)->socket(); }
  static boost::asio::ip::tcp::socket& lowest(boost::asio::ip::tcp::socket& socket) { return socket; }
  static boost::asio::ip::tcp::socket& lowest(std::unique_ptr<TlsStream>& tls) { return tls->next_layer(); }

  std::string text(const boost::asio::ip::tcp::endpoint& endpoint) const {
    if (ignored_) return "?";
    std::string address = endpoint.address().to_string();
    if (endpoint.address().is_v6()) address = "[" + address + "]";
    return address + ":" + std::to_string(endpoint.port());
  }

  using ReadBuffer = std::array<uint8_t, 16 * 1024>;

  std::variant<boost::asio::ip::tcp::socket, std::unique_ptr<TlsStream>> stream_;
  std::unique_ptr<ReadBuffer> tls_buffer_;  // allocated at the first TLS read
  mutable boost::system::error_code ignored_;
};

}  // namespace grpc_ingress
