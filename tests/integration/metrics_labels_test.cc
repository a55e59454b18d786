// What an operator builds alerts and dashboards on: gRPC calls labelled
// grpc_code (status names), plain HTTP requests http_code, never both; unary
// and streaming calls in separate histograms; upstream latency and message
// sizes; method labels only behind their flag and bounded; the expiry of each
// certificate served; a Service without endpoints visible as 0 ready.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/http_client.h"
#include "tests/integration/prometheus_text.h"
#include "tests/integration/test_certificates.h"

#include <catch2/catch.hpp>

#include <ctime>

namespace grpc_ingress::testing {
namespace {

constexpr const char* kOpenssl = "/usr/bin/openssl";
constexpr int kStreamReplies = 5;
constexpr int kReplyPayload = 100;

std::chrono::system_clock::time_point in(std::chrono::milliseconds d) { return std::chrono::system_clock::now() + d; }

// gRPC pods behind a TLS host (cleartext allowed), an http-pod for plain
// HTTP on every other host, and a Service without endpoints.
struct MixedTraffic {
  explicit MixedTraffic(const IngressOptions& options = {}) : manifests(tmp.path()) {
    cert = make_certificate(tmp.path(), "echo.example");
    echo = Pod::start(tmp.path(), "echo-0");
    web = Pod::start_http(tmp.path(), "web-0");
    manifests.write_tls_secret("echo-tls", cert.cert_pem, cert.key_pem);
    manifests.write_service("echo", {echo->endpoint()});
    manifests.write_service("web", {web->endpoint()});
    manifests.write_service("empty", {});
    manifests.write_ingress({.name = "grpc",
                             .host = "echo.example",
                             .paths = {{.path = "/grpc_ingress.test.Echo", .service = "echo"},
                                       {.path = "/nobody", .service = "empty"}},
                             .annotations = {{"grpc-ingress.io/ssl-redirect", "false"}},
                             .tls_secret = "echo-tls"});
    manifests.write_ingress({.name = "web", .paths = {{.path = "/", .service = "web"}}});
    ingress = Ingress::start(manifests.dir(), tmp.path(), options);
    stub = test::Echo::NewStub(make_channel(ingress->target(), "echo.example"));
  }

  void unary(grpc::StatusCode fail = grpc::StatusCode::OK) const {
    test::EchoRequest request;
    request.set_message("hello");
    if (fail != grpc::StatusCode::OK) request.set_fail_code(fail);
    CallResult result = echo_unary(*stub, request);
    INFO(code_name(result.code) << " '" << result.message << "'");
    REQUIRE(result.code == fail);
  }
  // One request message, kStreamReplies replies of kReplyPayload bytes.
  void server_stream() const {
    grpc::ClientContext context;
    context.set_deadline(in(5s));
    test::EchoRequest request;
    request.set_count(kStreamReplies);
    request.set_payload_bytes(kReplyPayload);
    auto reader = stub->ServerStream(&context, request);
    test::EchoReply reply;
    int received = 0;
    while (reader->Read(&reply)) ++received;
    grpc::Status status = reader->Finish();
    INFO(code_name(status.error_code()) << " " << status.error_message());
    REQUIRE(status.ok());
    REQUIRE(received == kStreamReplies);
  }
  void client_stream() const {
    grpc::ClientContext context;
    context.set_deadline(in(5s));
    test::EchoReply reply;
    auto writer = stub->ClientStream(&context, &reply);
    test::EchoRequest request;
    for (int i = 0; i < 3; ++i) REQUIRE(writer->Write(request));
    writer->WritesDone();
    REQUIRE(writer->Finish().ok());
  }
  void bidi() const {
    grpc::ClientContext context;
    context.set_deadline(in(5s));
    auto stream = stub->Bidi(&context);
    test::EchoRequest request;
    test::EchoReply reply;
    for (int i = 0; i < 2; ++i) {
      REQUIRE(stream->Write(request));
      REQUIRE(stream->Read(&reply));
    }
    stream->WritesDone();
    while (stream->Read(&reply)) {
    }
    REQUIRE(stream->Finish().ok());
  }
  void curl_get(int times) const {
    for (int i = 0; i < times; ++i) {
      CurlResult result = run_curl(tmp.path(), {"--http1.1", "http://" + ingress->target() + "/page"});
      INFO(result.stderr_text);
      REQUIRE(result.status == 200);
    }
  }

