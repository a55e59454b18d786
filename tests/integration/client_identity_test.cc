// Client identity (docs/edge-access.md): the pod learns who called
// (x-forwarded-for, x-real-ip, x-forwarded-proto, x-forwarded-host) from the
// connection, from a trusted proxy's X-Forwarded-For (--proxy-real-ip-cidr),
// or from a load balancer's PROXY protocol header (--use-proxy-protocol); a
// client's own word about itself never reaches the pod; the access log names
// the client as judged. Clients connect from chosen 127.0.0.x addresses.

#include "tests/integration/api_objects.h"
#include "tests/integration/harness.h"
#include "tests/integration/http_client.h"
#include "tests/integration/scenario.h"
#include "tests/proto/echo.grpc.pb.h"

#include <catch2/catch.hpp>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace grpc_ingress::testing {
namespace {

const std::vector<std::string> kIdentityHeaders = {"x-forwarded-for", "x-real-ip", "x-forwarded-proto",
                                                   "x-forwarded-host", "x-forwarded-port"};

// A TCP connection to 127.0.0.1:`port` from `source` (a 127.0.0.x address),
// with every wait bounded. Owns the descriptor until release().
class Client {
 public:
  Client(const std::string& source, uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
      std::string error = std::strerror(errno);
      ::close(fd_);
      throw std::runtime_error("connect from " + source + " to port " + std::to_string(port) + ": " + error);
    }
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  int fd() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

  void send(std::string_view bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
      sent += static_cast<size_t>(n);
    }
  }

  // Everything until the proxy closes (or 5 s pass); `closed` says which.
  std::string read_to_close(bool* closed = nullptr) {
    std::string out;
    char buffer[4096];
    const auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        if (closed) *closed = true;
        return out;
      }
      out.append(buffer, static_cast<size_t>(n));
    }
    if (closed) *closed = false;
    return out;
  }

 private:
  int fd_ = -1;
};

// A v2 PROXY header (PROXY command, TCP over IPv4) naming `client`:`port`.
std::string proxy_v2_inet(const std::string& client, uint16_t port, uint16_t destination_port) {
  std::string out("\r\n\r\n\0\r\nQUIT\n", 12);
  out += '\x21';  // version 2, PROXY
  out += '\x11';  // AF_INET, STREAM
  out += std::string("\x00\x0c", 2);
  in_addr source{}, destination{};
  ::inet_pton(AF_INET, client.c_str(), &source);
  ::inet_pton(AF_INET, "127.0.0.1", &destination);
  out.append(reinterpret_cast<const char*>(&source), 4);
  out.append(reinterpret_cast<const char*>(&destination), 4);
  out += static_cast<char>(port >> 8);
  out += static_cast<char>(port & 0xff);
  out += static_cast<char>(destination_port >> 8);
  out += static_cast<char>(destination_port & 0xff);
  return out;
}

