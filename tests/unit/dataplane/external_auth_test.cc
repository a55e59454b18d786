// auth-url against a real HTTP/1.1 auth service on 127.0.0.1 (a Beast server
// on the test's own loop): what the service is asked, how each answer maps,
// timeouts, failures and the cache; then the Router with fake pods: who
// reaches a pod, with which headers, and what a refused client is told.

#include "dataplane/external_auth.h"

#include "dataplane/pod_uses.h"
#include "dataplane/router.h"

#include "tests/fakes/fake_pods.h"
#include "tests/unit/run_until.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

// An auth service: answers every request with `status` and `headers` (or
// `raw` bytes as they are, or nothing at all when `silent`), then closes.
class AuthServer {
 public:
  explicit AuthServer(boost::asio::io_context& io)
      : acceptor_(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> raw;
  bool silent = false;
  bool keep_alive = false;  // serve the next request on the same connection (else close after one)
  int accepted = 0;         // connections
  std::vector<http::request<http::string_body>> seen;  // what it was asked, in order

  const http::request<http::string_body>& last() const { return seen.back(); }

 private:
  struct Session {
    explicit Session(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::response<http::string_body> response;
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      ++accepted;
      serve(std::make_shared<Session>(std::move(socket)));
      accept();
    });
  }

  void serve(const std::shared_ptr<Session>& session) {
    session->request = {};
    http::async_read(session->socket, session->buffer, session->request,
                     [this, session](boost::system::error_code ec, size_t) {
                       if (ec) return;
                       seen.push_back(session->request);
                       if (silent) {
                         held_.push_back(session);  // keeps the connection open, answering nothing
                         return;
                       }
                       auto done = [this, session](boost::system::error_code ec, size_t) {
                         if (!ec && keep_alive && !raw) return serve(session);
                         boost::system::error_code ignored;
                         session->socket.shutdown(tcp::socket::shutdown_send, ignored);
                       };
                       if (raw) {
                         boost::asio::async_write(session->socket, boost::asio::buffer(*raw), done);
                         return;
                       }
                       session->response = {};
                       session->response.result(status);
                       session->response.version(11);
                       for (const auto& [name, value] : headers) session->response.insert(name, value);
                       session->response.body() = status / 100 == 2 ? "ok" : "no";
                       session->response.prepare_payload();
                       http::async_write(session->socket, session->response, done);
                     });
  }

  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<Session>> held_;
};

ExternalAuth auth_at(uint16_t port, std::string path = "/verify") {
  ExternalAuth auth;
  auth.host = "127.0.0.1";
  auth.port = port;
  auth.path = std::move(path);
  auth.url = "http://127.0.0.1:" + std::to_string(port) + auth.path;
  auth.timeout = std::chrono::milliseconds(2000);
  return auth;
}

// A gRPC call from 10.1.2.3, its headers complete.
std::shared_ptr<ProxyStream> grpc_request(std::shared_ptr<DownstreamSide> client = nullptr, int32_t id = 1) {
  auto stream = ProxyStream::make(1, id, std::weak_ptr<DownstreamSide>(client));
  stream->method = "POST";
  stream->scheme = "http";
  stream->authority = "greeter.example.com";
  stream->path = "/helloworld.Greeter/SayHello";
  stream->request_headers = {{"content-type", "application/grpc"},
                             {"te", "trailers"},
                             {"authorization", "Bearer alice-token"},
                             {"cookie", "a=1"},
                             {"cookie", "b=2"},
                             {"x-original-url", "http://spoofed/"}};
  stream->grpc = true;
  stream->client_address = IpAddress::from("10.1.2.3");
  stream->client_address_text = stream->keep("10.1.2.3");
  return stream;
}

struct Asked {
  std::optional<AuthAnswer> answer;
  bool done() const { return answer.has_value(); }
};

// Asks `client` about `stream` and runs the loop until the answer came.
AuthAnswer ask(boost::asio::io_context& io, ExternalAuthClient& client, const ProxyStream& stream,
               const ExternalAuth& auth, ExternalAuthClient::Clock::time_point now = ExternalAuthClient::Clock::now()) {
  auto asked = std::make_shared<Asked>();
  client.check(stream, auth, [asked](AuthAnswer answer) { asked->answer = std::move(answer); }, now);
  REQUIRE(run_until(io, [&] { return asked->done(); }, std::chrono::seconds(5)));
  return std::move(*asked->answer);
}

