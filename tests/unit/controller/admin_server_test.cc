// The admin port as an operator meets it: /debug/* only for loopback peers
// (kubectl port-forward) unless --admin-debug-access says otherwise, while
// the kubelet's probes and Prometheus reach the rest from anywhere.

#include "controller/admin_server.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

#include <thread>

using namespace grpc_ingress;
namespace http = boost::beast::http;

namespace {

struct Answer {
  int status = 0;
  std::string body;
};

Answer get(const std::string& address, uint16_t port, const std::string& target) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address(address), port});
  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, address);
  request.keep_alive(false);
  http::write(socket, request);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  return {static_cast<int>(response.result_int()), response.body()};
}

// An admin server with /healthz and /debug/routes on `address`, its loop on a thread.
class RunningAdmin {
 public:
  RunningAdmin(DebugAccess access, const std::string& address = "127.0.0.1")
      : admin_(io_,
               {{"/healthz", [] { return AdminResponse{200, "text/plain", "ok\n"}; }},
                {"/debug/routes", [] { return AdminResponse{200, "application/json", "{}\n"}; }}},
               access) {
    REQUIRE(admin_.start(address, 0));
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RunningAdmin() {
    boost::asio::post(io_, [this] { admin_.stop(); });
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return admin_.port(); }

 private:
  boost::asio::io_context io_;
  AdminServer admin_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("/debug is allowed for loopback peers only by default, IPv4-mapped ones included", "[admin]") {
  using boost::asio::ip::make_address;
  for (const char* peer : {"127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"}) {
    INFO(peer);
    CHECK(debug_allowed(DebugAccess::kLoopback, make_address(peer)));
    CHECK(debug_allowed(DebugAccess::kAny, make_address(peer)));
    CHECK_FALSE(debug_allowed(DebugAccess::kOff, make_address(peer)));
  }
  for (const char* peer : {"10.0.0.7", "192.168.1.1", "0.0.0.0", "fd00::1", "::ffff:10.0.0.7", "::"}) {
    INFO(peer);
    CHECK_FALSE(debug_allowed(DebugAccess::kLoopback, make_address(peer)));
    CHECK(debug_allowed(DebugAccess::kAny, make_address(peer)));
    CHECK_FALSE(debug_allowed(DebugAccess::kOff, make_address(peer)));
  }
}

TEST_CASE("a loopback peer reads /debug by default, and with --admin-debug-access=off gets 403 naming the flag, /healthz still 200",
          "[admin]") {
  {
    RunningAdmin admin(DebugAccess::kLoopback, "127.0.0.2");
    CHECK(get("127.0.0.2", admin.port(), "/debug/routes").status == 200);
    CHECK(get("127.0.0.2", admin.port(), "/healthz").status == 200);
  }
  RunningAdmin admin(DebugAccess::kOff);
  Answer refused = get("127.0.0.1", admin.port(), "/debug/routes");
  CHECK(refused.status == 403);
  CHECK_THAT(refused.body, Catch::Matchers::Contains("--admin-debug-access=loopback"));
  CHECK(get("127.0.0.1", admin.port(), "/healthz").status == 200);
  // The 404 listing does not advertise what the peer may not read.
  Answer missing = get("127.0.0.1", admin.port(), "/nope");
  CHECK(missing.status == 404);
  CHECK_THAT(missing.body, Catch::Matchers::Contains("/healthz"));
  CHECK_THAT(missing.body, !Catch::Matchers::Contains("/debug"));
}
