// Client certificates at the edge (auth-tls-*, ingress-nginx's spelling and
// ours): per host by SNI, verified against the CA of a Secret; required,
// optional and optional_no_ca; UNAUTHENTICATED to gRPC and 400 to HTTP when a
// route's mode refuses; what the pod learns (ssl-client-* headers); a broken
// CA Secret fails closed. Real gRPC C++ clients, curl and openssl s_client.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/http_client.h"
#include "tests/integration/test_certificates.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace grpc_ingress::testing {
namespace {

using Annotations = std::map<std::string, std::string>;

constexpr const char* kNginx = "nginx.ingress.kubernetes.io/";
constexpr const char* kOurs = "grpc-ingress.io/";

// Hosts behind one server certificate (edge CA), each its own Ingress to the
// same echo pod: mtls (on, nginx's names, certificate passed upstream),
// optional (ours), noca (optional_no_ca), wrong (on, a CA that signed no
// client here), missing (on, a Secret that does not exist), open (nothing);
// web (on) routes to an HTTP pod for curl.
struct MtlsHosts {
  MtlsHosts()
      : manifests(tmp.path()),
        edge(tmp.path(), "edge"),
        clients(tmp.path(), "clients"),
        others(tmp.path(), "others") {
    server = edge.issue_server({"mtls.example", "optional.example", "noca.example", "wrong.example",
                                "missing.example", "open.example", "web.example"});
    alice = clients.issue_client("alice");
    mallory = others.issue_client("mallory");
    self_signed = make_certificate(tmp.path(), "self.example");
    pod = Pod::start(tmp.path(), "echo-0");
    web = Pod::start_http(tmp.path(), "web-0");
    manifests.write_tls_secret("edge-tls", server.cert_pem, server.key_pem);
    // ingress-nginx's auth-tls-secret is often a generic (Opaque) Secret with ca.crt.
    manifests.write_secret("clients-ca", {{"ca.crt", clients.root().cert_pem}});
    manifests.write_secret("others-ca", {{"ca.crt", others.root().cert_pem}});
    manifests.write_service("echo", {pod->endpoint()});
    manifests.write_service("web", {web->endpoint()}, std::nullopt);
    route("mtls", "echo",
          {{std::string(kNginx) + "auth-tls-secret", "default/clients-ca"},
           {std::string(kNginx) + "auth-tls-verify-client", "on"},
           {std::string(kNginx) + "auth-tls-pass-certificate-to-upstream", "true"}});
    route("optional", "echo",
          {{std::string(kOurs) + "auth-tls-secret", "clients-ca"}, {std::string(kOurs) + "auth-tls-verify-client", "optional"}});
    route("noca", "echo",
          {{std::string(kNginx) + "auth-tls-secret", "default/clients-ca"},
           {std::string(kNginx) + "auth-tls-verify-client", "optional_no_ca"}});
    route("wrong", "echo", {{std::string(kNginx) + "auth-tls-secret", "default/others-ca"}});
    route("missing", "echo", {{std::string(kNginx) + "auth-tls-secret", "default/no-such-ca"}});
    route("open", "echo", {});
    route("web", "web", {{std::string(kNginx) + "auth-tls-secret", "default/clients-ca"}});
    ingress = Ingress::start(manifests.dir(), tmp.path());
  }

  void route(const std::string& name, const std::string& service, const Annotations& annotations) {
    manifests.write_ingress({.name = name, .host = name + ".example", .paths = {{.path = "/", .service = service}},
                             .annotations = annotations, .tls_secret = "edge-tls"});
  }