std::string field(const http::request<http::string_body>& request, std::string_view name) {
  auto it = request.find(boost::beast::string_view(name.data(), name.size()));
  return it == request.end() ? std::string("<none>") : std::string(it->value());
}

}  // namespace

TEST_CASE("auth-url: a 2xx answer allows and hands over the listed response headers, and the service saw the original request",
          "[external_auth]") {
  boost::asio::io_context io;
  AuthServer server(io);
  server.headers = {{"X-User", "alice"}, {"X-Groups", "admins"}, {"X-Not-Listed", "secret"}};
  ExternalAuthClient client(io);
  ExternalAuth auth = auth_at(server.port(), "/verify?tenant=1");
  auth.response_headers = {"x-user", "x-groups", "content-length"};
  auto stream = grpc_request();

  AuthAnswer answer = ask(io, client, *stream, auth);
  CHECK(answer.kind == AuthAnswer::Kind::kAllowed);
  CHECK(answer.status == 200);
  CHECK_FALSE(answer.cached);
  REQUIRE(answer.upstream_headers.size() == 2);
  CHECK(*answer.upstream_headers.find("x-user") == "alice");
  CHECK(*answer.upstream_headers.find("x-groups") == "admins");
  CHECK(answer.upstream_headers.find("content-length") == nullptr);  // framing is never copied

  REQUIRE(server.seen.size() == 1);
  const auto& asked = server.last();
  CHECK(asked.method() == http::verb::get);
  CHECK(asked.target() == "/verify?tenant=1");
  CHECK(field(asked, "host") == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(field(asked, "x-original-url") == "http://greeter.example.com/helloworld.Greeter/SayHello");
  CHECK(field(asked, "x-original-method") == "POST");
  CHECK(field(asked, "x-sent-from") == "grpc-ingress");
  CHECK(field(asked, "x-real-ip") == "10.1.2.3");
  CHECK(field(asked, "x-forwarded-for") == "10.1.2.3");
  CHECK(field(asked, "x-auth-request-redirect") == "/helloworld.Greeter/SayHello");
  CHECK(field(asked, "authorization") == "Bearer alice-token");
  CHECK(field(asked, "content-type") == "application/grpc");
  CHECK(field(asked, "cookie") == "a=1; b=2");
  CHECK(field(asked, "te") == "<none>");
  CHECK(field(asked, "content-length") == "<none>");
  CHECK(asked.count("x-original-url") == 1);  // the client's own copy is not passed on
  CHECK(asked.body().empty());
  CHECK(client.in_flight() == 0);
}

TEST_CASE("auth-url: auth-method POST sends an empty body", "[external_auth]") {
  boost::asio::io_context io;
  AuthServer server(io);
  ExternalAuthClient client(io);
  ExternalAuth auth = auth_at(server.port());
  auth.method = "POST";
  auto stream = grpc_request();
  CHECK(ask(io, client, *stream, auth).kind == AuthAnswer::Kind::kAllowed);
  REQUIRE(server.seen.size() == 1);
  CHECK(server.last().method() == http::verb::post);
  CHECK(field(server.last(), "content-length") == "0");
}

TEST_CASE("auth-url: 401 (with its WWW-Authenticate) and 403 are answers, anything else fails closed",
          "[external_auth]") {
  boost::asio::io_context io;
  AuthServer server(io);
  ExternalAuthClient client(io);
  ExternalAuth auth = auth_at(server.port());
  auto stream = grpc_request();

  server.status = 401;
  server.headers = {{"WWW-Authenticate", "Bearer realm=\"example\""}};
  AuthAnswer unauthenticated = ask(io, client, *stream, auth);
  CHECK(unauthenticated.kind == AuthAnswer::Kind::kUnauthenticated);
  CHECK(unauthenticated.www_authenticate == "Bearer realm=\"example\"");

  server.status = 403;
  server.headers = {};
  CHECK(ask(io, client, *stream, auth).kind == AuthAnswer::Kind::kForbidden);

  for (int status : {500, 302, 404, 418}) {
    server.status = status;
    AuthAnswer answer = ask(io, client, *stream, auth);
    INFO("status " << status);
    CHECK(answer.kind == AuthAnswer::Kind::kFailed);
    CHECK(answer.status == status);
    CHECK(answer.failure == "answered HTTP " + std::to_string(status));
  }
}

TEST_CASE("auth-url: an auth service that is not listening fails closed at once", "[external_auth]") {
  boost::asio::io_context io;
  uint16_t port;
  {
    tcp::acceptor closed(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    port = closed.local_endpoint().port();
  }
  ExternalAuthClient client(io);
  auto stream = grpc_request();
  auto started = std::chrono::steady_clock::now();
  AuthAnswer answer = ask(io, client, *stream, auth_at(port));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));
  CHECK(answer.kind == AuthAnswer::Kind::kFailed);
  CHECK(answer.status == 0);
  CHECK(answer.failure.find("cannot connect to 127.0.0.1:" + std::to_string(port)) != std::string::npos);
  CHECK(answer.failure.find("refused") != std::string::npos);
}

