// The TLS port: certificates from the Ingresses' spec.tls Secrets chosen by
// SNI, ALPN h2 and http/1.1, TLS 1.2/1.3 only, certificates rotated without
// a restart or a dropped stream, and ssl-redirect for cleartext clients.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/http_client.h"
#include "tests/integration/test_certificates.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace grpc_ingress::testing {
namespace {

constexpr const char* kOpenssl = "/usr/bin/openssl";

// Two hosts, each with its own certificate (and root), each routed to its
// own greeter pod; `annotations` go on both Ingresses.
struct TwoTlsHosts {
  explicit TwoTlsHosts(const std::map<std::string, std::string>& annotations = {}) : manifests(tmp.path()) {
    a_cert = make_certificate(tmp.path(), "a.example");
    b_cert = make_certificate(tmp.path(), "b.example");
    a_pod = Pod::start(tmp.path(), "greeter-a");
    b_pod = Pod::start(tmp.path(), "greeter-b");
    manifests.write_tls_secret("a-tls", a_cert.cert_pem, a_cert.key_pem);
    manifests.write_tls_secret("b-tls", b_cert.cert_pem, b_cert.key_pem);
    manifests.write_service("greeter-a", {a_pod->endpoint()});
    manifests.write_service("greeter-b", {b_pod->endpoint()});
    manifests.write_ingress({.name = "a", .host = "a.example", .paths = {{.path = "/", .service = "greeter-a"}},
                             .annotations = annotations, .tls_secret = "a-tls"});
    manifests.write_ingress({.name = "b", .host = "b.example", .paths = {{.path = "/", .service = "greeter-b"}},
                             .annotations = annotations, .tls_secret = "b-tls"});
    ingress = Ingress::start(manifests.dir(), tmp.path());
  }

  CallResult hello(const std::string& host, const std::string& root_pem) const {
    auto stub = helloworld::Greeter::NewStub(make_tls_channel(ingress->https_target(), host, root_pem));
    return say_hello(*stub);
  }

