#include "controller/admin_server.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <memory>
#include <optional>

namespace grpc_ingress {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;

constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr size_t kMaxRequestBytes = 16 * 1024;

// One admin connection: keep-alive, one request at a time, a timeout on each.
class AdminSession : public std::enable_shared_from_this<AdminSession> {
 public:
  AdminSession(boost::asio::ip::tcp::socket socket,
               const std::map<std::string, AdminServer::Handler>& handlers, DebugAccess debug_access)
      : stream_(std::move(socket)), handlers_(handlers), debug_access_(debug_access) {
    boost::system::error_code ec;
    auto peer = stream_.socket().remote_endpoint(ec);
    debug_allowed_ = !ec && debug_allowed(debug_access_, peer.address());
  }

  void read() {
    parser_.emplace();
    parser_->header_limit(kMaxRequestBytes);
    parser_->body_limit(kMaxRequestBytes);
    stream_.expires_after(kRequestTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->close();
                       self->respond(self->parser_->release());
                     });
  }

 private:
  void respond(http::request<http::string_body> request) {
    std::string target(request.target());
    if (auto q = target.find('?'); q != std::string::npos) target.resize(q);
    AdminResponse answer;
    auto it = handlers_.find(target);
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
      answer = {405, "text/plain; charset=utf-8", "only GET\n"};
    } else if (it == handlers_.end()) {
      std::string paths;
      for (const auto& [path, _] : handlers_) {
        if (debug_allowed_ || !path.starts_with("/debug/")) paths += "  " + path + "\n";
      }
      answer = {404, "text/plain; charset=utf-8", "no such admin path; try:\n" + paths};
    } else if (target.starts_with("/debug/") && !debug_allowed_) {
      answer = {403, "text/plain; charset=utf-8", refusal(target)};
    } else {
      answer = it->second();
    }
    auto response = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(answer.status), request.version());
    response->set(http::field::server, "grpc-ingress");
    response->set(http::field::content_type, answer.content_type);
    response->keep_alive(request.keep_alive());
    response->body() = request.method() == http::verb::head ? "" : std::move(answer.body);
    response->prepare_payload();
    stream_.expires_after(kRequestTimeout);
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](beast::error_code ec, size_t) {
                        if (ec || !response->keep_alive()) return self->close();
                        self->read();
                      });
  }

  std::string refusal(const std::string& target) const {
    if (debug_access_ == DebugAccess::kOff) {
      return target + " is off (--admin-debug-access=off); --admin-debug-access=loopback serves it to "
             "loopback peers (kubectl port-forward), --admin-debug-access=any to every address\n";
    }
    return target + " answers only loopback peers (kubectl port-forward); "
           "--admin-debug-access=any serves it to every address\n";
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const std::map<std::string, AdminServer::Handler>& handlers_;
  DebugAccess debug_access_;
  bool debug_allowed_ = false;  // decided once per connection, from its peer
};

}  // namespace

bool debug_allowed(DebugAccess access, const boost::asio::ip::address& peer) {
  if (access != DebugAccess::kLoopback) return access == DebugAccess::kAny;
  if (peer.is_v6() && peer.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, peer.to_v6()).is_loopback();
  }
  return peer.is_loopback();
}

AdminServer::AdminServer(boost::asio::io_context& io, std::map<std::string, Handler> handlers,
                         DebugAccess debug_access)
    : io_(io), acceptor_(io), handlers_(std::move(handlers)), debug_access_(debug_access) {}

Status AdminServer::start(const std::string& bind_address, uint16_t port) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(bind_address, ec);
  if (ec) return Error{"bad admin bind address '" + bind_address + "'"};
  boost::asio::ip::tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error{"cannot listen on admin port " + bind_address + ":" + std::to_string(port) + ": " +
                 ec.message()};
  }
  port_ = acceptor_.local_endpoint().port();
  accept_next();
  static constexpr const char* kDebugScope[] = {"loopback peers only", "every address", "off"};
  spdlog::info("admin server on {}:{} (/healthz /readyz /metrics; /debug/*: {})", bind_address, port_,
               kDebugScope[static_cast<int>(debug_access_)]);
  return Ok{};
}

void AdminServer::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void AdminServer::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code ec, boost::asio::ip::tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (ec) {
      spdlog::warn("admin accept failed: {}", ec.message());
      auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(100));
      timer->async_wait([this, timer](boost::system::error_code) { accept_next(); });
      return;
    }
    std::make_shared<AdminSession>(std::move(socket), handlers_, debug_access_)->read();
    accept_next();
  });
}

}  // namespace grpc_ingress
