#pragma once

#include "common/flags.h"
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

// Whether a /debug request from `peer` is served (an IPv4-mapped IPv6 address
// counts as its IPv4 address).
bool debug_allowed(DebugAccess access, const boost::asio::ip::address& peer);

// The admin port (HTTP/1.1): /healthz, /readyz, /metrics, /debug/... Each
// path maps to a handler that runs on the io_context's thread. /debug/* is
// served as `debug_access` says; other paths answer every peer (the kubelet's
// probes and Prometheus scrapes come from outside the pod).
class AdminServer {
 public:
  using Handler = std::function<AdminResponse()>;

  AdminServer(boost::asio::io_context& io, std::map<std::string, Handler> handlers,
              DebugAccess debug_access = DebugAccess::kLoopback);

  Status start(const std::string& bind_address, uint16_t port);
  void stop();
  uint16_t port() const { return port_; }

 private:
  void accept_next();

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::map<std::string, Handler> handlers_;
  DebugAccess debug_access_;
  uint16_t port_ = 0;
};

}  // namespace grpc_ingress
