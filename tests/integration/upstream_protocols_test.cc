// How the proxy talks to pods, as a user sees it: the backend-protocol
// annotation (ours, else nginx's) or the Service port's appProtocol decides
// between h2c, HTTP/1.1 and TLS; HTTP/1.1 pools keep connections alive and
// never pipeline; TLS to pods verifies what the Ingress asks for (CA, name)
// and presents a client certificate for mTLS; every mismatch is a clear, fast
// error, never a hang.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/http_client.h"
#include "tests/integration/test_certificates.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <random>
#include <set>

namespace grpc_ingress::testing {
namespace {

constexpr auto kCallDeadline = 3s;
// A failed call must come back well before its deadline: an answer, not a timeout.
constexpr auto kFastFailure = 2s;

constexpr const char* kOurBackendProtocol = "grpc-ingress.io/backend-protocol";
constexpr const char* kNginxBackendProtocol = "nginx.ingress.kubernetes.io/backend-protocol";
constexpr const char* kUpstreamCa = "grpc-ingress.io/upstream-ca-secret";
constexpr const char* kUpstreamSni = "grpc-ingress.io/upstream-sni";
constexpr const char* kUpstreamClient = "grpc-ingress.io/upstream-client-secret";
constexpr const char* kNginxProxySslSecret = "nginx.ingress.kubernetes.io/proxy-ssl-secret";

using Annotations = std::map<std::string, std::string>;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// What http-pod reported about a request (a null json if the body is not its report).
nlohmann::json pod_report(const std::string& body) { return nlohmann::json::parse(body, nullptr, false); }

// One whole response with a content-length has arrived.
bool one_whole_response(const std::string& bytes) {
  auto responses = parse_responses(bytes);
  if (responses.empty()) return false;
  auto length = responses[0].headers.find("content-length");
  return length != responses[0].headers.end() && responses[0].body.size() == std::stoul(length->second);
}

// A manifest directory the test fills, then one grpc-ingress serving it. Each
// Ingress routes one host ("<name>") to one Service, path "/". How pods are
// spoken to is a property of the Service port: Ingresses that disagree about
// one Service are rejected, so each set of annotations gets a Service of its
// own (Services may share pods).
struct Upstreams {
  Upstreams() : manifests(tmp.path()) {}

  // With a TLS Secret, the host is also served in cleartext (ssl-redirect
  // "false"): these tests compare the two ports.
  void route(const std::string& host, const std::string& service, Annotations annotations = {},
             const std::string& tls_secret = "") {
    if (!tls_secret.empty()) annotations.emplace("nginx.ingress.kubernetes.io/ssl-redirect", "false");
    manifests.write_ingress({.name = host, .host = host, .paths = {{.path = "/", .service = service}},
                             .annotations = annotations, .tls_secret = tls_secret});
  }
  void start() { ingress = Ingress::start(manifests.dir(), tmp.path()); }

  // curl to `host` on the cleartext port (`tls` false) or the TLS port.
  std::string url(const std::string& host, const std::string& path, bool tls = false) const {
    return (tls ? "https://" : "http://") + host + ":" + std::to_string(port(tls)) + path;
  }
  std::string resolve(const std::string& host, bool tls = false) const {
    return host + ":" + std::to_string(port(tls)) + ":127.0.0.1";
  }
  uint16_t port(bool tls) const { return tls ? ingress->https_port() : ingress->http_port(); }

  // One SayHello to `host` over h2c, on a channel of its own.
  CallResult hello(const std::string& host) const {
    auto stub = helloworld::Greeter::NewStub(make_channel(ingress->target(), host));
    return say_hello(*stub, kCallDeadline);
  }

