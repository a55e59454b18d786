// Failures a gRPC client sees through the proxy: the backend's own statuses
// pass through; the proxy's own answers follow DESIGN.md's error mapping; and
// nothing hangs.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>
#include <grpcpp/generic/generic_stub.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <fstream>
#include <mutex>

namespace grpc_ingress::testing {
namespace {

constexpr const char* kCurl = "/usr/bin/curl";

std::chrono::system_clock::time_point in(std::chrono::milliseconds d) { return std::chrono::system_clock::now() + d; }

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

TEST_CASE("a backend's non-OK grpc-status and grpc-message reach the client unchanged", "[proxy][errors]") {
  OneService setup("echo", kEchoPath);
  auto stub = test::Echo::NewStub(setup.channel());

  struct Case {
    grpc::StatusCode code;
    std::string message;
  };
  // The last message needs percent-encoding in grpc-message: it must survive the trip.
  for (const Case& c : {Case{grpc::StatusCode::NOT_FOUND, "no such user"},
                        Case{grpc::StatusCode::PERMISSION_DENIED, "not yours"},
                        Case{grpc::StatusCode::RESOURCE_EXHAUSTED, "quota: 100% used, r\xC3\xA9" "essayez"}}) {
    test::EchoRequest request;
    request.set_fail_code(c.code);
    request.set_fail_message(c.message);
    (*request.mutable_trailers())["x-error-detail"] = "kept";
    CallResult result = echo_unary(*stub, request);
    INFO("asked for " << code_name(c.code) << " '" << c.message << "', got " << code_name(result.code) << " '"
                      << result.message << "'");
    CHECK(result.code == c.code);
    CHECK(result.message == c.message);
    auto detail = result.trailers.find("x-error-detail");
    CHECK((detail != result.trailers.end() && detail->second == "kept"));
  }
}

TEST_CASE("a gRPC method no Ingress routes gets UNIMPLEMENTED (12)", "[proxy][errors]") {
  OneService setup("greeter", kGreeterPath);

  // The pod serves Echo too: were the call routed to it anyway, it would succeed.
  auto echo = test::Echo::NewStub(setup.channel());
  CallResult result = echo_unary(*echo, test::EchoRequest());
  INFO(code_name(result.code) << " '" << result.message << "'");
  CHECK(result.code == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(result.elapsed < 1s);

  // Prefix paths match whole path elements: /helloworld.Greeter is not /helloworld.GreeterAdmin.
  grpc::GenericStub generic(setup.channel());
  grpc::ClientContext context;
  context.set_deadline(in(2s));
  grpc::Slice empty_message("");
  grpc::ByteBuffer request(&empty_message, 1);  // HelloRequest{}
  grpc::ByteBuffer response;
  grpc::Status status;
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  generic.UnaryCall(&context, "/helloworld.GreeterAdmin/SayHello", grpc::StubOptions(), &request,
                    &response, [&](grpc::Status s) {
                      std::lock_guard lock(mutex);
                      status = s;
                      done = true;
                      done_cv.notify_one();
                    });
  std::unique_lock lock(mutex);
  REQUIRE(done_cv.wait_for(lock, 5s, [&] { return done; }));
  INFO("GreeterAdmin: " << code_name(status.error_code()) << " '" << status.error_message() << "'");
  CHECK(status.error_code() == grpc::StatusCode::UNIMPLEMENTED);
}

// The proxy answers at once instead of letting the call wait for its deadline:
// the client sees 14 UNAVAILABLE, not 4 DEADLINE_EXCEEDED.
TEST_CASE("a service without ready endpoints gets UNAVAILABLE (14) within a second", "[proxy][errors]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  std::unique_ptr<Pod> pod;
  SECTION("its only pod is running but not ready") {
    // serving=false too: not even the last-resort terminating rule applies. The pod
    // answers if asked, so only the proxy's refusal can produce 14 here.
    pod = Pod::start(tmp.path(), "echo-0");
    manifests.write_service("echo", {pod->endpoint(/*ready=*/false)});
  }
  SECTION("it has no endpoints at all") {
    manifests.write_service("echo", {});
  }
  manifests.write_ingress({.paths = {{.path = kEchoPath, .service = "echo"}}});
  auto ingress = Ingress::start(manifests.dir(), tmp.path());

  auto stub = test::Echo::NewStub(make_channel(ingress->target()));
  for (int i = 0; i < 3; ++i) {
    CallResult result = echo_unary(*stub, test::EchoRequest(), 1s);
    INFO("call " << i << ": " << code_name(result.code) << " '" << result.message << "' after "
                 << result.elapsed.count() << " ms");
    CHECK(result.code == grpc::StatusCode::UNAVAILABLE);
    CHECK(result.elapsed < 1s);
  }
}

TEST_CASE("a pod killed in the middle of a server stream ends the stream with an error, never a hang", "[proxy][errors]") {
  OneService setup("echo", kEchoPath);
  Pod* pod = &setup.pod();
  auto stub = test::Echo::NewStub(setup.channel());

  grpc::ClientContext context;
  context.set_deadline(in(60s));  // generous: the error must come from the proxy, not this
  test::EchoRequest request;
  request.set_count(1'000'000);
  request.set_interval_ms(1);
  request.set_payload_bytes(32);
  auto reader = stub->ServerStream(&context, request);
  test::EchoReply reply;
  for (int i = 0; i < 50; ++i) REQUIRE(reader->Read(&reply));

  pod->process().kill_hard();
  const auto killed = Clock::now();
  int64_t after_kill = 0;
  while (reader->Read(&reply)) ++after_kill;
  grpc::Status status = reader->Finish();
  const auto took = since(killed);
  INFO("stream ended " << took.count() << " ms after the kill (" << after_kill << " more messages) with "
                       << code_name(status.error_code()) << " '" << status.error_message() << "'");
  CHECK_FALSE(status.ok());
  CHECK(status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK(took < 5s);

  // The next call, with the pod gone (connection refused), is refused at once too.
  CallResult next = echo_unary(*stub, test::EchoRequest(), 5s);
  INFO("next call: " << code_name(next.code) << " '" << next.message << "' after " << next.elapsed.count() << " ms");
  CHECK(next.code == grpc::StatusCode::UNAVAILABLE);
  CHECK(next.elapsed < 3s);
}

// gRPC C++ enforces its own deadline on the client; what the proxy adds is that
// the pod stops working for a caller who has gone (grpc-timeout forwarded, or the
// reset passed on).
TEST_CASE("a call's deadline ends it at the client and at the pod", "[proxy][errors][deadline]") {
  OneService setup("echo", kEchoPath);
  Pod* pod = &setup.pod();
  auto stub = test::Echo::NewStub(setup.channel());

  test::EchoRequest request;
  request.set_sleep_ms(2000);
  request.set_tag("sleepy");
  CallResult result = echo_unary(*stub, request, 300ms);
  INFO(code_name(result.code) << " '" << result.message << "' after " << result.elapsed.count() << " ms");
  CHECK(result.code == grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK(result.elapsed < 1s);
  bool pod_stopped = wait_until([&] { return pod_stats(pod->address(), "sleepy").finished(); }, 1s);
  auto stats = pod_stats(pod->address(), "sleepy");
  INFO("pod: known=" << stats.known() << " cancelled=" << stats.cancelled() << " elapsed=" << stats.elapsed_ms() << " ms");
  CHECK(pod_stopped);
  CHECK(stats.cancelled());
  CHECK(stats.elapsed_ms() < 1500);
}

// A client that sends grpc-timeout but enforces nothing itself (curl): only the
// proxy (or the pod, if the proxy forwards the header) can end the call. Without
// either, the pod would answer OK after 2 s.
TEST_CASE("grpc-timeout is honoured for a client that does not enforce it", "[proxy][errors][deadline]") {
  OneService setup("echo", kEchoPath);
  const Ingress* ingress = setup.ingress.get();

  test::EchoRequest request;
  request.set_sleep_ms(2000);
  std::string message = request.SerializeAsString();
  std::string frame(5, '\0');  // uncompressed, 4-byte big-endian length
  for (int i = 0; i < 4; ++i) frame[1 + i] = static_cast<char>((message.size() >> (8 * (3 - i))) & 0xff);
  frame += message;
  auto body = setup.tmp.path() / "request.bin";
  std::ofstream(body, std::ios::binary) << frame;
  auto headers = setup.tmp.path() / "curl-headers.txt";

  auto start = Clock::now();
  auto curl = Process::start({kCurl, "-sS", "--http2-prior-knowledge", "--max-time", "10", "-X", "POST",
                              "-H", "content-type: application/grpc", "-H", "te: trailers",
                              "-H", "grpc-timeout: 300m", "--data-binary", "@" + body.string(),
                              "-D", headers.string(), "-o", (setup.tmp.path() / "curl-body.bin").string(),
                              "http://" + ingress->target() + "/grpc_ingress.test.Echo/Unary"},
                             setup.tmp.path(), "curl");
  REQUIRE(curl->wait_exit(15s));
  auto took = since(start);
  std::ifstream in(headers);
  std::string dump((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string lower = dump;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  INFO("curl exit " << curl->exit_status().value_or(-1) << " after " << took.count() << " ms; stderr: "
                    << curl->stderr_text() << "; headers and trailers:\n" << dump);
  CHECK(curl->exit_status() == 0);
  CHECK(lower.find("grpc-status: 4\r\n") != std::string::npos);
  CHECK(took < 1500ms);
}

}  // namespace
}  // namespace grpc_ingress::testing
