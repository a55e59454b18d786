#pragma once

#include "common/result.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <map>
#include <string>

namespace grpc_ingress {

struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// The admin port (HTTP/1.1): /healthz, /readyz, /metrics, /debug/... Each
// path maps to a handler that runs on the io_context's thread.
class AdminServer {
 public:
  using Handler = std::function<AdminResponse()>;

  AdminServer(boost::asio::io_context& io, std::map<std::string, Handler> handlers);

  Status start(const std::string& bind_address, uint16_t port);
  void stop();
  uint16_t port() const { return port_; }

 private:
  void accept_next();

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::map<std::string, Handler> handlers_;
  uint16_t port_ = 0;
};

}  // namespace grpc_ingress