  TempDir tmp;
  ManifestDir manifests;
  std::unique_ptr<Ingress> ingress;
};

// http-pod "web-0" behind Service "web" with no appProtocol (so plain HTTP
// reaches it over HTTP/1.1), routed for host web.example, which has a
// self-signed certificate on the TLS port.
struct WebPod : Upstreams {
  WebPod() {
    edge = make_certificate(tmp.path(), "web.example");
    manifests.write_tls_secret("web-tls", edge.cert_pem, edge.key_pem);
    pod = Pod::start_http(tmp.path(), "web-0");
    manifests.write_service("web", {pod->endpoint()}, std::nullopt);
    route("web.example", "web", {}, "web-tls");
    start();
  }
  TestCertificate edge;
  std::unique_ptr<Pod> pod;
};

// Two CAs, each also an Opaque Secret of its name holding its root as ca.crt:
// "pods-ca" signs the pods' certificates, "other-ca" nothing the pods trust.
struct PodCas {
  explicit PodCas(Upstreams& setup) : pods(setup.tmp.path(), "pods-ca"), other(setup.tmp.path(), "other-ca") {
    setup.manifests.write_secret("pods-ca", {{"ca.crt", pods.root().cert_pem}});
    setup.manifests.write_secret("other-ca", {{"ca.crt", other.root().cert_pem}});
  }
  TestCa pods, other;
};

TEST_CASE("curl over HTTP/1.1 and HTTP/2, TLS and h2c, reaches a pod as HTTP/1.1 unless its port says h2c",
          "[upstream][http1]") {
  Upstreams setup;
  TestCa edge_ca(setup.tmp.path(), "edge-ca");
  const std::vector<std::string> hosts = {"auto.example", "app-http.example", "nginx-http.example", "h2c.example",
                                          "ours-win.example"};
  TestCertificate edge = edge_ca.issue_server(hosts);
  setup.manifests.write_tls_secret("edge-tls", edge.cert_pem, edge.key_pem);
  auto pod = Pod::start_http(setup.tmp.path(), "web-0");
  // One pod behind Services that differ only in what their port says about it.
  setup.manifests.write_service("web-auto", {pod->endpoint()}, std::nullopt);
  setup.manifests.write_service("web-app-http", {pod->endpoint()}, "http");
  setup.manifests.write_service("web-h2c", {pod->endpoint()}, "kubernetes.io/h2c");
  setup.manifests.write_service("web-h2c-annotated", {pod->endpoint()}, "kubernetes.io/h2c");
  setup.manifests.write_service("web-auto-annotated", {pod->endpoint()}, std::nullopt);
  setup.route("auto.example", "web-auto", {}, "edge-tls");
  setup.route("app-http.example", "web-app-http", {}, "edge-tls");
  setup.route("h2c.example", "web-h2c", {}, "edge-tls");
  // The annotation beats the port's appProtocol, in any letter case...
  setup.route("nginx-http.example", "web-h2c-annotated", {{kNginxBackendProtocol, "HTTP"}}, "edge-tls");
  // ...and ours beats nginx's.
  setup.route("ours-win.example", "web-auto-annotated",
              {{kOurBackendProtocol, "h2c"}, {kNginxBackendProtocol, "HTTP"}}, "edge-tls");
  setup.start();

  const std::map<std::string, std::string> upstream_protocol = {{"auto.example", "HTTP/1.1"},
                                                                {"app-http.example", "HTTP/1.1"},
                                                                {"nginx-http.example", "HTTP/1.1"},
                                                                {"h2c.example", "HTTP/2"},
                                                                {"ours-win.example", "HTTP/2"}};
  for (const std::string& host : hosts) {
    struct Client {
      std::vector<std::string> args;
      std::string head;
    };
    std::string ca = edge_ca.root().cert_file.string();
    for (const Client& client :
         {Client{{"--http1.1", "--cacert", ca, "--resolve", setup.resolve(host, true), setup.url(host, "/who", true)},
                 "HTTP/1.1 200"},
          Client{{"--http2", "--cacert", ca, "--resolve", setup.resolve(host, true), setup.url(host, "/who", true)},
                 "HTTP/2 200"},
          Client{{"--http2-prior-knowledge", "--resolve", setup.resolve(host), setup.url(host, "/who")},
                 "HTTP/2 200"}}) {
      CurlResult result = run_curl(setup.tmp.path(), client.args);
      INFO(host << " with curl " << client.args[0] << ": exit " << result.exit_code << " " << result.stderr_text
                << "\n" << result.headers << result.body);
      REQUIRE(result.status == 200);
      CHECK(result.headers.starts_with(client.head));
      auto report = pod_report(result.body);
      REQUIRE(report.is_object());
      CHECK(report["pod"] == "web-0");
      CHECK(report["path"] == "/who");
      CHECK(report["protocol"] == upstream_protocol.at(host));
      CHECK(report["tls"] == false);
    }
  }
}

TEST_CASE("an HTTP/1.1 pod gets sequential requests on one kept-alive connection", "[upstream][http1]") {
  WebPod setup;

  // One client connection, one request at a time: the proxy's pool keeps the
  // pod connection it opened for the first and reuses it for the rest.
  RawConnection client("127.0.0.1", setup.ingress->http_port());
  std::set<uint64_t> connections;
  std::vector<uint64_t> numbers;
  for (int i = 1; i <= 5; ++i) {
    client.send("GET /seq?n=" + std::to_string(i) + " HTTP/1.1\r\nHost: web.example\r\n\r\n");
    std::string received = client.read_until(one_whole_response, 3s);
    auto responses = parse_responses(received);
    INFO("request " << i << ": " << received);
    REQUIRE(responses.size() == 1);
    REQUIRE(responses[0].status == 200);
    auto report = pod_report(responses[0].body);
    REQUIRE(report.is_object());
    CHECK(report["protocol"] == "HTTP/1.1");
    CHECK(report["overlapped"] == false);
    connections.insert(report["connection"].get<uint64_t>());
    numbers.push_back(report["request_on_connection"].get<uint64_t>());
  }
  INFO("pod connections used: " << connections.size());
  CHECK(connections.size() == 1);
  for (size_t i = 1; i < numbers.size(); ++i) CHECK(numbers[i] == numbers[i - 1] + 1);
}

TEST_CASE("concurrent slow requests to an HTTP/1.1 pod each get a connection at once and are never pipelined",
          "[upstream][http1]") {
  WebPod setup;

  // curl multiplexes 8 requests on one HTTP/2 connection to the proxy (over
  // TLS: curl 7.88 fails parallel transfers with --http2-prior-knowledge);
  // each waits 300 ms at the pod. One pod connection at a time would take
  // 2.4 s; pipelining them on one connection shows as "overlapped" at the pod.
  constexpr int kRequests = 8;
  std::vector<std::string> args = {"-Z", "--parallel-max", std::to_string(kRequests), "--http2", "--cacert",
                                   setup.edge.cert_file.string(), "-w", "%{http_code} ", "--resolve",
                                   setup.resolve("web.example", true)};
  std::vector<std::filesystem::path> bodies;
  for (int i = 0; i < kRequests; ++i) {
    args.push_back(setup.url("web.example", "/slow?delay_ms=300&n=" + std::to_string(i), true));
    // run_curl's own -o takes the first body; the others get files of their own.
    if (i > 0) {
      bodies.push_back(setup.tmp.path() / ("slow-" + std::to_string(i) + ".json"));
      args.insert(args.end(), {"-o", bodies.back().string()});
    }
  }
  CurlResult result = run_curl(setup.tmp.path(), args);
  INFO("exit " << result.exit_code << " " << result.stderr_text << " statuses: " << result.write_out);
  REQUIRE(result.exit_code == 0);
  CHECK(result.write_out == "200 200 200 200 200 200 200 200 ");
  CHECK(result.elapsed < 2s);

  std::vector<std::string> reports = {result.body};
  for (const auto& body : bodies) reports.push_back(read_text(body));
  std::set<uint64_t> connections;
  for (const std::string& body : reports) {
    auto report = pod_report(body);
    INFO("pod report: " << body);
    REQUIRE(report.is_object());
    CHECK(report["protocol"] == "HTTP/1.1");
    CHECK(report["overlapped"] == false);
    CHECK(report["request_on_connection"].get<uint64_t>() >= 1);
    connections.insert(report["connection"].get<uint64_t>());
  }
  CHECK(connections.size() == kRequests);
  CHECK(setup.pod->process().stderr_text().find("pipelined") == std::string::npos);
}

TEST_CASE("a chunked request body and a streamed response pass whole through an HTTP/1.1 pod connection",
          "[upstream][http1]") {
  WebPod setup;

  std::mt19937_64 random(42);
  std::string upload(1024 * 1024 + 17, '\0');
  for (char& c : upload) c = static_cast<char>(random() & 0xff);
  auto file = setup.tmp.path() / "upload.bin";
  std::ofstream(file, std::ios::binary) << upload;

  for (std::string mode : {"--http1.1", "--http2-prior-knowledge"}) {
    INFO("client " << mode);
    std::vector<std::string> upload_args = {mode, "--resolve", setup.resolve("web.example"), "--data-binary",
                                            "@" + file.string(), setup.url("web.example", "/upload")};
    if (mode == "--http1.1") upload_args.insert(upload_args.begin(), {"-H", "Transfer-Encoding: chunked"});
    CurlResult uploaded = run_curl(setup.tmp.path(), upload_args);
    INFO("upload: exit " << uploaded.exit_code << " " << uploaded.stderr_text << "\n" << uploaded.headers);
    REQUIRE(uploaded.status == 200);
    auto report = pod_report(uploaded.body);
    REQUIRE(report.is_object());
    CHECK(report["protocol"] == "HTTP/1.1");
    CHECK(report["method"] == "POST");
    CHECK(report["body_bytes"] == upload.size());
    CHECK(report["body_fnv1a"] == fnv1a_hex(upload));

    // 64 pieces of 16 KiB, each piece one letter, the pod streaming without a length.
    constexpr int kPieces = 64, kPieceBytes = 16 * 1024;
    std::string expected;
    for (int piece = kPieces; piece >= 1; --piece) expected.append(kPieceBytes, static_cast<char>('a' + piece % 26));
    CurlResult streamed = run_curl(setup.tmp.path(), {mode, "--resolve", setup.resolve("web.example"),
                                                      setup.url("web.example", "/stream?chunks=64&chunk_bytes=16384")});
    INFO("stream: exit " << streamed.exit_code << " " << streamed.stderr_text << "\n" << streamed.headers);
    REQUIRE(streamed.status == 200);
    CHECK(streamed.body.size() == expected.size());
    CHECK(streamed.body == expected);
  }
}

TEST_CASE("gRPC to an HTTP/1.1 backend gets UNIMPLEMENTED at once and plain HTTP to a gRPC-only backend gets 415",
          "[upstream][errors]") {
  Upstreams setup;
  auto greeter = Pod::start(setup.tmp.path(), "greeter-0");
  setup.manifests.write_service("greeter-http", {greeter->endpoint()});
  setup.manifests.write_service("greeter-grpc", {greeter->endpoint()});
  setup.manifests.write_service("greeter-app-grpc", {greeter->endpoint()}, "grpc");
  setup.route("http.example", "greeter-http", {{kOurBackendProtocol, "HTTP"}});
  setup.route("grpc.example", "greeter-grpc", {{kNginxBackendProtocol, "GRPC"}});
  setup.route("app-grpc.example", "greeter-app-grpc");
  setup.start();

  {
    // gRPC needs HTTP/2: the proxy says so instead of trying HTTP/1.1.
    CallResult refused = setup.hello("http.example");
    INFO(code_name(refused.code) << " '" << refused.message << "'");
    CHECK(refused.code == grpc::StatusCode::UNIMPLEMENTED);
    CHECK(refused.message.find("HTTP/1.1") != std::string::npos);
    CHECK(refused.message.find("greeter-http") != std::string::npos);
    CHECK(refused.elapsed < 1s);
  }
  {
    // gRPC-Web is gRPC for the pod: refused the same way (an empty request message).
    auto empty_message = setup.tmp.path() / "empty-message.bin";
    std::ofstream(empty_message, std::ios::binary) << std::string(5, '\0');
    CurlResult web = run_curl(setup.tmp.path(), {"--http1.1", "-H", "content-type: application/grpc-web+proto", "-H",
                                                 "x-grpc-web: 1", "--data-binary", "@" + empty_message.string(),
                                                 "--resolve", setup.resolve("http.example"),
                                                 setup.url("http.example", "/helloworld.Greeter/SayHello")});
    INFO("gRPC-Web: " << web.headers << web.body);
    CHECK(web.status == 200);
    CHECK(web.header("grpc-status") == "12");
    CHECK(web.elapsed < kFastFailure);
  }

  // A gRPC-only backend serves gRPC and refuses the rest with 415.
  for (const auto& [host, service] : std::map<std::string, std::string>{{"grpc.example", "greeter-grpc"},
                                                                         {"app-grpc.example", "greeter-app-grpc"}}) {
    CallResult served = setup.hello(host);
    INFO(host << ": " << code_name(served.code) << " '" << served.message << "'");
    CHECK(served.ok());
    CHECK(served.pod == "greeter-0");
    for (std::string mode : {"--http1.1", "--http2-prior-knowledge"}) {
      CurlResult get = run_curl(setup.tmp.path(), {mode, "--resolve", setup.resolve(host), setup.url(host, "/")});
      INFO(host << " curl " << mode << ": " << get.headers << get.body);
      CHECK(get.status == 415);
      CHECK(get.body.find("gRPC") != std::string::npos);
      CHECK(get.body.find(service) != std::string::npos);
      CHECK(get.elapsed < kFastFailure);
    }
  }
}

void expect_served(const CallResult& call, const std::string& pod) {
  INFO(code_name(call.code) << " '" << call.message << "'");
  CHECK(call.ok());
  CHECK(call.pod == pod);
}

TEST_CASE("plain HTTP to a gRPC-only pod on a Service that names no protocol gets 502 saying the pod's answer was malformed",
          "[upstream][errors]") {
  // No backend-protocol, no appProtocol: gRPC calls go over h2c, other requests over
  // HTTP/1.1, which a gRPC server answers with bytes that are no HTTP/1.1 response.
  Upstreams setup;
  auto greeter = Pod::start(setup.tmp.path(), "greeter-0");
  setup.manifests.write_service("greeter", {greeter->endpoint()}, std::nullopt);
  setup.route("greeter.example", "greeter", {{"grpc-ingress.io/retries", "0"}});
  setup.start();

  expect_served(setup.hello("greeter.example"), "greeter-0");
  for (std::string mode : {"--http1.1", "--http2-prior-knowledge"}) {
    CurlResult get = run_curl(setup.tmp.path(), {mode, "--resolve", setup.resolve("greeter.example"),
                                                 setup.url("greeter.example", "/")});
    INFO("curl " << mode << ": " << get.headers << get.body);
    CHECK(get.status == 502);
    CHECK(get.body.find("pod sent a malformed HTTP/1.1 response") != std::string::npos);
    CHECK(get.elapsed < kFastFailure);
  }
}

// A call that must fail with UNAVAILABLE, fast, saying why.
void check_unavailable(const CallResult& call, const std::vector<std::string>& message_parts) {
  INFO(code_name(call.code) << " '" << call.message << "' after " << call.elapsed.count() << " ms");
  CHECK(call.code == grpc::StatusCode::UNAVAILABLE);
  for (const std::string& part : message_parts) CHECK(call.message.find(part) != std::string::npos);
  CHECK(call.elapsed < kFastFailure);
}

TEST_CASE("GRPCS pods: verified against upstream-ca-secret and upstream-sni, a wrong CA or name fails the handshake",
          "[upstream][tls]") {
  Upstreams setup;
  PodCas cas(setup);
  // "secure" has a certificate for its default name, "named" only for pod.internal.
  auto secure = Pod::start(setup.tmp.path(), "secure-0", next_pod_ip(),
                           pod_tls_args(cas.pods.issue_server({"secure.default.svc.cluster.local"})));
  auto named = Pod::start(setup.tmp.path(), "named-0", next_pod_ip(), pod_tls_args(cas.pods.issue_server({"pod.internal"})));
  for (const char* service : {"secure", "secure-wrong-ca", "secure-unverified", "secure-missing-ca"}) {
    setup.manifests.write_service(service, {secure->endpoint()});
  }
  setup.manifests.write_service("named-sni", {named->endpoint()});
  setup.manifests.write_service("named", {named->endpoint()});
  setup.route("verified.example", "secure", {{kOurBackendProtocol, "GRPCS"}, {kUpstreamCa, "pods-ca"}});
  setup.route("wrong-ca.example", "secure-wrong-ca", {{kOurBackendProtocol, "GRPCS"}, {kUpstreamCa, "other-ca"}});
  setup.route("unverified.example", "secure-unverified", {{kNginxBackendProtocol, "GRPCS"}});
  setup.route("missing-ca.example", "secure-missing-ca",
              {{kOurBackendProtocol, "GRPCS"}, {kUpstreamCa, "no-such-secret"}});
  setup.route("sni.example", "named-sni",
              {{kOurBackendProtocol, "GRPCS"}, {kUpstreamCa, "default/pods-ca"}, {kUpstreamSni, "pod.internal"}});
  setup.route("no-sni.example", "named", {{kOurBackendProtocol, "GRPCS"}, {kUpstreamCa, "pods-ca"}});
  setup.start();

  // The pod's certificate signed by the upstream CA, for the Service's name.
  expect_served(setup.hello("verified.example"), "secure-0");
  // A CA that did not sign the pod's certificate.
  check_unavailable(setup.hello("wrong-ca.example"), {"TLS handshake with pod " + secure->address() + " failed"});
  // No CA anywhere: encrypted, not verified (ingress-nginx's default).
  expect_served(setup.hello("unverified.example"), "secure-0");
  // A CA Secret that does not exist is named in the error.
  check_unavailable(setup.hello("missing-ca.example"), {"no-such-secret"});
  // upstream-sni names the pod's certificate; without it the Service's name does not match.
  expect_served(setup.hello("sni.example"), "named-0");
  check_unavailable(setup.hello("no-sni.example"), {"TLS handshake with pod " + named->address() + " failed"});
}

TEST_CASE("mTLS pods: a client certificate from upstream-client-secret or proxy-ssl-secret, none fails clearly",
          "[upstream][tls]") {
  Upstreams setup;
  PodCas cas(setup);
  TestCa clients_ca(setup.tmp.path(), "clients-ca");
  // The pod requires a client certificate signed by clients-ca. Its own
  // certificate names every Service in front of it, so that only the client
  // certificate decides.
  const std::vector<std::string> services = {"mtls-ours", "mtls-nginx", "mtls-nginx-wrong-ca", "mtls-none",
                                             "mtls-stranger"};
  std::vector<std::string> names;
  for (const std::string& service : services) names.push_back(service + ".default.svc.cluster.local");
  auto pod = Pod::start(setup.tmp.path(), "mtls-0", next_pod_ip(),
                        pod_tls_args(cas.pods.issue_server(names), clients_ca.root().cert_file));
  for (const std::string& service : services) setup.manifests.write_service(service, {pod->endpoint()});
  TestCertificate client = clients_ca.issue_client("grpc-ingress");
  TestCertificate stranger = cas.other.issue_client("grpc-ingress");
  setup.manifests.write_tls_secret("client", client.cert_pem, client.key_pem);
  setup.manifests.write_tls_secret("stranger", stranger.cert_pem, stranger.key_pem);
  // ingress-nginx's shape: the client certificate and the CA that verifies the pod in one Secret.
  setup.manifests.write_secret(
      "client-with-ca", {{"tls.crt", client.cert_pem}, {"tls.key", client.key_pem}, {"ca.crt", cas.pods.root().cert_pem}},
      "kubernetes.io/tls");
  setup.manifests.write_secret(
      "client-with-wrong-ca",
      {{"tls.crt", client.cert_pem}, {"tls.key", client.key_pem}, {"ca.crt", cas.other.root().cert_pem}},
      "kubernetes.io/tls");
  setup.route("ours.example", "mtls-ours",
              {{kOurBackendProtocol, "GRPCS"}, {kUpstreamClient, "client"}, {kUpstreamCa, "pods-ca"}});
  setup.route("nginx.example", "mtls-nginx",
              {{kNginxBackendProtocol, "GRPCS"}, {kNginxProxySslSecret, "default/client-with-ca"}});
  setup.route("nginx-wrong-ca.example", "mtls-nginx-wrong-ca",
              {{kNginxBackendProtocol, "GRPCS"}, {kNginxProxySslSecret, "default/client-with-wrong-ca"}});
  setup.route("none.example", "mtls-none", {{kOurBackendProtocol, "GRPCS"}, {kUpstreamCa, "pods-ca"}});
  setup.route("stranger.example", "mtls-stranger",
              {{kOurBackendProtocol, "GRPCS"}, {kUpstreamClient, "stranger"}, {kUpstreamCa, "pods-ca"}});
  setup.start();

  for (std::string host : {"ours.example", "nginx.example"}) {
    INFO(host);
    expect_served(setup.hello(host), "mtls-0");
  }
  // The client Secret's ca.crt verifies the pod when no upstream-ca-secret is given.
  check_unavailable(setup.hello("nginx-wrong-ca.example"), {"TLS handshake with pod " + pod->address() + " failed"});
  // No client certificate, or one the pod does not trust: the pod refuses the
  // handshake (with TLS 1.3, right after it). A gRPC C++ pod just closes the
  // connection, without an alert that would say why.
  // Without a client certificate of ours, the message says how to give one.
  check_unavailable(setup.hello("none.example"),
                    {"TLS handshake with pod " + pod->address() + " failed", "grpc-ingress.io/upstream-client-secret"});
  check_unavailable(setup.hello("stranger.example"), {"TLS handshake with pod " + pod->address() + " failed"});
}

// http-pod "tls-web-0" serving TLS only, its certificate from pods-ca for the
// default name of Service "tls-web" (no appProtocol), which it is behind.
std::unique_ptr<Pod> start_tls_web_pod(Upstreams& setup, PodCas& cas) {
  auto pod = Pod::start_http(setup.tmp.path(), "tls-web-0", next_pod_ip(),
                             pod_tls_args(cas.pods.issue_server({"tls-web.default.svc.cluster.local"})));
  setup.manifests.write_service("tls-web", {pod->endpoint()}, std::nullopt);
  return pod;
}

TEST_CASE("HTTPS pods: backend-protocol HTTPS and appProtocol https speak HTTP/1.1 over TLS, kubernetes.io/h2 HTTP/2",
          "[upstream][tls][http1]") {
  Upstreams setup;
  PodCas cas(setup);
  auto pod = start_tls_web_pod(setup, cas);
  setup.manifests.write_service("tls-web-app-https", {pod->endpoint()}, "https");
  setup.manifests.write_service("tls-web-app-h2", {pod->endpoint()}, "kubernetes.io/h2");
  setup.route("https.example", "tls-web", {{kNginxBackendProtocol, "HTTPS"}, {kUpstreamCa, "pods-ca"}});
  setup.route("app-https.example", "tls-web-app-https");
  setup.route("app-h2.example", "tls-web-app-h2");
  setup.start();

  const std::map<std::string, std::string> upstream_protocol = {
      {"https.example", "HTTP/1.1"}, {"app-https.example", "HTTP/1.1"}, {"app-h2.example", "HTTP/2"}};
  for (const auto& [host, protocol] : upstream_protocol) {
    for (std::string mode : {"--http1.1", "--http2-prior-knowledge"}) {
      CurlResult result = run_curl(setup.tmp.path(), {mode, "--resolve", setup.resolve(host), setup.url(host, "/who")});
      INFO(host << " curl " << mode << ": exit " << result.exit_code << " " << result.stderr_text << "\n"
                << result.headers << result.body);
      REQUIRE(result.status == 200);
      auto report = pod_report(result.body);
      REQUIRE(report.is_object());
      CHECK(report["pod"] == "tls-web-0");
      CHECK(report["tls"] == true);
      CHECK(report["protocol"] == protocol);
    }
  }

}

// A pod that cannot be reached, TLS included, is 503 for plain HTTP (DESIGN's
// error mapping: connect failure = UNAVAILABLE = 503).
TEST_CASE("a pod certificate the upstream CA did not sign gives a plain-HTTP client 503 at once, naming the pod",
          "[upstream][tls]") {
  Upstreams setup;
  PodCas cas(setup);
  auto pod = start_tls_web_pod(setup, cas);
  setup.route("wrong-ca.example", "tls-web", {{kOurBackendProtocol, "HTTPS"}, {kUpstreamCa, "other-ca"}});
  setup.start();

  CurlResult refused = run_curl(setup.tmp.path(), {"--http1.1", "--resolve", setup.resolve("wrong-ca.example"),
                                                   setup.url("wrong-ca.example", "/who")});
  INFO(refused.headers << refused.body);
  CHECK(refused.status == 503);
  CHECK(refused.body.find("TLS handshake with pod " + pod->address() + " failed") != std::string::npos);
  CHECK(refused.elapsed < kFastFailure);
}

}  // namespace
}  // namespace grpc_ingress::testing
