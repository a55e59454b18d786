// Timeouts that end only streams that are really idle: --stream-idle-timeout
// ends a stream with no frames either way, and never one that stays busy.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>

namespace grpc_ingress::testing {
namespace {

std::chrono::system_clock::time_point in(std::chrono::milliseconds d) { return std::chrono::system_clock::now() + d; }

IngressOptions idle_timeout(const std::string& value) {
  IngressOptions options;
  options.extra_args = {"--stream-idle-timeout", value};
  return options;
}

TEST_CASE("a stream silent for longer than the stream idle timeout ends with UNAVAILABLE",
          "[proxy][timeouts]") {
  OneService setup("echo", kEchoPath, 1, idle_timeout("500ms"));
  auto stub = test::Echo::NewStub(setup.channel());
  grpc::ClientContext context;
  context.set_deadline(in(20s));
  test::EchoRequest request;
  request.set_count(3);
  request.set_interval_ms(3000);  // 3 s of silence between messages
  auto started = std::chrono::steady_clock::now();
  auto reader = stub->ServerStream(&context, request);
  test::EchoReply reply;
  int received = 0;
  while (reader->Read(&reply)) ++received;
  grpc::Status status = reader->Finish();
  auto took = std::chrono::steady_clock::now() - started;
  INFO(code_name(status.error_code()) << " " << status.error_message());
  CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK_THAT(status.error_message(), Catch::Matchers::Contains("idle"));
  CHECK(received <= 1);
  CHECK(took < 2900ms);  // well before the next message would have come
}

TEST_CASE("a stream that stays busy outlives the stream idle timeout", "[proxy][timeouts]") {
  OneService setup("echo", kEchoPath, 1, idle_timeout("500ms"));
  auto stub = test::Echo::NewStub(setup.channel());
  grpc::ClientContext context;
  context.set_deadline(in(20s));
  test::EchoRequest request;
  request.set_count(20);
  request.set_interval_ms(100);  // 2 s in all, never 500 ms silent
  auto reader = stub->ServerStream(&context, request);
  test::EchoReply reply;
  int received = 0;
  while (reader->Read(&reply)) ++received;
  grpc::Status status = reader->Finish();
  INFO(code_name(status.error_code()) << " " << status.error_message());
  CHECK(status.ok());
  CHECK(received == 20);
}

}  // namespace
}  // namespace grpc_ingress::testing