// A v2 PROXY header of command LOCAL (a balancer's own health check): names no one.
std::string proxy_v2_local() { return std::string("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16); }

std::string get_request(const std::string& host, const std::vector<std::string>& extra_headers = {}) {
  std::string request = "GET /whoami HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n";
  for (const std::string& header : extra_headers) request += header + "\r\n";
  return request + "\r\n";
}

// The headers http-pod says reached it (name -> values), from its JSON answer.
std::map<std::string, std::vector<std::string>> pod_headers(const std::string& raw_response) {
  auto responses = parse_responses(raw_response);
  INFO("raw response: " << raw_response);
  REQUIRE(responses.size() == 1);
  REQUIRE(responses[0].status == 200);
  auto json = nlohmann::json::parse(responses[0].body);
  std::map<std::string, std::vector<std::string>> out;
  for (auto& [name, values] : json["headers"].items()) {
    for (auto& value : values) out[name].push_back(value.get<std::string>());
  }
  return out;
}

using Values = std::vector<std::string>;

// Echo/Unary over `fd` (a connection already made, maybe past a PROXY
// header), carrying `metadata`; the identity headers as the pod saw them.
std::map<std::string, std::string> echo_over(int fd, const std::string& authority,
                                             const std::vector<std::pair<std::string, std::string>>& metadata = {}) {
  grpc::ChannelArguments arguments;
  arguments.SetString(GRPC_ARG_DEFAULT_AUTHORITY, authority);  // else "test.authority"
  auto channel = grpc::CreateCustomInsecureChannelFromFd(authority, fd, arguments);  // owns fd
  auto stub = test::Echo::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  for (const auto& [name, value] : metadata) context.AddMetadata(name, value);
  test::EchoRequest request;
  for (const std::string& name : kIdentityHeaders) request.add_echo_metadata(name);
  test::EchoReply reply;
  grpc::Status status = stub->Unary(&context, request, &reply);
  INFO("status " << status.error_code() << ": " << status.error_message());
  REQUIRE(status.ok());
  return {reply.metadata().begin(), reply.metadata().end()};
}

std::string value_of(const std::map<std::string, std::string>& metadata, const std::string& name) {
  auto it = metadata.find(name);
  return it == metadata.end() ? "<none>" : it->second;
}

// An Echo Service (gRPC pods) on /grpc_ingress.test.Echo and an http-pod
// Service on / (spoken to over HTTP/1.1: no appProtocol), behind one
// grpc-ingress started with `flags`.
struct Edge {
  explicit Edge(const std::vector<std::string>& flags) : manifests(tmp.path()) {
    echo_pod = Pod::start(tmp.path(), "echo-0");
    web_pod = Pod::start_http(tmp.path(), "web-0");
    manifests.write_service("echo", {echo_pod->endpoint()});
    manifests.write_service("web", {web_pod->endpoint()}, std::nullopt);
    manifests.write_ingress({.paths = {{.path = kEchoPath, .service = "echo"}, {.path = "/", .service = "web"}}});
    ingress = Ingress::start(manifests.dir(), tmp.path(), {.extra_args = flags});
  }

  std::string authority() const { return ingress->target(); }

  TempDir tmp;
  ManifestDir manifests;
  std::unique_ptr<Pod> echo_pod, web_pod;
  std::unique_ptr<Ingress> ingress;
};

TEST_CASE("the pod learns the connecting client's address, and a client's own X-Forwarded-* is not passed on",
          "[proxy][identity]") {
  Edge edge({});
  {
    // gRPC from 127.0.0.2, claiming to be someone else.
    Client client("127.0.0.2", edge.ingress->http_port());
    auto seen = echo_over(client.release(), edge.authority(),
                          {{"x-forwarded-for", "203.0.113.66"}, {"x-real-ip", "203.0.113.66"},
                           {"x-forwarded-proto", "https"}, {"x-forwarded-host", "admin.internal"},
                           {"x-forwarded-port", "443"}});
    CHECK(value_of(seen, "x-forwarded-for") == "127.0.0.2");
    CHECK(value_of(seen, "x-real-ip") == "127.0.0.2");
    CHECK(value_of(seen, "x-forwarded-proto") == "http");
    CHECK(value_of(seen, "x-forwarded-host") == edge.authority());
    CHECK(value_of(seen, "x-forwarded-port") == "<none>");
  }
  {
    // HTTP/1.1 from 127.0.0.4 to a pod spoken to over HTTP/1.1.
    Client client("127.0.0.4", edge.ingress->http_port());
    client.send(get_request("web.example", {"X-Forwarded-For: 203.0.113.66, 10.0.0.1", "X-Real-IP: 203.0.113.66"}));
    std::string raw = client.read_to_close();
    auto headers = pod_headers(raw);
    CHECK(nlohmann::json::parse(parse_responses(raw).at(0).body).value("protocol", "") == "HTTP/1.1");
    CHECK(headers["x-forwarded-for"] == Values{"127.0.0.4"});
    CHECK(headers["x-real-ip"] == Values{"127.0.0.4"});
    CHECK(headers["x-forwarded-proto"] == Values{"http"});
    CHECK(headers["x-forwarded-host"] == Values{"web.example"});
  }
  // The access log names each client as judged.
  Process& proxy = edge.ingress->process();
  CHECK(wait_until([&] { return proxy.stdout_text().find("\"remote_addr\":\"127.0.0.4\"") != std::string::npos; }, 3s));
  CHECK(proxy.stdout_text().find("\"remote_addr\":\"127.0.0.2\"") != std::string::npos);
  CHECK(proxy.stdout_text().find("203.0.113.66") == std::string::npos);
}

TEST_CASE("behind a trusted proxy the client is the address it forwarded for, and only there",
          "[proxy][identity]") {
  Edge edge({"--proxy-real-ip-cidr", "127.0.0.3/32"});
  {
    Client proxy("127.0.0.3", edge.ingress->http_port());
    auto seen = echo_over(proxy.release(), edge.authority(),
                          {{"x-forwarded-for", "203.0.113.7"}, {"x-forwarded-proto", "https"}});
    CHECK(value_of(seen, "x-forwarded-for") == "203.0.113.7");
    CHECK(value_of(seen, "x-real-ip") == "203.0.113.7");
    CHECK(value_of(seen, "x-forwarded-proto") == "https");  // the proxy terminated TLS
  }
  {
    // A client writing its own entry first does not choose its identity.
    Client proxy("127.0.0.3", edge.ingress->http_port());
    proxy.send(get_request("web.example", {"X-Forwarded-For: 198.51.100.1, 203.0.113.8"}));
    auto headers = pod_headers(proxy.read_to_close());
    CHECK(headers["x-forwarded-for"] == Values{"203.0.113.8"});
    CHECK(headers["x-real-ip"] == Values{"203.0.113.8"});
  }
  {
    // The same header from an untrusted address names no one.
    Client client("127.0.0.2", edge.ingress->http_port());
    auto seen = echo_over(client.release(), edge.authority(), {{"x-forwarded-for", "203.0.113.7"}});
    CHECK(value_of(seen, "x-forwarded-for") == "127.0.0.2");
    CHECK(value_of(seen, "x-real-ip") == "127.0.0.2");
  }
  Process& ingress = edge.ingress->process();
  CHECK(wait_until([&] { return ingress.stdout_text().find("\"remote_addr\":\"203.0.113.8\"") != std::string::npos; }, 3s));
  CHECK(ingress.stdout_text().find("\"remote_addr\":\"203.0.113.7\"") != std::string::npos);
  CHECK(ingress.stdout_text().find("\"remote_addr\":\"127.0.0.3\"") == std::string::npos);
}

TEST_CASE("with --compute-full-forwarded-for the pod gets the trusted proxy's list and the proxy's address",
          "[proxy][identity]") {
  Edge edge({"--proxy-real-ip-cidr", "127.0.0.3/32", "--compute-full-forwarded-for"});
  {
    Client proxy("127.0.0.3", edge.ingress->http_port());
    auto seen = echo_over(proxy.release(), edge.authority(), {{"x-forwarded-for", "203.0.113.7"}});
    CHECK(value_of(seen, "x-forwarded-for") == "203.0.113.7, 127.0.0.3");
    CHECK(value_of(seen, "x-real-ip") == "203.0.113.7");
  }
  {
    Client client("127.0.0.2", edge.ingress->http_port());
    auto seen = echo_over(client.release(), edge.authority(), {{"x-forwarded-for", "203.0.113.7"}});
    CHECK(value_of(seen, "x-forwarded-for") == "127.0.0.2");
  }
}

TEST_CASE("with --use-proxy-protocol the pod sees the address a PROXY v1 or v2 header declares, over TLS too",
          "[proxy][identity][proxy-protocol]") {
  Edge edge({"--use-proxy-protocol"});
  const uint16_t port = edge.ingress->http_port();

  SECTION("v1 before HTTP/1.1") {
    Client balancer("127.0.0.5", port);
    balancer.send("PROXY TCP4 198.51.100.23 127.0.0.1 50123 " + std::to_string(port) + "\r\n" +
                  get_request("web.example"));
    auto headers = pod_headers(balancer.read_to_close());
    CHECK(headers["x-forwarded-for"] == Values{"198.51.100.23"});
    CHECK(headers["x-real-ip"] == Values{"198.51.100.23"});
  }
  SECTION("v1 TCP6 before HTTP/1.1") {
    Client balancer("127.0.0.5", port);
    balancer.send("PROXY TCP6 2001:db8::23 ::1 50123 " + std::to_string(port) + "\r\n" + get_request("web.example"));
    auto headers = pod_headers(balancer.read_to_close());
    CHECK(headers["x-forwarded-for"] == Values{"2001:db8::23"});
  }
  SECTION("v2 before gRPC") {
    Client balancer("127.0.0.5", port);
    balancer.send(proxy_v2_inet("192.0.2.44", 40404, port));
    auto seen = echo_over(balancer.release(), edge.authority());
    CHECK(value_of(seen, "x-forwarded-for") == "192.0.2.44");
    CHECK(value_of(seen, "x-real-ip") == "192.0.2.44");
  }
  SECTION("v2 arriving in pieces, the request right behind it") {
    Client balancer("127.0.0.5", port);
    std::string header = proxy_v2_inet("192.0.2.45", 40405, port);
    balancer.send(header.substr(0, 5));
    std::this_thread::sleep_for(50ms);
    balancer.send(header.substr(5, 14));
    std::this_thread::sleep_for(50ms);
    balancer.send(header.substr(19) + get_request("web.example"));
    auto headers = pod_headers(balancer.read_to_close());
    CHECK(headers["x-forwarded-for"] == Values{"192.0.2.45"});
  }
  SECTION("v2 LOCAL (a balancer's health check) keeps the connection's own address") {
    Client balancer("127.0.0.5", port);
    balancer.send(proxy_v2_local() + get_request("web.example"));
    auto headers = pod_headers(balancer.read_to_close());
    CHECK(headers["x-forwarded-for"] == Values{"127.0.0.5"});
  }
  SECTION("v2 before a TLS handshake, then HTTP/1.1 inside TLS") {
    Client balancer("127.0.0.5", edge.ingress->https_port());
    balancer.send(proxy_v2_inet("192.0.2.46", 40406, edge.ingress->https_port()));
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    REQUIRE(context);
    SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);  // the proxy's default self-signed certificate
    static const unsigned char kAlpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(context.get(), kAlpn, sizeof(kAlpn) - 1);
    std::unique_ptr<SSL, decltype(&SSL_free)> tls(SSL_new(context.get()), SSL_free);
    SSL_set_fd(tls.get(), balancer.fd());
    SSL_set_tlsext_host_name(tls.get(), "web.example");
    int connected = SSL_connect(tls.get());
    INFO("TLS: " << ERR_error_string(ERR_get_error(), nullptr));
    REQUIRE(connected == 1);
    std::string request = get_request("web.example");
    REQUIRE(SSL_write(tls.get(), request.data(), static_cast<int>(request.size())) == static_cast<int>(request.size()));
    std::string response;
    char buffer[4096];
    for (int n; (n = SSL_read(tls.get(), buffer, sizeof(buffer))) > 0;) response.append(buffer, static_cast<size_t>(n));
    auto headers = pod_headers(response);
    CHECK(headers["x-forwarded-for"] == Values{"192.0.2.46"});
    CHECK(headers["x-forwarded-proto"] == Values{"https"});
  }
  SECTION("a connection without the header is closed unanswered, and counted") {
    {
      Client client("127.0.0.6", port);
      client.send(get_request("web.example"));
      bool closed = false;
      std::string answer = client.read_to_close(&closed);
      CHECK(closed);
      CHECK(answer.empty());
    }
    {
      Client client("127.0.0.6", port);
      client.send("PROXY TCP4 198.51.100.23 127.0.0.1 99999 80\r\n" + get_request("web.example"));
      bool closed = false;
      CHECK(client.read_to_close(&closed).empty());
      CHECK(closed);
    }
    CHECK(wait_until([&] { return metric_value(*edge.ingress, "grpc_ingress_proxy_protocol_errors_total") >= 2; }, 3s));
    // Plain gRPC without the header fails too: the proxy never speaks to it.
    Client client("127.0.0.6", port);
    auto channel = grpc::CreateInsecureChannelFromFd(edge.authority(), client.release());
    auto stub = test::Echo::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 3s);
    test::EchoReply reply;
    CHECK_FALSE(stub->Unary(&context, test::EchoRequest(), &reply).ok());
  }
}

}  // namespace
}  // namespace grpc_ingress::testing