TEST_CASE("auth-url: an auth service that never answers fails closed when the timeout passes", "[external_auth]") {
  boost::asio::io_context io;
  AuthServer server(io);
  server.silent = true;
  ExternalAuthClient client(io);
  ExternalAuth auth = auth_at(server.port());
  auth.timeout = std::chrono::milliseconds(300);
  auto stream = grpc_request();
  auto started = std::chrono::steady_clock::now();
  AuthAnswer answer = ask(io, client, *stream, auth);
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(took >= std::chrono::milliseconds(290));
  CHECK(took < std::chrono::milliseconds(1500));
  CHECK(answer.kind == AuthAnswer::Kind::kFailed);
  CHECK(answer.failure == "no answer within 300 ms");
  CHECK(server.seen.size() == 1);  // it was asked, and kept quiet
  CHECK(client.in_flight() == 0);
}

TEST_CASE("auth-url: hostile answers (garbage, a huge head, a closed connection) fail closed", "[external_auth]") {
  boost::asio::io_context io;
  AuthServer server(io);
  ExternalAuthClient client(io);
  ExternalAuth auth = auth_at(server.port());
  auth.response_headers = {"x-user"};
  auto stream = grpc_request();

  server.raw = "this is not HTTP\r\n\r\n";
  CHECK(ask(io, client, *stream, auth).kind == AuthAnswer::Kind::kFailed);

  server.raw = "HTTP/1.1 200 OK\r\nX-User: " + std::string(100 * 1024, 'a') + "\r\n\r\n";
  AuthAnswer huge = ask(io, client, *stream, auth);
  CHECK(huge.kind == AuthAnswer::Kind::kFailed);
  CHECK(huge.upstream_headers.size() == 0);

  server.raw = "";  // closes without a word
  AuthAnswer nothing = ask(io, client, *stream, auth);
  CHECK(nothing.kind == AuthAnswer::Kind::kFailed);
  CHECK(nothing.failure.find("reading the answer failed") != std::string::npos);

  server.raw = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nX-User: bob\r\n\r\npartial";  // the body is not awaited
  AuthAnswer allowed = ask(io, client, *stream, auth);
  REQUIRE(allowed.kind == AuthAnswer::Kind::kAllowed);
  CHECK(*allowed.upstream_headers.find("x-user") == "bob");
}

TEST_CASE("auth-url: connections to the auth service are kept for the next questions, and a closed one is replaced",
          "[external_auth]") {
  boost::asio::io_context io;
  AuthServer server(io);
  server.keep_alive = true;
  ExternalAuthClient client(io);
  ExternalAuth auth = auth_at(server.port());
  auto stream = grpc_request();
  for (int i = 0; i < 3; ++i) CHECK(ask(io, client, *stream, auth).kind == AuthAnswer::Kind::kAllowed);
  REQUIRE(run_until(io, [&] { return client.idle_connections() == 1; }));
  CHECK(server.seen.size() == 3);
  CHECK(server.accepted == 1);
  CHECK(field(server.last(), "connection") == "<none>");  // HTTP/1.1 keep-alive

  // A service that closes after each answer: every question still gets its answer.
  server.keep_alive = false;
  for (int i = 0; i < 3; ++i) CHECK(ask(io, client, *stream, auth).kind == AuthAnswer::Kind::kAllowed);
  CHECK(server.seen.size() == 6);
  CHECK(client.questions_asked() == 6);

  // An answer with a large body decides at once; its connection is not kept.
  server.keep_alive = true;
  server.raw = "HTTP/1.1 403 Forbidden\r\nContent-Length: " + std::to_string(200 * 1024) + "\r\n\r\n" +
               std::string(200 * 1024, 'x');
  CHECK(ask(io, client, *stream, auth).kind == AuthAnswer::Kind::kForbidden);
  run_until(io, [] { return false; }, std::chrono::milliseconds(100));
  CHECK(client.idle_connections() == 0);
}

