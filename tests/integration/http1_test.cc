// HTTP/1.1 clients on the h2c port: the first bytes decide the protocol, and
// an HTTP/1.1 request reaches the pod as an HTTP/2 stream. What a curl user
// sees: keep-alive, chunked bodies both ways, pipelining answered in order,
// bounded heads and bodies, the proxy's own errors as plain HTTP.

#include "tests/integration/api_objects.h"
#include "tests/integration/harness.h"
#include "tests/integration/http_client.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <random>

namespace grpc_ingress::testing {
namespace {

// One http-pod Service "web" on every host, behind a running grpc-ingress.
struct WebSetup {
  explicit WebSetup(const IngressOptions& options = {}, const std::string& host = "") : manifests(tmp.path()) {
    pod = Pod::start_http(tmp.path(), "web-0");
    manifests.write_service("web", {pod->endpoint()});
    manifests.write_ingress({.name = "web", .host = host, .paths = {{.path = "/", .service = "web"}}});
    ingress = Ingress::start(manifests.dir(), tmp.path(), options);
  }
  std::string url(const std::string& path) const { return "http://" + ingress->target() + path; }

  TempDir tmp;
  ManifestDir manifests;
  std::unique_ptr<Pod> pod;
  std::unique_ptr<Ingress> ingress;
};

// What http-pod reported about the request it got.
nlohmann::json pod_view(const std::string& body) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  INFO("pod answer: " << body);
  REQUIRE(json.is_object());
  return json;
}

bool pod_saw_header(const nlohmann::json& view, const std::string& name) { return view["headers"].contains(name); }

std::string random_bytes(size_t size) {
  std::mt19937_64 random(size);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(random() & 0xff);
  return out;
}

std::filesystem::path write_file(const std::filesystem::path& dir, const std::string& name, const std::string& bytes) {
  auto path = dir / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string get(const std::string& path, const std::string& extra_headers = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: web.example\r\n" + extra_headers + "\r\n";
}

TEST_CASE("HTTP/1.1 and h2c clients on one port reach the same pod with the same request", "[http1]") {
  WebSetup setup;
  CurlResult h1 = run_curl(setup.tmp.path(), {"--http1.1", "-H", "Connection: keep-alive, x-hop", "-H", "X-Hop: dropped",
                                              "-H", "Keep-Alive: timeout=5", "-H", "X-Kept: yes",
                                              setup.url("/info?x=1")});
  INFO("HTTP/1.1: exit " << h1.exit_code << " " << h1.stderr_text << "\n" << h1.headers << h1.body);
  REQUIRE(h1.status == 200);
  CHECK(h1.headers.starts_with("HTTP/1.1 200"));
  auto view = pod_view(h1.body);
  CHECK(view["pod"] == "web-0");
  CHECK(view["method"] == "GET");
  CHECK(view["scheme"] == "http");
  CHECK(view["path"] == "/info?x=1");
  CHECK(view["authority"] == setup.ingress->target());  // Host became :authority
  CHECK(pod_saw_header(view, "x-kept"));
  CHECK(pod_saw_header(view, "x-request-id"));
  // Hop-by-hop headers, and those Connection names, stay on the client's hop.
  CHECK_FALSE(pod_saw_header(view, "x-hop"));
  CHECK_FALSE(pod_saw_header(view, "keep-alive"));
  CHECK_FALSE(pod_saw_header(view, "connection"));
  CHECK_FALSE(pod_saw_header(view, "host"));

  CurlResult h2 = run_curl(setup.tmp.path(), {"--http2-prior-knowledge", setup.url("/info?x=1")});
  INFO("h2c: exit " << h2.exit_code << " " << h2.stderr_text << "\n" << h2.headers << h2.body);
  REQUIRE(h2.status == 200);
  CHECK(h2.headers.starts_with("HTTP/2 200"));
  auto view2 = pod_view(h2.body);
  CHECK(view2["pod"] == "web-0");
  CHECK(view2["path"] == view["path"]);
  CHECK(view2["authority"] == view["authority"]);
}

TEST_CASE("an HTTP/1.1 client reuses its connection for the next requests (keep-alive)", "[http1]") {
  WebSetup setup;
  // -w per transfer: how many new connections each one needed.
  CurlResult result = run_curl(setup.tmp.path(), {"--http1.1", "-w", "%{num_connects} ", setup.url("/a"),
                                                  setup.url("/b"), "-o", "/dev/null", setup.url("/c"), "-o", "/dev/null"});
  INFO("exit " << result.exit_code << " " << result.stderr_text << " connects: " << result.write_out);
  CHECK(result.exit_code == 0);
  CHECK(result.write_out == "1 0 0 ");
  CHECK(result.status == 200);
}

TEST_CASE("request bodies reach the pod whole: chunked, with content-length, larger than the flow window", "[http1]") {
  WebSetup setup;
  const std::string body = random_bytes(3 * 1024 * 1024 + 17);  // many times the 256 KiB stream window
  auto file = write_file(setup.tmp.path(), "upload.bin", body);

  SECTION("chunked") {
    CurlResult result = run_curl(setup.tmp.path(), {"--http1.1", "-H", "Transfer-Encoding: chunked",
                                                    "--data-binary", "@" + file.string(), setup.url("/upload")});
    INFO("exit " << result.exit_code << " " << result.stderr_text << "\n" << result.headers);
    REQUIRE(result.status == 200);
    auto view = pod_view(result.body);
    CHECK(view["method"] == "POST");
    CHECK(view["body_bytes"] == body.size());
    CHECK(view["body_fnv1a"] == fnv1a_hex(body));
    CHECK_FALSE(pod_saw_header(view, "transfer-encoding"));
  }
  SECTION("content-length, echoed back") {
    // curl sends "Expect: 100-continue" for a body this large and waits 1 s
    // for a "100 Continue" before sending anyway: the proxy answers at once.
    CurlResult result = run_curl(setup.tmp.path(), {"--http1.1", "--data-binary", "@" + file.string(),
                                                    setup.url("/upload?echo")});
    INFO("exit " << result.exit_code << " " << result.stderr_text << "\n" << result.headers);
    REQUIRE(result.status == 200);
    CHECK(result.headers.find("HTTP/1.1 100 Continue") != std::string::npos);
    CHECK(result.header("content-length") == std::to_string(body.size()));
    CHECK(result.body.size() == body.size());
    CHECK(result.body == body);
  }
}

TEST_CASE("a response without a known length goes to HTTP/1.1 clients chunked, trailers only when asked for", "[http1]") {
  WebSetup setup;
  CurlResult result = run_curl(setup.tmp.path(), {"--http1.1", setup.url("/stream?chunks=40&chunk_bytes=10000")});
  INFO("exit " << result.exit_code << " " << result.stderr_text << "\n" << result.headers);
  REQUIRE(result.status == 200);
  CHECK(result.header("transfer-encoding") == "chunked");
  CHECK_FALSE(result.header("content-length"));
  CHECK(result.body.size() == 400000);

  RawConnection connection("127.0.0.1", setup.ingress->http_port());
  auto ends = [](const std::string& bytes) {
    return bytes.find("\r\n0\r\n") != std::string::npos && bytes.ends_with("\r\n\r\n");
  };
  connection.send(get("/stream?chunks=2&chunk_bytes=5&trailers", "TE: trailers\r\n"));
  auto with_te = parse_responses(connection.read_until(ends, 5s));
  REQUIRE(with_te.size() == 1);
  CHECK(with_te[0].body == "cccccbbbbb");
  auto trailer = with_te[0].trailers.find("x-pod-trailer");
  REQUIRE(trailer != with_te[0].trailers.end());
  CHECK(trailer->second == "web-0");

  // Without "TE: trailers" the answer may also come with a content-length.
  connection.send(get("/stream?chunks=2&chunk_bytes=5&trailers"));
  auto whole = [](const std::string& bytes) {
    auto responses = parse_responses(bytes);
    return responses.size() == 1 && responses[0].body.size() == 10 && bytes.ends_with("\r\n");
  };
  auto without_te = parse_responses(connection.read_until(whole, 5s));
  REQUIRE(without_te.size() == 1);
  CHECK(without_te[0].body == "cccccbbbbb");
  CHECK(without_te[0].trailers.empty());
}

TEST_CASE("pipelined HTTP/1.1 requests are answered in order on one connection", "[http1]") {
  WebSetup setup;
  RawConnection connection("127.0.0.1", setup.ingress->http_port());
  // One write: three requests, the second with a body, the last closing.
  connection.send(get("/first") +
                  "POST /second HTTP/1.1\r\nHost: web.example\r\nContent-Length: 5\r\n\r\nhello" +
                  get("/third", "Connection: close\r\n"));
  std::string bytes;
  REQUIRE(connection.wait_closed(5s, &bytes));
  auto responses = parse_responses(bytes);
  INFO(bytes);
  REQUIRE(responses.size() == 3);
  const char* paths[] = {"/first", "/second", "/third"};
  for (size_t i = 0; i < 3; ++i) {
    CHECK(responses[i].status == 200);
    CHECK(pod_view(responses[i].body)["path"] == paths[i]);
  }
  CHECK(pod_view(responses[1].body)["body_bytes"] == 5);
  CHECK(responses[2].headers.find("connection")->second == "close");
}

TEST_CASE("oversized HTTP/1.1 request heads get 431 and oversized bodies 413", "[http1][limits]") {
  WebSetup setup({.extra_args = {"--http1-max-body-size", "1Mi"}});

  CurlResult big_head = run_curl(setup.tmp.path(), {"--http1.1", "-H", "X-Big: " + std::string(70 * 1024, 'a'),
                                                    setup.url("/")});
  INFO("head: exit " << big_head.exit_code << " " << big_head.stderr_text << "\n" << big_head.headers);
  CHECK(big_head.status == 431);
  CHECK(big_head.header("connection") == "close");

  auto file = write_file(setup.tmp.path(), "big.bin", random_bytes(2 * 1024 * 1024));
  CurlResult big_body = run_curl(setup.tmp.path(), {"--http1.1", "--data-binary", "@" + file.string(), setup.url("/")});
  INFO("body: exit " << big_body.exit_code << " " << big_body.stderr_text << "\n" << big_body.headers);
  CHECK(big_body.status == 413);
  CHECK(big_body.body.find("too large") != std::string::npos);

  // Just under the limit passes.
  auto fits = write_file(setup.tmp.path(), "fits.bin", random_bytes(1024 * 1024));
  CurlResult ok = run_curl(setup.tmp.path(), {"--http1.1", "--data-binary", "@" + fits.string(), setup.url("/")});
  CHECK(ok.status == 200);
}

TEST_CASE("the proxy's own answers reach HTTP/1.1 clients as plain HTTP: 404, 503, 415 for gRPC", "[http1][errors]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  auto pod = Pod::start_http(tmp.path(), "web-0");
  manifests.write_service("web", {pod->endpoint()});
  manifests.write_service("empty", {});
  manifests.write_ingress({.name = "web", .host = "web.example", .paths = {{.path = "/", .service = "web"},
                                                                           {.path = "/empty", .service = "empty"}}});
  auto ingress = Ingress::start(manifests.dir(), tmp.path());
  std::string base = "http://" + ingress->target();

  CurlResult no_route = run_curl(tmp.path(), {"--http1.1", "-H", "Host: other.example", base + "/x"});
  CHECK(no_route.status == 404);
  CHECK(no_route.body.find("no route") != std::string::npos);

  CurlResult no_endpoints = run_curl(tmp.path(), {"--http1.1", "-H", "Host: web.example", base + "/empty/x"});
  CHECK(no_endpoints.status == 503);
  CHECK(no_endpoints.body.find("no ready endpoints") != std::string::npos);

  // gRPC cannot work over HTTP/1.1: a clear refusal, not a request the pod cannot answer.
  CurlResult grpc = run_curl(tmp.path(), {"--http1.1", "-H", "Host: web.example", "-H", "content-type: application/grpc",
                                          "--data-binary", "x", base + "/helloworld.Greeter/SayHello"});
  INFO(grpc.headers << grpc.body);
  CHECK(grpc.status == 415);
  CHECK(grpc.header("grpc-status") == "12");
  CHECK(grpc.body.find("gRPC needs HTTP/2") != std::string::npos);
  CHECK(grpc.elapsed < 2s);

  // The connection survives the proxy's answers.
  CurlResult again = run_curl(tmp.path(), {"--http1.1", "-w", "%{num_connects} ", "-H", "Host: web.example",
                                           base + "/nothing-here-is-404", base + "/empty/x", "-o", "/dev/null",
                                           base + "/ok", "-o", "/dev/null"});
  CHECK(again.write_out == "1 0 0 ");
  CHECK(again.status == 200);
}

TEST_CASE("a plain HTTP/1.1 request routed to a gRPC pod gets the pod's own answer", "[http1]") {
  OneService setup("greeter", "/", 1);
  CurlResult result = run_curl(setup.tmp.path(), {"--http1.1", "http://" + setup.ingress->target() + "/"});
  INFO(result.headers);
  // gRPC servers answer a GET with HTTP 200 and a grpc-status of their own.
  CHECK(result.status == 200);
  CHECK(result.header("grpc-status").has_value());
  CHECK(result.header("content-type") == "application/grpc");
}

TEST_CASE("an idle HTTP/1.1 connection closes after --http1-idle-timeout and a half-sent head gets 408", "[http1][limits]") {
  WebSetup setup({.extra_args = {"--http1-idle-timeout", "300ms"}});

  RawConnection idle("127.0.0.1", setup.ingress->http_port());
  idle.send(get("/one"));
  auto first = idle.read_until([](const std::string& bytes) { return parse_responses(bytes).size() == 1; }, 5s);
  REQUIRE(parse_responses(first).size() == 1);
  auto after = Clock::now();
  CHECK(idle.wait_closed(3s));
  CHECK(Clock::now() - after >= 250ms);

  RawConnection slow("127.0.0.1", setup.ingress->http_port());
  slow.send("GET /slow HTTP/1.1\r\nHost: web.example\r\n");  // no end of head
  std::string bytes;
  REQUIRE(slow.wait_closed(3s, &bytes));
  auto responses = parse_responses(bytes);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 408);
}

TEST_CASE("malformed HTTP/1.1 gets 400 (and counts as a protocol error) and HTTP/1.0 is served and closed", "[http1]") {
  WebSetup setup;
  // The one answer to `request` on a new connection, which then closes.
  auto only_answer = [&](const std::string& request) {
    RawConnection connection("127.0.0.1", setup.ingress->http_port());
    connection.send(request);
    std::string bytes;
    REQUIRE(connection.wait_closed(3s, &bytes));
    auto responses = parse_responses(bytes);
    INFO(bytes);
    REQUIRE(responses.size() == 1);
    return responses[0];
  };

  CHECK(only_answer("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n").status == 400);
  CHECK(only_answer("GET / HTTP/1.1\r\n\r\n").status == 400);  // no Host
  // Each is counted where operators look for bad clients.
  CHECK(metric_value(*setup.ingress, "grpc_ingress_protocol_errors_total{side=\"downstream\"}") == 2);

  ParsedResponse old = only_answer("GET /old HTTP/1.0\r\n\r\n");
  CHECK(old.status == 200);
  CHECK(pod_view(old.body)["path"] == "/old");
}

TEST_CASE("HEAD over HTTP/1.1 gets the pod's headers and no body", "[http1]") {
  WebSetup setup;
  RawConnection connection("127.0.0.1", setup.ingress->http_port());
  connection.send("HEAD /info HTTP/1.1\r\nHost: web.example\r\n\r\n" + get("/after"));
  auto bytes = connection.read_until(
      [](const std::string& b) { return b.find("\"/after\"") != std::string::npos; }, 5s);
  // The HEAD answer has no body, so the next answer follows its head directly.
  size_t second = bytes.find("HTTP/1.1", 1);
  INFO(bytes);
  REQUIRE(second != std::string::npos);
  std::string head = bytes.substr(0, second);
  CHECK(head.starts_with("HTTP/1.1 200"));
  CHECK(head.ends_with("\r\n\r\n"));
  CHECK(bytes.find("\"/after\"") != std::string::npos);
}

}  // namespace
}  // namespace grpc_ingress::testing
