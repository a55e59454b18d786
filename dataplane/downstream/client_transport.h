#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <string>
#include <utility>

namespace grpc_ingress {

// The byte stream of one client connection, so the HTTP/2 and HTTP/1.1
// sessions are written once for every transport. Worker thread only; at most
// one read and one write outstanding at a time.
class ClientTransport {
 public:
  explicit ClientTransport(boost::asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

  boost::asio::any_io_executor get_executor() { return socket_.get_executor(); }

  template <typename Handler>
  void async_read_some(boost::asio::mutable_buffer buffer, Handler&& handler) {
    socket_.async_read_some(buffer, std::forward<Handler>(handler));
  }

  // Writes all of `buffer` (which must stay valid until the handler runs).
  template <typename Handler>
  void async_write(boost::asio::const_buffer buffer, Handler&& handler) {
    boost::asio::async_write(socket_, buffer, std::forward<Handler>(handler));
  }

  // No more bytes from us; reads go on (a lingering close).
  void shutdown_send() {
    boost::system::error_code ignored;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  }

  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  void set_no_delay() {
    boost::system::error_code ignored;
    socket_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  }

  // "ip:port" of the client / of our end, "?" when the socket no longer knows.
  std::string peer() const { return text(socket_.remote_endpoint(ignored_)); }
  std::string local() const { return text(socket_.local_endpoint(ignored_)); }

 private:
  std::string text(const boost::asio::ip::tcp::endpoint& endpoint) const {
    if (ignored_) return "?";
    std::string address = endpoint.address().to_string();
    if (endpoint.address().is_v6()) address = "[" + address + "]";
    return address + ":" + std::to_string(endpoint.port());
  }

  boost::asio::ip::tcp::socket socket_;
  mutable boost::system::error_code ignored_;
};

}  // namespace grpc_ingress