  TempDir tmp;
  ManifestDir manifests;
  TestCertificate a_cert, b_cert;
  std::unique_ptr<Pod> a_pod, b_pod;
  std::unique_ptr<Ingress> ingress;
};

// `openssl s_client` against the TLS port; its stdout and stderr together.
std::string s_client(const TempDir& tmp, const Ingress& ingress, const std::vector<std::string>& args) {
  static int runs = 0;
  std::vector<std::string> argv = {kOpenssl, "s_client", "-connect", ingress.https_target()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto process = Process::start(argv, tmp.path(), "s_client-" + std::to_string(++runs));
  if (!process->wait_exit(10s)) process->stop(1s);
  return process->stdout_text() + process->stderr_text();
}

TEST_CASE("a gRPC client with TLS roots reaches two hosts with two certificates chosen by SNI", "[tls]") {
  TwoTlsHosts setup;

  // Each host with its own root: the call succeeds only if the proxy chose
  // the certificate of the name the client asked for.
  CallResult a = setup.hello("a.example", setup.a_cert.cert_pem);
  INFO("a.example: " << code_name(a.code) << " '" << a.message << "'");
  REQUIRE(a.ok());
  CHECK(a.pod == "greeter-a");
  CallResult b = setup.hello("b.example", setup.b_cert.cert_pem);
  INFO("b.example: " << code_name(b.code) << " '" << b.message << "'");
  REQUIRE(b.ok());
  CHECK(b.pod == "greeter-b");

  // The other host's root does not verify: the certificates really differ.
  CallResult crossed = setup.hello("b.example", setup.a_cert.cert_pem);
  CHECK(crossed.code == grpc::StatusCode::UNAVAILABLE);

  // And the client can see the name in the certificate it got.
  auto stub = helloworld::Greeter::NewStub(
      make_tls_channel(setup.ingress->https_target(), "a.example", setup.a_cert.cert_pem));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 2s);
  helloworld::HelloRequest request;
  helloworld::HelloReply reply;
  REQUIRE(stub->SayHello(&context, request, &reply).ok());
  auto names = context.auth_context()->FindPropertyValues("x509_common_name");
  REQUIRE(names.size() == 1);
  CHECK(std::string(names[0].data(), names[0].size()) == "a.example");
}

TEST_CASE("a host without a certificate of its own gets the self-signed default", "[tls]") {
  TwoTlsHosts setup;
  std::string out = s_client(setup.tmp, *setup.ingress, {"-servername", "unknown.example"});
  INFO(out);
  CHECK(out.find("CN = grpc-ingress.invalid") != std::string::npos);
  std::string named = s_client(setup.tmp, *setup.ingress, {"-servername", "a.example"});
  CHECK(named.find("CN = a.example") != std::string::npos);
}

TEST_CASE("openssl s_client: TLS 1.0 and 1.1 and weak ciphers are refused, ALPN h2 is selected", "[tls]") {
  TwoTlsHosts setup;
  for (const char* old_version : {"-tls1", "-tls1_1"}) {
    std::string out = s_client(setup.tmp, *setup.ingress, {old_version, "-servername", "a.example"});
    INFO(old_version << ": " << out);
    CHECK(out.find("Cipher is (NONE)") != std::string::npos);
  }
  std::string tls12 = s_client(setup.tmp, *setup.ingress, {"-tls1_2", "-servername", "a.example"});
  INFO(tls12);
  CHECK(tls12.find("Protocol  : TLSv1.2") != std::string::npos);
  CHECK(tls12.find("Cipher is ECDHE-") != std::string::npos);  // forward secret
  std::string weak = s_client(setup.tmp, *setup.ingress, {"-tls1_2", "-cipher", "AES128-SHA", "-servername", "a.example"});
  CHECK(weak.find("Cipher is (NONE)") != std::string::npos);

  std::string alpn = s_client(setup.tmp, *setup.ingress, {"-alpn", "h2,http/1.1", "-servername", "a.example"});
  INFO(alpn);
  CHECK(alpn.find("ALPN protocol: h2") != std::string::npos);
  CHECK(alpn.find("TLSv1.3") != std::string::npos);
}

TEST_CASE("a certificate rotated in its Secret serves new connections while an open stream goes on", "[tls]") {
  TwoTlsHosts setup;
  auto channel = make_tls_channel(setup.ingress->https_target(), "a.example", setup.a_cert.cert_pem);
  auto echo = test::Echo::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  test::EchoRequest request;
  request.set_count(300);
  request.set_interval_ms(10);
  auto reader = echo->ServerStream(&context, request);
  test::EchoReply reply;
  int received = 0;
  for (; received < 20; ++received) REQUIRE(reader->Read(&reply));

  TestCertificate rotated = make_certificate(setup.tmp.path(), "a.example");
  setup.manifests.write_tls_secret("a-tls", rotated.cert_pem, rotated.key_pem);
  bool served = wait_until([&] { return setup.hello("a.example", rotated.cert_pem).ok(); }, 10s, 100ms);
  CHECK(served);
  // New connections no longer get the old certificate...
  CHECK_FALSE(setup.hello("a.example", setup.a_cert.cert_pem).ok());
  // ...while the stream opened under it runs to its end.
  while (reader->Read(&reply)) ++received;
  grpc::Status status = reader->Finish();
  INFO(code_name(status.error_code()) << " '" << status.error_message() << "'");
  CHECK(status.ok());
  CHECK(received == 300);
}

TEST_CASE("a broken Secret keeps the certificate it had and is reported", "[tls]") {
  TwoTlsHosts setup;
  setup.manifests.write_tls_secret("a-tls", setup.a_cert.cert_pem, setup.b_cert.key_pem);  // key mismatch
  bool reported = wait_until(
      [&] {
        HttpResponse metrics = setup.ingress->admin_get("/metrics");
        return metrics.body.find("grpc_ingress_rejected_objects{kind=\"Secret\"") != std::string::npos;
      },
      5s, 50ms);
  CHECK(reported);
  CHECK(setup.ingress->process().stderr_text().find("does not match") != std::string::npos);
  CallResult a = setup.hello("a.example", setup.a_cert.cert_pem);
  INFO(code_name(a.code) << " '" << a.message << "'");
  CHECK(a.ok());
}

TEST_CASE("curl over HTTP/1.1 and HTTP/2 on TLS and over h2c reaches the same pod", "[tls][http1]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  TestCertificate cert = make_certificate(tmp.path(), "web.example");
  auto pod = Pod::start_http(tmp.path(), "web-0");
  manifests.write_tls_secret("web-tls", cert.cert_pem, cert.key_pem);
  manifests.write_service("web", {pod->endpoint()});
  // Served in cleartext too (h2c below): TLS hosts redirect unless ssl-redirect is "false".
  manifests.write_ingress({.name = "web", .host = "web.example", .paths = {{.path = "/", .service = "web"}},
                           .annotations = {{"grpc-ingress.io/ssl-redirect", "false"}}, .tls_secret = "web-tls"});
  auto ingress = Ingress::start(manifests.dir(), tmp.path());
  std::string resolve = "web.example:" + std::to_string(ingress->https_port()) + ":127.0.0.1";
  std::string https = "https://web.example:" + std::to_string(ingress->https_port()) + "/who";

  struct Case {
    std::vector<std::string> args;
    std::string head;
    std::string scheme;
  };
  for (const Case& c : {Case{{"--http1.1", "--cacert", cert.cert_file.string(), "--resolve", resolve, https},
                             "HTTP/1.1 200", "https"},
                        Case{{"--http2", "--cacert", cert.cert_file.string(), "--resolve", resolve, https},
                             "HTTP/2 200", "https"},
                        Case{{"--http2-prior-knowledge", "-H", "Host: web.example", "http://" + ingress->target() + "/who"},
                             "HTTP/2 200", "http"}}) {
    CurlResult result = run_curl(tmp.path(), c.args);
    INFO(c.args[0] << ": exit " << result.exit_code << " " << result.stderr_text << "\n" << result.headers << result.body);
    REQUIRE(result.status == 200);
    CHECK(result.headers.starts_with(c.head));
    auto view = nlohmann::json::parse(result.body);
    CHECK(view["pod"] == "web-0");
    CHECK(view["scheme"] == c.scheme);
    CHECK(view["path"] == "/who");
  }
}

TEST_CASE("TLS hosts redirect by default: HTTP/1.1 gets 308 to https, gRPC on h2c gets status 7 saying to use TLS",
          "[tls]") {
  TwoTlsHosts setup;  // no ssl-redirect annotation: ingress-nginx's default
  std::string http = "http://" + setup.ingress->target();

  CurlResult redirect = run_curl(setup.tmp.path(), {"--http1.1", "-H", "Host: a.example:8080", http + "/some/path?q=1"});
  INFO(redirect.headers << redirect.body);
  CHECK(redirect.status == 308);
  CHECK(redirect.header("location") == "https://a.example/some/path?q=1");

  // A client that follows it lands on the TLS port (443 there is ours here).
  CurlResult followed = run_curl(
      setup.tmp.path(), {"--http1.1", "-L", "--cacert", setup.a_cert.cert_file.string(), "--connect-to",
                         "a.example:443:127.0.0.1:" + std::to_string(setup.ingress->https_port()), "-H",
                         "Host: a.example", http + "/helloworld.Greeter/SayHello"});
  INFO(followed.stderr_text << followed.headers);
  CHECK(followed.headers.find("HTTP/1.1 308") != std::string::npos);
  CHECK(followed.exit_code == 0);
  CHECK(followed.status == 200);  // the gRPC pod's own answer to a plain GET

  // gRPC over h2c: a clear status, not a redirect it cannot follow, counted as refused.
  auto cleartext = helloworld::Greeter::NewStub(make_channel(setup.ingress->target(), "a.example"));
  CallResult refused = say_hello(*cleartext);
  INFO(code_name(refused.code) << " '" << refused.message << "'");
  CHECK(refused.code == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(refused.message.find("requires TLS") != std::string::npos);
  CHECK(refused.message.find("a.example") != std::string::npos);
  CHECK(refused.elapsed < 1s);
  HttpResponse metrics = setup.ingress->admin_get("/metrics");
  size_t line = metrics.body.find("grpc_ingress_access_denied_total{reason=\"cleartext\"}");
  REQUIRE(line != std::string::npos);
  std::string sample = metrics.body.substr(line, metrics.body.find('\n', line) - line);
  INFO(sample);
  CHECK_FALSE(sample.ends_with(" 0"));

  // Over TLS the same call is served.
  CallResult tls = setup.hello("a.example", setup.a_cert.cert_pem);
  CHECK(tls.ok());
  CHECK(tls.pod == "greeter-a");
}

TEST_CASE("ssl-redirect \"false\" serves a TLS host in cleartext too, a host without spec.tls never redirects", "[tls]") {
  TwoTlsHosts setup(std::map<std::string, std::string>{{"nginx.ingress.kubernetes.io/ssl-redirect", "false"}});
  setup.manifests.write_ingress({.name = "plain", .host = "plain.example",
                                 .paths = {{.path = "/", .service = "greeter-a"}}});
  std::string http = "http://" + setup.ingress->target();
  bool routed = wait_until(
      [&] {
        auto stub = helloworld::Greeter::NewStub(make_channel(setup.ingress->target(), "plain.example"));
        return say_hello(*stub).ok();
      },
      10s, 100ms);
  CHECK(routed);

  auto cleartext = helloworld::Greeter::NewStub(make_channel(setup.ingress->target(), "a.example"));
  CallResult served = say_hello(*cleartext);
  INFO(code_name(served.code) << " '" << served.message << "'");
  CHECK(served.ok());
  CHECK(served.pod == "greeter-a");
  CurlResult get = run_curl(setup.tmp.path(), {"--http1.1", "-H", "Host: b.example", http + "/"});
  INFO(get.headers << get.body);
  CHECK(get.status != 308);
  CurlResult plain = run_curl(setup.tmp.path(), {"--http1.1", "-H", "Host: plain.example", http + "/"});
  CHECK(plain.status != 308);
}

}  // namespace
}  // namespace grpc_ingress::testing