TEST_CASE("auth-url: a host name is resolved", "[external_auth]") {
  boost::asio::io_context io;
  AuthServer server(io);
  ExternalAuthClient client(io);
  ExternalAuth auth = auth_at(server.port());
  auth.host = "localhost";  // ::1 may come first: nothing listens there, 127.0.0.1 is tried next
  auto stream = grpc_request();
  AuthAnswer answer = ask(io, client, *stream, auth);
  CHECK(answer.kind == AuthAnswer::Kind::kAllowed);
  REQUIRE(server.seen.size() == 1);
  CHECK(field(server.last(), "host") == "localhost:" + std::to_string(server.port()));
}

TEST_CASE("auth-url: answers are cached by the auth-cache-key headers until auth-cache-duration passes",
          "[external_auth]") {
  boost::asio::io_context io;
  AuthServer server(io);
  server.headers = {{"X-User", "alice"}};
  ExternalAuthClient client(io);
  ExternalAuth auth = auth_at(server.port());
  auth.response_headers = {"x-user"};
  auth.cache_key = {"authorization", "$remote_addr"};
  auth.cache_duration = std::chrono::seconds(30);
  auto now = ExternalAuthClient::Clock::now();
  auto alice = grpc_request();

  CHECK(ask(io, client, *alice, auth, now).kind == AuthAnswer::Kind::kAllowed);
  AuthAnswer again = ask(io, client, *alice, auth, now + std::chrono::seconds(10));
  CHECK(again.kind == AuthAnswer::Kind::kAllowed);
  CHECK(again.cached);
  CHECK(*again.upstream_headers.find("x-user") == "alice");
  CHECK(server.seen.size() == 1);
  CHECK(client.cached_answers() == 1);

  // Another token, or another client address: another key, asked again.
  auto bob = grpc_request();
  bob->request_headers.remove("authorization");
  bob->request_headers.push_back({"authorization", "Bearer bob-token"});
  server.status = 403;
  CHECK(ask(io, client, *bob, auth, now).kind == AuthAnswer::Kind::kForbidden);
  CHECK(server.seen.size() == 2);
  AuthAnswer bob_again = ask(io, client, *bob, auth, now + std::chrono::seconds(1));
  CHECK(bob_again.kind == AuthAnswer::Kind::kForbidden);  // refusals are cached too
  CHECK(bob_again.cached);
  auto elsewhere = grpc_request();
  elsewhere->client_address_text = elsewhere->keep("10.9.9.9");
  server.status = 200;
  CHECK(ask(io, client, *elsewhere, auth, now).kind == AuthAnswer::Kind::kAllowed);
  CHECK(server.seen.size() == 3);

  // Expired: asked again.
  server.headers = {{"X-User", "alice-renewed"}};
  AuthAnswer later = ask(io, client, *alice, auth, now + std::chrono::seconds(31));
  CHECK_FALSE(later.cached);
  CHECK(*later.upstream_headers.find("x-user") == "alice-renewed");
  CHECK(server.seen.size() == 4);

  // Failures are never cached.
  ExternalAuth down = auth;
  down.port = 1;
  down.url = "http://127.0.0.1:1/verify";
  CHECK(ask(io, client, *alice, down, now).kind == AuthAnswer::Kind::kFailed);
  CHECK(ask(io, client, *alice, down, now).kind == AuthAnswer::Kind::kFailed);
  CHECK(client.questions_asked() == 6);
}

