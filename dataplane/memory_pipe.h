#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace grpc_ingress {

// One end of a byte stream held in memory, between two Transports on one
// io_context: unit tests wire a client codec to a server codec through it
// (as Envoy's codec tests do), with no socket. Behaves as a TCP socket does
// for the codecs: reads complete with what has arrived, writes complete once
// taken, a shut-down or closed peer reads as end of file; every completion
// runs from the loop, never inside the call that started it.
class MemoryPipe : public std::enable_shared_from_this<MemoryPipe> {
 public:
  using Completion = std::function<void(boost::system::error_code, size_t)>;

  explicit MemoryPipe(boost::asio::io_context& io) : io_(io) {}

  // Both ends of a new pipe.
  static std::pair<std::shared_ptr<MemoryPipe>, std::shared_ptr<MemoryPipe>> make(boost::asio::io_context& io) {
    auto a = std::make_shared<MemoryPipe>(io);
    auto b = std::make_shared<MemoryPipe>(io);
    a->peer_ = b;
    b->peer_ = a;
    return {a, b};
  }

  boost::asio::io_context& io() { return io_; }

  template <typename Handler>
  void async_read_some(boost::asio::mutable_buffer buffer, Handler&& handler) {
    auto shared = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
    reader_ = [shared](boost::system::error_code ec, size_t n) { (*shared)(ec, n); };
    read_into_ = buffer;
    deliver();
  }

  // Takes all of `buffer` at once (the peer buffers without bound).
  template <typename Handler>
  void async_write(boost::asio::const_buffer buffer, Handler&& handler) {
    boost::system::error_code ec;
    auto peer = peer_.lock();
    if (closed_ || sent_eof_) {
      ec = boost::asio::error::bad_descriptor;
    } else if (!peer || peer->closed_) {
      ec = boost::asio::error::broken_pipe;
    } else {
      peer->inbound_.append(static_cast<const char*>(buffer.data()), buffer.size());
      peer->deliver();
    }
    size_t n = ec ? 0 : buffer.size();
    boost::asio::post(io_, [handler = std::forward<Handler>(handler), ec, n]() mutable { handler(ec, n); });
  }

  // No more bytes from this end: the peer reads end of file after the rest.
  void shutdown_send() {
    if (sent_eof_) return;
    sent_eof_ = true;
    if (auto peer = peer_.lock()) {
      peer->eof_ = true;
      peer->deliver();
    }
  }
  // A pending read completes with operation_aborted.
  void cancel() { complete_read(boost::asio::error::operation_aborted, 0); }
  void close() {
    if (closed_) return;
    cancel();
    closed_ = true;
    shutdown_send();
  }

 private:
  // Completes the pending read with what has arrived, if anything has.
  void deliver() {
    if (!reader_) return;
    if (!inbound_.empty()) {
      size_t n = std::min(inbound_.size(), read_into_.size());
      std::memcpy(read_into_.data(), inbound_.data(), n);
      inbound_.erase(0, n);
      complete_read({}, n);
    } else if (eof_) {
      complete_read(boost::asio::error::eof, 0);
    }
  }
  void complete_read(boost::system::error_code ec, size_t n) {
    if (!reader_) return;
    Completion reader = std::move(reader_);
    reader_ = nullptr;
    boost::asio::post(io_, [reader = std::move(reader), ec, n] { reader(ec, n); });
  }

  boost::asio::io_context& io_;
  std::weak_ptr<MemoryPipe> peer_;
  std::string inbound_;
  Completion reader_;
  boost::asio::mutable_buffer read_into_;
  bool eof_ = false;       // the peer sends no more
  bool sent_eof_ = false;  // this end sends no more
  bool closed_ = false;
};

}  // namespace grpc_ingress
