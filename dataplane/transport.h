#pragma once

#include "dataplane/memory_pipe.h"
#include "dataplane/recycled_memory.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace grpc_ingress {

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

// The byte stream of one connection, cleartext TCP or TLS over TCP, so the
// HTTP/2 and HTTP/1.1 codecs are written once for both, towards clients and
// towards pods; or one end of a MemoryPipe, so unit tests run the codecs
// without sockets. Worker thread only; at most one read and one write
// outstanding at a time.
class Transport {
 public:
  explicit Transport(boost::asio::ip::tcp::socket socket) : stream_(std::move(socket)) {}
  // A TLS stream whose handshake is done.
  explicit Transport(std::unique_ptr<TlsStream> tls) : stream_(std::move(tls)) {}
  explicit Transport(std::shared_ptr<MemoryPipe> pipe) : stream_(std::move(pipe)) {}

  bool tls() const { return std::holds_alternative<std::unique_ptr<TlsStream>>(stream_); }
  boost::asio::any_io_executor get_executor() {
    if (auto* pipe = memory()) return pipe->io().get_executor();
    return socket().get_executor();
  }

  template <typename Handler>
  void async_read_some(boost::asio::mutable_buffer buffer, Handler&& handler) {
    if (auto* pipe = memory()) {
      pipe->async_read_some(buffer, std::forward<Handler>(handler));
      return;
    }
    if (auto* tls_stream = std::get_if<std::unique_ptr<TlsStream>>(&stream_)) {
      (*tls_stream)->async_read_some(buffer, recycled(std::forward<Handler>(handler)));
    } else {
      std::get<boost::asio::ip::tcp::socket>(stream_).async_read_some(buffer, recycled(std::forward<Handler>(handler)));
    }
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
    if (auto* pipe = memory()) {
      pipe->async_read_some(boost::asio::buffer(shared_read_buffer()),
                            [handler = std::forward<Handler>(handler)](boost::system::error_code ec, size_t n) mutable {
                              handler(ec, shared_read_buffer().data(), n);
                            });
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
                     ReadBuffer& shared = shared_read_buffer();
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
    if (auto* pipe = memory()) {
      pipe->async_write(buffer, std::forward<Handler>(handler));
      return;
    }
    if (auto* tls_stream = std::get_if<std::unique_ptr<TlsStream>>(&stream_)) {
      boost::asio::async_write(**tls_stream, buffer, recycled(std::forward<Handler>(handler)));
    } else {
      boost::asio::async_write(std::get<boost::asio::ip::tcp::socket>(stream_), buffer,
                               recycled(std::forward<Handler>(handler)));
    }
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
    if (auto* pipe = memory()) {
      pipe->shutdown_send();
    } else {
      boost::system::error_code ignored;
      socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    }
    boost::asio::post(get_executor(), recycled(std::forward<Handler>(handler)));
  }

  // Aborts the pending read and write (their handlers see operation_aborted).
  void cancel() {
    if (auto* pipe = memory()) return pipe->cancel();
    boost::system::error_code ignored;
    socket().cancel(ignored);
  }

  void close() {
    if (auto* pipe = memory()) return pipe->close();
    boost::system::error_code ignored;
    socket().close(ignored);
  }

  // Closes with a TCP reset, dropping what the peer has not read: for a peer
  // that stopped reading, a graceful close would leave the kernel holding
  // our unsent bytes (and the FIN behind them) until TCP gives up.
  void abort() {
    if (auto* pipe = memory()) return pipe->close();
    boost::system::error_code ignored;
    socket().set_option(boost::asio::socket_base::linger(true, 0), ignored);
    socket().close(ignored);
  }

  void set_no_delay() {
    if (memory()) return;
    boost::system::error_code ignored;
    socket().set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  }

  // The cleartext TCP socket, nullptr on TLS or a memory pipe.
  const boost::asio::ip::tcp::socket* tcp_socket() const {
    return std::get_if<boost::asio::ip::tcp::socket>(&stream_);
  }

  // The TLS session, nullptr on cleartext.
  SSL* ssl() {
    auto* tls_stream = std::get_if<std::unique_ptr<TlsStream>>(&stream_);
    return tls_stream ? (*tls_stream)->native_handle() : nullptr;
  }

  // "ip:port" of the peer / of our end, "?" when the socket no longer knows.
  std::string peer() const { return memory() ? "memory" : text(socket().remote_endpoint(ignored_)); }
  std::string local() const { return memory() ? "memory" : text(socket().local_endpoint(ignored_)); }

 private:
  using ReadBuffer = std::array<uint8_t, 16 * 1024>;
  // Cleartext reads land here once bytes are there: one buffer per thread.
  static ReadBuffer& shared_read_buffer() {
    static thread_local ReadBuffer shared;
    return shared;
  }

  MemoryPipe* memory() const {
    auto* pipe = std::get_if<std::shared_ptr<MemoryPipe>>(&stream_);
    return pipe ? pipe->get() : nullptr;
  }


  boost::asio::ip::tcp::socket& socket() {
    return std::visit([](auto& stream) -> boost::asio::ip::tcp::socket& { return lowest(stream); }, stream_);
  }
  const boost::asio::ip::tcp::socket& socket() const { return const_cast<Transport*>(this)->socket(); }
  static boost::asio::ip::tcp::socket& lowest(boost::asio::ip::tcp::socket& socket) { return socket; }
  static boost::asio::ip::tcp::socket& lowest(std::unique_ptr<TlsStream>& tls) { return tls->next_layer(); }
  static boost::asio::ip::tcp::socket& lowest(std::shared_ptr<MemoryPipe>&) {
    throw std::logic_error("an in-memory transport has no socket");  // callers check memory() first
  }

  std::string text(const boost::asio::ip::tcp::endpoint& endpoint) const {
    if (ignored_) return "?";
    std::string address = endpoint.address().to_string();
    if (endpoint.address().is_v6()) address = "[" + address + "]";
    return address + ":" + std::to_string(endpoint.port());
  }

  std::variant<boost::asio::ip::tcp::socket, std::unique_ptr<TlsStream>, std::shared_ptr<MemoryPipe>> stream_;
  std::unique_ptr<ReadBuffer> tls_buffer_;  // allocated at the first TLS read
  mutable boost::system::error_code ignored_;
};

}  // namespace grpc_ingress