  struct Echoed {
    CallResult call;
    std::map<std::string, std::string> metadata;  // the ssl-client-* headers the pod got
  };
  // One Echo.Unary over TLS to `host`, presenting `client` if any, sending `sent` metadata.
  Echoed echo(const std::string& host, const TestCertificate* client, const Annotations& sent = {}) const {
    auto channel = client ? make_tls_channel(ingress->https_target(), host, edge.root().cert_pem, client->cert_pem,
                                             client->key_pem)
                          : make_tls_channel(ingress->https_target(), host, edge.root().cert_pem);
    auto stub = test::Echo::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    for (const auto& [name, value] : sent) context.AddMetadata(name, value);
    test::EchoRequest request;
    for (const char* name : {"ssl-client-verify", "ssl-client-subject-dn", "ssl-client-issuer-dn", "ssl-client-cert"}) {
      request.add_echo_metadata(name);
    }
    test::EchoReply reply;
    grpc::Status status = stub->Unary(&context, request, &reply);
    Echoed out;
    out.call.code = status.error_code();
    out.call.message = status.error_message();
    out.call.pod = reply.pod();
    for (const auto& [name, value] : reply.metadata()) out.metadata[name] = value;
    return out;
  }

  TempDir tmp;
  ManifestDir manifests;
  TestCa edge, clients, others;
  TestCertificate server, alice, mallory, self_signed;
  std::unique_ptr<Pod> pod, web;
  std::unique_ptr<Ingress> ingress;
};

std::string describe(const MtlsHosts::Echoed& echoed) {
  std::string out = code_name(echoed.call.code) + " '" + echoed.call.message + "'";
  for (const auto& [name, value] : echoed.metadata) out += "\n  " + name + ": " + value.substr(0, 80);
  return out;
}

void check_unauthenticated(const MtlsHosts::Echoed& echoed) {
  INFO(describe(echoed));
  CHECK(echoed.call.code == grpc::StatusCode::UNAUTHENTICATED);
}

TEST_CASE("auth-tls on: no certificate gets UNAUTHENTICATED, the CA's certificate reaches the pod with its subject",
          "[tls][mtls]") {
  MtlsHosts setup;
  MtlsHosts::Echoed none = setup.echo("mtls.example", nullptr);
  check_unauthenticated(none);
  CHECK(none.call.message.find("certificate") != std::string::npos);

  // A client forging the headers gets them replaced by what the handshake found.
  MtlsHosts::Echoed alice = setup.echo("mtls.example", &setup.alice,
                                       {{"ssl-client-subject-dn", "CN=admin"}, {"ssl-client-verify", "SUCCESS"}});
  INFO(describe(alice));
  REQUIRE(alice.call.ok());
  CHECK(alice.call.pod == "echo-0");
  CHECK(alice.metadata["ssl-client-verify"] == "SUCCESS");
  CHECK(alice.metadata["ssl-client-subject-dn"] == "CN=alice");
  CHECK(alice.metadata["ssl-client-issuer-dn"].find("clients") != std::string::npos);
  // auth-tls-pass-certificate-to-upstream: the escaped PEM, as ingress-nginx's ssl-client-cert.
  CHECK(alice.metadata["ssl-client-cert"].starts_with("-----BEGIN%20CERTIFICATE-----%0A"));

  // Another CA's certificate, or a self-signed one.
  check_unauthenticated(setup.echo("mtls.example", &setup.mallory));
  check_unauthenticated(setup.echo("mtls.example", &setup.self_signed));
}

TEST_CASE("auth-tls optional serves clients without a certificate and refuses a bad one, optional_no_ca passes any",
          "[tls][mtls]") {
  MtlsHosts setup;
  MtlsHosts::Echoed none = setup.echo("optional.example", nullptr);
  INFO(describe(none));
  CHECK(none.call.ok());
  CHECK(none.metadata["ssl-client-verify"] == "NONE");
  MtlsHosts::Echoed alice = setup.echo("optional.example", &setup.alice);
  CHECK(alice.call.ok());
  CHECK(alice.metadata["ssl-client-verify"] == "SUCCESS");
  check_unauthenticated(setup.echo("optional.example", &setup.mallory));

  MtlsHosts::Echoed passed = setup.echo("noca.example", &setup.self_signed);
  INFO(describe(passed));
  CHECK(passed.call.ok());
  CHECK(passed.metadata["ssl-client-verify"].starts_with("FAILED:"));
  CHECK(passed.metadata["ssl-client-subject-dn"] == "CN=self.example");
  CHECK(passed.metadata.count("ssl-client-cert") == 0);  // not asked for
  CHECK(setup.echo("noca.example", nullptr).call.ok());
}

TEST_CASE("auth-tls: a certificate of another CA is refused, a CA Secret that does not exist refuses every one",
          "[tls][mtls]") {
  MtlsHosts setup;
  check_unauthenticated(setup.echo("wrong.example", &setup.alice));
  CHECK(setup.echo("wrong.example", &setup.mallory).call.ok());

  // Fails closed: the host still asks, and nothing verifies.
  check_unauthenticated(setup.echo("missing.example", &setup.alice));
  check_unauthenticated(setup.echo("missing.example", nullptr));
  HttpResponse metrics = setup.ingress->admin_get("/metrics");
  CHECK(metrics.body.find("grpc_ingress_rejected_objects{kind=\"Ingress\"") != std::string::npos);
  CHECK(setup.ingress->process().stderr_text().find("no-such-ca") != std::string::npos);
  CHECK(metrics.body.find("grpc_ingress_access_denied_total{reason=\"client_certificate\"} 0") == std::string::npos);
}

// `openssl s_client` against the TLS port; its stdout and stderr together.
std::string s_client(const MtlsHosts& setup, const std::string& host) {
  static int runs = 0;
  auto process = Process::start({"/usr/bin/openssl", "s_client", "-connect", setup.ingress->https_target(),
                                 "-servername", host, "-tls1_2"},
                                setup.tmp.path(), "s_client-mtls-" + std::to_string(++runs));
  if (!process->wait_exit(10s)) process->stop(1s);
  return process->stdout_text() + process->stderr_text();
}

TEST_CASE("the certificate is asked per host by SNI: a host without auth-tls on the same port asks none",
          "[tls][mtls]") {
  MtlsHosts setup;
  std::string asking = s_client(setup, "mtls.example");
  INFO(asking);
  CHECK(asking.find("Acceptable client certificate CA names") != std::string::npos);
  CHECK(asking.find("CN = clients") != std::string::npos);
  std::string open = s_client(setup, "open.example");
  INFO(open);
  CHECK(open.find("No client certificate CA names sent") != std::string::npos);
  // And there a client certificate is simply not asked for: served either way.
  CHECK(setup.echo("open.example", nullptr).call.ok());
  MtlsHosts::Echoed alice = setup.echo("open.example", &setup.alice);
  CHECK(alice.call.ok());
  CHECK(alice.metadata.count("ssl-client-verify") == 0);
}

TEST_CASE("curl: no client certificate gets 400, the CA's certificate reaches the HTTP pod with ssl-client headers",
          "[tls][mtls][http1]") {
  MtlsHosts setup;
  std::string resolve = "web.example:" + std::to_string(setup.ingress->https_port()) + ":127.0.0.1";
  std::string url = "https://web.example:" + std::to_string(setup.ingress->https_port()) + "/who";
  std::string ca = setup.edge.root().cert_file.string();
  CurlResult refused = run_curl(setup.tmp.path(), {"--http1.1", "--cacert", ca, "--resolve", resolve, url});
  INFO(refused.stderr_text << refused.headers << refused.body);
  CHECK(refused.status == 400);
  CHECK(refused.body.find("certificate") != std::string::npos);

  for (const char* mode : {"--http1.1", "--http2"}) {
    CurlResult served = run_curl(setup.tmp.path(), {mode, "--cacert", ca, "--cert", setup.alice.cert_file.string(),
                                                    "--key", setup.alice.key_file.string(), "-H",
                                                    "ssl-client-subject-dn: CN=admin", "--resolve", resolve, url});
    INFO(mode << ": " << served.stderr_text << served.headers << served.body);
    REQUIRE(served.status == 200);
    auto report = nlohmann::json::parse(served.body);
    CHECK(report["headers"]["ssl-client-verify"] == nlohmann::json::array({"SUCCESS"}));
    CHECK(report["headers"]["ssl-client-subject-dn"] == nlohmann::json::array({"CN=alice"}));
  }
}

}  // namespace
}  // namespace grpc_ingress::testing