TEST_CASE("auth-url: without auth-cache-key every request is asked, and the cache keeps at most its bound",
          "[external_auth]") {
  boost::asio::io_context io;
  AuthServer server(io);
  ExternalAuthClient client(io);
  ExternalAuth auth = auth_at(server.port());
  auto stream = grpc_request();
  ask(io, client, *stream, auth);
  ask(io, client, *stream, auth);
  CHECK(server.seen.size() == 2);
  CHECK(client.cached_answers() == 0);
  CHECK_FALSE(ExternalAuthClient::cache_key(*stream, auth));

  auth.cache_key = {"$http_x_key"};
  auth.cache_duration = std::chrono::seconds(60);
  auto now = ExternalAuthClient::Clock::now();
  for (size_t i = 0; i < ExternalAuthClient::kMaxCacheEntries + 10; ++i) {
    auto keyed = grpc_request();
    std::string value = std::to_string(i);
    keyed->request_headers.push_back({"x-key", value});
    ask(io, client, *keyed, auth, now);
  }
  CHECK(client.cached_answers() == ExternalAuthClient::kMaxCacheEntries);
}

TEST_CASE("auth-url: a client destroyed while asking never answers", "[external_auth]") {
  boost::asio::io_context io;
  AuthServer server(io);
  server.silent = true;
  bool answered = false;
  {
    ExternalAuthClient client(io);
    auto stream = grpc_request();
    client.check(*stream, auth_at(server.port()), [&](AuthAnswer) { answered = true; });
    run_until(io, [&] { return !server.seen.empty(); }, std::chrono::seconds(2));
  }
  run_until(io, [] { return false; }, std::chrono::milliseconds(100));
  CHECK_FALSE(answered);
}

// --- The Router, with fake pods and the real auth client.
namespace {

struct RouterSetup {
  boost::asio::io_context io;
  AuthServer server{io};
  FakePods pods{io};
  WorkerStats stats;
  EndpointStates states;
  Router router{io, pods, stats, states, std::chrono::seconds(60), 1};
  std::shared_ptr<FakeClient> client = std::make_shared<FakeClient>();
  PodUses pod_uses;
  int32_t next_id = 1;

  explicit RouterSetup(const std::function<void(ExternalAuth&)>& configure = {}) {
    pods.handlers = {[this](const std::shared_ptr<ProxyStream>& stream, const std::string& reason,
                            UpstreamFailure failure) { router.upstream_failed(stream, reason, failure); },
                     [this](const std::shared_ptr<ProxyStream>& stream) { return router.upstream_answered(stream); }};
    ExternalAuth auth = auth_at(server.port());
    auth.response_headers = {"x-user"};
    if (configure) configure(auth);
    apply(table_with(auth));
  }

  // Host greeter.example.com behind `auth`, to `pod_count` pods.
  static std::shared_ptr<const RouteTable> table_with(const ExternalAuth& auth, int pod_count = 2) {
    auto table = std::make_shared<RouteTable>();
    table->clusters.push_back(std::make_shared<const Cluster>(cluster_of(pod_count)));
    Route route;
    route.path = "/";
    route.cluster = 0;
    route.ingress_namespace = "default";
    route.ingress_name = "greeter";
    AccessPolicy policy;
    policy.external_auth = auth;
    route.access.value = std::make_shared<const AccessPolicy>(std::move(policy));
    VirtualHost host;
    host.host = "greeter.example.com";
    host.routes.push_back(route);
    table->exact_hosts["greeter.example.com"] = std::make_shared<const VirtualHost>(std::move(host));
    return table;
  }
  void apply(std::shared_ptr<const RouteTable> table) {
    auto gone = pod_uses.apply(router.table().get(), *table, diff_clusters(router.table().get(), *table));
    router.set_table(std::move(table), gone);
  }

  std::shared_ptr<ProxyStream> call(bool grpc = true) {
    auto stream = grpc_request(client, next_id += 2);
    stream->request_headers.push_back({"x-user", "mallory"});  // spoofed: only the auth service may say
    if (!grpc) {
      stream->grpc = false;
      stream->method = "GET";
      stream->path = "/page?q=1";
      stream->request_headers.remove("content-type");
      stream->request_headers.remove("te");
    }
    router.dispatch(stream);
    return stream;
  }
  FakePod* attempt_of(const ProxyStream& stream) {
    FakePod* pod = nullptr;
    run_until(io, [&] { return (pod = pods.serving(stream)) != nullptr || client->answered; },
              std::chrono::seconds(3));
    return pod;
  }
  uint64_t refused(AccessRefusal reason) const { return stats.access_refused[reason].load(); }
};

}  // namespace