  // Scrapes /metrics until both routes have counted `grpc_calls` and
  // `http_requests` (a request is counted when its stream closes, a moment
  // after the client has its answer).
  std::string scrape(double grpc_calls, double http_requests) const {
    std::string body;
    wait_until(
        [&] {
          HttpResponse response = ingress->admin_get("/metrics");
          if (response.status != 200) return false;
          body = response.body;
          auto samples = parse_exposition(body);
          return sum_of(samples, "grpc_ingress_requests_total", {{"service", "echo"}}).value_or(0) >= grpc_calls &&
                 sum_of(samples, "grpc_ingress_requests_total", {{"service", "web"}}).value_or(0) >= http_requests;
        },
        5s, 20ms);
    return body;
  }

  TempDir tmp;
  ManifestDir manifests;
  TestCertificate cert;
  std::unique_ptr<Pod> echo, web;
  std::unique_ptr<Ingress> ingress;
  std::unique_ptr<test::Echo::Stub> stub;
};

const LabelFilter kEcho = {{"namespace", "default"}, {"ingress", "grpc"}, {"service", "echo"}};
const LabelFilter kWeb = {{"namespace", "default"}, {"ingress", "web"}, {"service", "web"}};

LabelFilter with(LabelFilter filter, const std::string& key, const std::string& value) {
  filter[key] = value;
  return filter;
}

// notAfter of a PEM certificate file as `openssl x509 -enddate` prints it, in unix seconds.
double openssl_not_after(const TempDir& tmp, const std::filesystem::path& cert_file) {
  auto process = Process::start({kOpenssl, "x509", "-noout", "-enddate", "-in", cert_file.string()}, tmp.path(),
                                "openssl-enddate");
  REQUIRE(process->wait_exit(10s));
  std::string text = process->stdout_text();  // notAfter=Dec  5 22:00:00 2027 GMT
  INFO(text);
  REQUIRE(text.starts_with("notAfter="));
  std::tm tm{};
  REQUIRE(strptime(text.c_str() + 9, "%b %d %H:%M:%S %Y GMT", &tm) != nullptr);
  return static_cast<double>(timegm(&tm));
}

void check_promtool(const TempDir& tmp, const std::string& body) {
  REQUIRE(::access(kPromtool, X_OK) == 0);  // missing: install Debian package prometheus (make deps)
  PromtoolResult promtool = promtool_check(tmp.path(), body);
  INFO("promtool check metrics exited " << promtool.exit_code << ":\n" << promtool.output);
  CHECK(promtool.exit_code == 0);
}

TEST_CASE("gRPC calls count by grpc_code name and plain HTTP by http_code, and streams, messages, upstream latency and "
          "certificate expiry have their own series",
          "[metrics]") {
  MixedTraffic setup;
  for (int i = 0; i < 3; ++i) setup.unary();
  setup.unary(grpc::StatusCode::NOT_FOUND);
  setup.server_stream();
  setup.curl_get(2);
  const std::string body = setup.scrape(5, 2);
  const auto samples = parse_exposition(body);
  UNSCOPED_INFO("scrape:\n" << body);
  check_promtool(setup.tmp, body);

  // Codes: names for gRPC, numbers for HTTP, one label or the other per series.
  CHECK(sum_of(samples, "grpc_ingress_requests_total", with(kEcho, "grpc_code", "OK")) == 4);
  CHECK(sum_of(samples, "grpc_ingress_requests_total", with(kEcho, "grpc_code", "NOT_FOUND")) == 1);
  CHECK(sum_of(samples, "grpc_ingress_requests_total", with(kWeb, "http_code", "200")) == 2);
  for (const Sample& sample : samples) {
    if (sample.name != "grpc_ingress_requests_total") continue;
    INFO(sample.name << " service=" << sample.labels.at("service"));
    bool grpc = sample.labels.count("grpc_code") == 1;
    CHECK(grpc != (sample.labels.count("http_code") == 1));
    CHECK(grpc == (sample.labels.at("service") == "echo"));
    CHECK(sample.labels.count("code") == 0);
    CHECK(sample.labels.count("grpc_method") == 0);  // no method labels without the flag
  }

  // Unary calls and HTTP requests in the request histogram; the server stream only in the stream ones.
  CHECK(sum_of(samples, "grpc_ingress_request_duration_seconds_count", kEcho) == 4);
  CHECK(sum_of(samples, "grpc_ingress_request_duration_seconds_count", kWeb) == 2);
  CHECK(sum_of(samples, "grpc_ingress_stream_duration_seconds_count", kEcho) == 1);
  CHECK(sum_of(samples, "grpc_ingress_stream_duration_seconds_count", kWeb) == 0);
  CHECK(sum_of(samples, "grpc_ingress_stream_duration_seconds_bucket", with(kEcho, "le", "14400")) == 1);
  CHECK(sum_of(samples, "grpc_ingress_stream_first_message_seconds_count", kEcho) == 1);
  double first = sum_of(samples, "grpc_ingress_stream_first_message_seconds_sum", kEcho).value_or(-1);
  double whole = sum_of(samples, "grpc_ingress_stream_duration_seconds_sum", kEcho).value_or(-1);
  CHECK(first > 0);
  CHECK(first <= whole);

  // Messages: 5 requests (one per call); replies: 3 unary, none for NOT_FOUND, 5 streamed.
  CHECK(sum_of(samples, "grpc_ingress_request_message_bytes_count", kEcho) == 5);
  CHECK(sum_of(samples, "grpc_ingress_response_message_bytes_count", kEcho) == 3 + kStreamReplies);
  CHECK(sum_of(samples, "grpc_ingress_response_message_bytes_sum", kEcho).value_or(0) >= kStreamReplies * kReplyPayload);
  CHECK(sum_of(samples, "grpc_ingress_request_message_bytes_count", kWeb) == 0);  // plain HTTP has no gRPC messages

  // One upstream attempt per call, by Service port.
  CHECK(sum_of(samples, "grpc_ingress_upstream_response_seconds_count", {{"service", "echo"}}) == 5);
  CHECK(sum_of(samples, "grpc_ingress_upstream_response_seconds_count", {{"service", "web"}}) == 2);
  CHECK(sum_of(samples, "grpc_ingress_upstream_response_seconds_bucket",
               {{"service", "echo"}, {"le", "+Inf"}}) == 5);

  // The certificate served for echo.example, by its Secret: notAfter as openssl reads it.
  CHECK(count_of(samples, "grpc_ingress_tls_certificate_expiry_timestamp_seconds") == 1);
  CHECK(sum_of(samples, "grpc_ingress_tls_certificate_expiry_timestamp_seconds",
               {{"namespace", "default"}, {"secret", "echo-tls"}}) == openssl_not_after(setup.tmp, setup.cert.cert_file));

  // A Service without endpoints shows 0 ready (what a "no endpoints" alert reads).
  CHECK(sum_of(samples, "grpc_ingress_endpoints", {{"service", "empty"}, {"state", "ready"}}) == 0);
  CHECK(sum_of(samples, "grpc_ingress_endpoints", {{"service", "echo"}, {"state", "ready"}}) == 1);
  CHECK(sum_of(samples, "grpc_ingress_access_log_dropped_total") == 0);
}

TEST_CASE("the flag --metrics-grpc-method-labels adds grpc_service and grpc_method, and methods past "
          "--metrics-max-grpc-methods count as other",
          "[metrics]") {
  MixedTraffic setup({.extra_args = {"--metrics-grpc-method-labels", "--metrics-max-grpc-methods", "2"}});
  setup.unary();
  setup.unary(grpc::StatusCode::NOT_FOUND);
  setup.server_stream();
  setup.client_stream();  // a third method: over the bound
  setup.bidi();           // a fourth
  setup.curl_get(1);
  const std::string body = setup.scrape(5, 1);
  const auto samples = parse_exposition(body);
  UNSCOPED_INFO("scrape:\n" << body);
  check_promtool(setup.tmp, body);

  const LabelFilter service = with(kEcho, "grpc_service", "grpc_ingress.test.Echo");
  CHECK(sum_of(samples, "grpc_ingress_requests_total", with(with(service, "grpc_method", "Unary"), "grpc_code", "OK")) ==
        1);
  CHECK(sum_of(samples, "grpc_ingress_requests_total",
               with(with(service, "grpc_method", "Unary"), "grpc_code", "NOT_FOUND")) == 1);
  CHECK(sum_of(samples, "grpc_ingress_requests_total", with(service, "grpc_method", "ServerStream")) == 1);
  CHECK(sum_of(samples, "grpc_ingress_requests_total",
               with(with(kEcho, "grpc_service", "other"), "grpc_method", "other")) == 2);
  CHECK(!sum_of(samples, "grpc_ingress_requests_total", with(service, "grpc_method", "ClientStream")));
  CHECK(!sum_of(samples, "grpc_ingress_requests_total", with(service, "grpc_method", "Bidi")));
  for (const Sample& sample : samples) {
    if (sample.name != "grpc_ingress_requests_total") continue;
    bool grpc = sample.labels.count("grpc_code") == 1;
    CHECK(grpc == (sample.labels.count("grpc_method") == 1));  // every gRPC series, and only those
    CHECK(grpc == (sample.labels.count("grpc_service") == 1));
  }
  CHECK(sum_of(samples, "grpc_ingress_requests_total", with(kWeb, "http_code", "200")) == 1);
  // Client and bidi streams are streams too.
  CHECK(sum_of(samples, "grpc_ingress_stream_duration_seconds_count", kEcho) == 3);
  CHECK(sum_of(samples, "grpc_ingress_request_duration_seconds_count", kEcho) == 2);
}

}  // namespace
}  // namespace grpc_ingress::testing
