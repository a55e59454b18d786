// The access log as `kubectl logs` shows it: one JSON line per request on
// stdout, with the x-request-id that also reached the pod; off with
// --access-log=false.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <regex>
#include <set>
#include <sstream>

namespace grpc_ingress::testing {
namespace {

constexpr const char* kRequestIdHeader = "x-request-id";
constexpr int kPayloadBytes = 1000;
constexpr int kSleepMs = 50;

struct Echoed {
  grpc::Status status;
  test::EchoReply reply;
};

// Echo/Unary carrying `request_id` (if any) as x-request-id; the pod echoes
// back the x-request-id it received.
Echoed echo_with_id(test::Echo::Stub& stub, test::EchoRequest request, const std::optional<std::string>& request_id) {
  request.add_echo_metadata(kRequestIdHeader);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  if (request_id) context.AddMetadata(kRequestIdHeader, *request_id);
  Echoed out;
  out.status = stub.Unary(&context, request, &out.reply);
  return out;
}

std::string received_id(const Echoed& echoed) {
  auto it = echoed.reply.metadata().find(kRequestIdHeader);
  return it == echoed.reply.metadata().end() ? "<none>" : it->second;
}

// The complete lines of `text` (a trailing partial line is left out).
std::vector<std::string> complete_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  return lines;
}

// "0" whether the log writes the code as a string or as a number.
std::string as_text(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "<absent>";
  return value.dump();
}

const nlohmann::json* find_by_request_id(const std::vector<nlohmann::json>& lines, const std::string& id) {
  for (const auto& line : lines) {
    if (line.value("request_id", "") == id) return &line;
  }
  return nullptr;
}

TEST_CASE("every request gets one JSON access log line on stdout, and its x-request-id (sent or generated) reaches the pod",
          "[proxy][access-log]") {
  OneService setup("echo", kEchoPath, 2);  // access log on by default
  auto channel = setup.channel();
  auto echo = test::Echo::NewStub(channel);
  auto greeter = helloworld::Greeter::NewStub(channel);

  test::EchoRequest sized;
  sized.set_payload(std::string(kPayloadBytes, 'p'));
  sized.set_sleep_ms(kSleepMs);

  // 1. The client's own x-request-id is kept, in the log and at the pod.
  const std::string given_id = "it-given-request-id-0001";
  Echoed with_id = echo_with_id(*echo, sized, given_id);
  REQUIRE(with_id.status.ok());
  CHECK(received_id(with_id) == given_id);

  // 2. Without one, the proxy makes one up, logs it, and forwards it; each
  // request gets its own.
  Echoed generated_1 = echo_with_id(*echo, sized, std::nullopt);
  Echoed generated_2 = echo_with_id(*echo, test::EchoRequest(), std::nullopt);
  REQUIRE(generated_1.status.ok());
  REQUIRE(generated_2.status.ok());
  // A version-4 UUID: random, with the version nibble 4 and the RFC 4122 variant bits.
  const std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  INFO("generated ids at the pods: '" << received_id(generated_1) << "', '" << received_id(generated_2) << "'");
  CHECK(std::regex_match(received_id(generated_1), uuid));
  CHECK(std::regex_match(received_id(generated_2), uuid));
  CHECK(received_id(generated_1) != received_id(generated_2));

  // 3. A pod's error, and a request the proxy answers itself (no route).
  test::EchoRequest not_found;
  not_found.set_fail_code(grpc::StatusCode::NOT_FOUND);
  Echoed failed = echo_with_id(*echo, not_found, "it-not-found-0002");
  REQUIRE(failed.status.error_code() == grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext unrouted_context;
  unrouted_context.set_deadline(std::chrono::system_clock::now() + 5s);
  unrouted_context.AddMetadata(kRequestIdHeader, "it-unrouted-0003");
  helloworld::HelloRequest hello;
  helloworld::HelloReply hello_reply;
  REQUIRE(greeter->SayHello(&unrouted_context, hello, &hello_reply).error_code() == grpc::StatusCode::UNIMPLEMENTED);
  constexpr size_t kRequests = 5;

  // The lines are written off the workers: wait for them, bounded.
  Process& proxy = setup.ingress->process();
  wait_until([&] { return complete_lines(proxy.stdout_text()).size() >= kRequests; }, 3s);
  // Stop the proxy so that stdout is final: exactly one line per request.
  REQUIRE(proxy.stop(5s) == 0);
  const std::string stdout_text = proxy.stdout_text();
  INFO("grpc-ingress stdout:\n" << stdout_text);
  std::vector<nlohmann::json> lines;
  for (const std::string& text : complete_lines(stdout_text)) {
    auto line = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    INFO("line: " << text);
    REQUIRE(line.is_object());
    lines.push_back(line);
  }
  REQUIRE(lines.size() == kRequests);
  CHECK(stdout_text.back() == '\n');

  const std::regex iso_time(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$)");
  std::set<std::string> ids;
  for (const auto& line : lines) {
    INFO("line: " << line.dump());
    for (const char* field : {"time", "authority", "method", "path", "grpc_status", "upstream", "pod", "duration_ms",
                              "bytes_in", "bytes_out", "request_id", "remote_addr"}) {
      INFO("field " << field);
      CHECK(line.contains(field));
    }
    CHECK(std::regex_match(line.value("time", ""), iso_time));
    CHECK(line.value("authority", "") == setup.ingress->target());
    CHECK(line.value("method", "") == "POST");
    CHECK(line["duration_ms"].is_number());
    CHECK(line["bytes_in"].is_number_unsigned());
    CHECK(line["bytes_out"].is_number_unsigned());
    // The client as judged: here the test's own connection, from 127.0.0.1.
    CHECK(line.value("remote_addr", "") == "127.0.0.1");
    // No TLS client certificate was asked for: no subject.
    CHECK_FALSE(line.contains("tls_client_subject"));
    ids.insert(line.value("request_id", ""));
  }
  CHECK(ids.size() == kRequests);

  // The request with the client's id: everything about it.
  const nlohmann::json* given = find_by_request_id(lines, given_id);
  REQUIRE(given);
  {
    INFO("line: " << given->dump());
    CHECK(given->value("path", "") == "/grpc_ingress.test.Echo/Unary");
    CHECK(as_text(given->value("grpc_status", nlohmann::json())) == "0");
    CHECK(given->value("pod", "") == with_id.reply.pod());
    bool upstream_is_that_pod = false;
    for (const auto& pod : setup.pods) {
      upstream_is_that_pod |= pod->name() == with_id.reply.pod() && pod->address() == given->value("upstream", "");
    }
    CHECK(upstream_is_that_pod);
    CHECK(given->value("duration_ms", 0.0) >= kSleepMs);
    CHECK(given->value("duration_ms", 0.0) < 5000);
    // Message bodies with their 5-byte gRPC frame headers: the 1000-byte
    // payload plus a few fields each way.
    CHECK(given->value("bytes_in", 0) >= kPayloadBytes);
    CHECK(given->value("bytes_in", 0) < kPayloadBytes + 100);
    CHECK(given->value("bytes_out", 0) >= kPayloadBytes);
    CHECK(given->value("bytes_out", 0) < kPayloadBytes + 200);
  }

  // The generated ids: the ones the pods saw.
  for (const Echoed* echoed : {&generated_1, &generated_2}) {
    const nlohmann::json* line = find_by_request_id(lines, received_id(*echoed));
    INFO("id the pod saw: " << received_id(*echoed));
    REQUIRE(line);
    CHECK(as_text(line->value("grpc_status", nlohmann::json())) == "0");
    CHECK(line->value("pod", "") == echoed->reply.pod());
  }

  const nlohmann::json* pod_error = find_by_request_id(lines, "it-not-found-0002");
  REQUIRE(pod_error);
  CHECK(as_text(pod_error->value("grpc_status", nlohmann::json())) == "5");
  CHECK_FALSE(pod_error->value("pod", "").empty());

  const nlohmann::json* no_route = find_by_request_id(lines, "it-unrouted-0003");
  REQUIRE(no_route);
  CHECK(no_route->value("path", "") == "/helloworld.Greeter/SayHello");
  CHECK(as_text(no_route->value("grpc_status", nlohmann::json())) == "12");
  CHECK(no_route->value("upstream", "") == "");
  CHECK(no_route->value("pod", "") == "");
}

TEST_CASE("with --access-log=false no access log line is written for any request", "[proxy][access-log]") {
  OneService setup("echo", kEchoPath, 1, {.extra_args = {"--access-log=false"}});
  auto stub = test::Echo::NewStub(setup.channel());
  for (int i = 0; i < 10; ++i) {
    Echoed echoed = echo_with_id(*stub, test::EchoRequest(), std::nullopt);
    REQUIRE(echoed.status.ok());
  }
  Process& proxy = setup.ingress->process();
  REQUIRE(proxy.stop(5s) == 0);  // stdout is final
  INFO("grpc-ingress stdout:\n" << proxy.stdout_text());
  CHECK(proxy.stdout_text().empty());
}

}  // namespace
}  // namespace grpc_ingress::testing