TEST_CASE("router: auth-url allows a call, which reaches a pod with the auth service's headers only",
          "[external_auth][router]") {
  RouterSetup setup;
  setup.server.headers = {{"X-User", "alice"}};
  auto stream = setup.call();
  CHECK_FALSE(setup.client->answered);  // waiting for the auth service
  CHECK(setup.pods.started() == 0);
  FakePod* pod = setup.attempt_of(*stream);
  REQUIRE(pod != nullptr);
  CHECK(std::count_if(stream->request_headers.begin(), stream->request_headers.end(),
                      [](const Header& header) { return header.name == "x-user"; }) == 1);
  CHECK(*stream->request_headers.find("x-user") == "alice");
  REQUIRE(setup.server.seen.size() == 1);
  CHECK(field(setup.server.last(), "x-user") == "<none>");  // the spoofed copy was dropped before asking
  pod->answer(*stream, 0);
  CHECK(setup.client->grpc_status == 0);
}

TEST_CASE("router: an allowed call without the header from the auth service carries none of the client's",
          "[external_auth][router]") {
  RouterSetup setup;
  auto stream = setup.call();
  FakePod* pod = setup.attempt_of(*stream);
  REQUIRE(pod != nullptr);
  CHECK(stream->request_headers.find("x-user") == nullptr);
}

TEST_CASE("router: auth-url 401 and 403 answer UNAUTHENTICATED and PERMISSION_DENIED to gRPC, 401 and 403 to HTTP",
          "[external_auth][router]") {
  RouterSetup setup;
  setup.server.status = 401;
  setup.server.headers = {{"WWW-Authenticate", "Basic realm=\"x\""}};
  auto grpc_401 = setup.call();
  REQUIRE(run_until(setup.io, [&] { return setup.client->answered; }));
  CHECK(setup.client->grpc_status == static_cast<int>(GrpcStatus::kUnauthenticated));
  CHECK(setup.refused(kRefusedExternalAuth) == 1);

  setup.client = std::make_shared<FakeClient>();
  auto http_401 = setup.call(false);
  REQUIRE(run_until(setup.io, [&] { return setup.client->answered; }));
  CHECK(setup.client->http_status == 401);
  REQUIRE(http_401->response.headers.find("www-authenticate") != nullptr);
  CHECK(*http_401->response.headers.find("www-authenticate") == "Basic realm=\"x\"");

  setup.server.status = 403;
  setup.server.headers = {};
  setup.client = std::make_shared<FakeClient>();
  auto grpc_403 = setup.call();
  REQUIRE(run_until(setup.io, [&] { return setup.client->answered; }));
  CHECK(setup.client->grpc_status == static_cast<int>(GrpcStatus::kPermissionDenied));
  setup.client = std::make_shared<FakeClient>();
  auto http_403 = setup.call(false);
  REQUIRE(run_until(setup.io, [&] { return setup.client->answered; }));
  CHECK(setup.client->http_status == 403);

  CHECK(setup.refused(kRefusedExternalAuth) == 4);
  CHECK(setup.refused(kRefusedAuthFailure) == 0);
  CHECK(setup.pods.started() == 0);
}

TEST_CASE("router: with auth-signin an HTTP client refused with 401 is sent to sign in, rd= its URL",
          "[external_auth][router]") {
  RouterSetup setup([](ExternalAuth& auth) { auth.signin = "https://login.example.com/start"; });
  setup.server.status = 401;
  auto page = setup.call(false);
  REQUIRE(run_until(setup.io, [&] { return setup.client->answered; }));
  CHECK(setup.client->http_status == 302);
  REQUIRE(page->response.headers.find("location") != nullptr);
  CHECK(*page->response.headers.find("location") ==
        "https://login.example.com/start?rd=http%3A%2F%2Fgreeter.example.com%2Fpage%3Fq%3D1");

  setup.client = std::make_shared<FakeClient>();
  auto call = setup.call();  // gRPC cannot follow a redirect
  REQUIRE(run_until(setup.io, [&] { return setup.client->answered; }));
  CHECK(setup.client->grpc_status == static_cast<int>(GrpcStatus::kUnauthenticated));
}

TEST_CASE("router: an auth service that fails, is down or is too slow fails the call closed (UNAVAILABLE, 500)",
          "[external_auth][router]") {
  SECTION("500 from the auth service") {
    RouterSetup setup;
    setup.server.status = 500;
    auto stream = setup.call();
    REQUIRE(run_until(setup.io, [&] { return setup.client->answered; }));
    CHECK(setup.client->grpc_status == static_cast<int>(GrpcStatus::kUnavailable));
    CHECK(setup.refused(kRefusedAuthFailure) == 1);
    CHECK(setup.pods.started() == 0);
    setup.client = std::make_shared<FakeClient>();
    auto page = setup.call(false);
    REQUIRE(run_until(setup.io, [&] { return setup.client->answered; }));
    CHECK(setup.client->http_status == 500);
  }
  SECTION("nothing listening") {
    RouterSetup setup([](ExternalAuth& auth) {
      auth.port = 1;
      auth.url = "http://127.0.0.1:1/verify";
    });
    auto stream = setup.call();
    REQUIRE(run_until(setup.io, [&] { return setup.client->answered; }));
    CHECK(setup.client->grpc_status == static_cast<int>(GrpcStatus::kUnavailable));
    const std::string_view* message = stream->response.headers.find("grpc-message");
    REQUIRE(message != nullptr);
    CHECK(message->find("127.0.0.1:1") != std::string_view::npos);
    CHECK(setup.refused(kRefusedAuthFailure) == 1);
  }
  SECTION("no answer in time") {
    RouterSetup setup([](ExternalAuth& auth) { auth.timeout = std::chrono::milliseconds(200); });
    setup.server.silent = true;
    auto stream = setup.call();
    REQUIRE(run_until(setup.io, [&] { return setup.client->answered; }, std::chrono::seconds(2)));
    CHECK(setup.client->grpc_status == static_cast<int>(GrpcStatus::kUnavailable));
    CHECK(setup.pods.started() == 0);
  }
}

TEST_CASE("router: a call cancelled while the auth service thinks is dropped when the answer comes",
          "[external_auth][router]") {
  RouterSetup setup;
  auto stream = setup.call();
  stream->closed = true;  // the client reset it
  REQUIRE(run_until(setup.io, [&] { return setup.server.seen.size() == 1 && setup.router.auth_client().in_flight() == 0; }));
  run_until(setup.io, [] { return false; }, std::chrono::milliseconds(50));
  CHECK(setup.pods.started() == 0);
  CHECK_FALSE(setup.client->answered);

  // Gone altogether: nothing holds it, nothing touches it.
  std::weak_ptr<ProxyStream> weak;
  {
    auto gone = setup.call();
    weak = gone;
  }
  CHECK(weak.expired());
  REQUIRE(run_until(setup.io, [&] { return setup.server.seen.size() == 2 && setup.router.auth_client().in_flight() == 0; }));
  CHECK(setup.pods.started() == 0);
}

TEST_CASE("router: a call allowed after the table changed goes on with its own table", "[external_auth][router]") {
  RouterSetup setup;
  setup.server.headers = {{"X-User", "alice"}};
  auto stream = setup.call();
  // A new table arrives while the auth service is asked: other pods, another cluster object.
  ExternalAuth auth = auth_at(setup.server.port());
  setup.apply(RouterSetup::table_with(auth, 3));
  FakePod* pod = setup.attempt_of(*stream);
  REQUIRE(pod != nullptr);
  pod->answer(*stream, 0);
  CHECK(setup.client->grpc_status == 0);
  // The next call runs on the new table.
  setup.client = std::make_shared<FakeClient>();
  auto next = setup.call();
  FakePod* next_pod = setup.attempt_of(*next);
  REQUIRE(next_pod != nullptr);
  next_pod->answer(*next, 0);
  CHECK(setup.client->grpc_status == 0);
}

TEST_CASE("router: cached auth-url answers decide without asking again", "[external_auth][router]") {
  RouterSetup setup([](ExternalAuth& auth) {
    auth.cache_key = {"authorization"};
    auth.cache_duration = std::chrono::seconds(60);
  });
  setup.server.headers = {{"X-User", "alice"}};
  for (int i = 0; i < 3; ++i) {
    setup.client = std::make_shared<FakeClient>();
    auto stream = setup.call();
    FakePod* pod = setup.attempt_of(*stream);
    REQUIRE(pod != nullptr);
    CHECK(*stream->request_headers.find("x-user") == "alice");
    pod->answer(*stream, 0);
  }
  CHECK(setup.server.seen.size() == 1);
}
