// Rolling the proxy without dropping calls (DESIGN.md, SIGTERM): /readyz turns
// 503 while the listeners keep serving for --shutdown-drain, then GOAWAY, the
// calls in flight finish within --shutdown-grace, exit 0. SIGINT the same; a
// second signal exits at once.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>

#include <csignal>
#include <thread>

namespace grpc_ingress::testing {
namespace {

std::chrono::system_clock::time_point in(std::chrono::milliseconds d) { return std::chrono::system_clock::now() + d; }

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// A server stream of `count` messages `interval_ms` apart, read on its own thread.
class LongStream {
 public:
  LongStream(test::Echo::Stub& stub, int count, int interval_ms) {
    context_.set_deadline(in(60s));
    test::EchoRequest request;
    request.set_count(count);
    request.set_interval_ms(interval_ms);
    reader_ = stub.ServerStream(&context_, request);
  }
  ~LongStream() {
    context_.TryCancel();
    if (thread_.joinable()) thread_.join();
  }

  // Blocks until the first message arrives: the stream is open end to end.
  bool first_message() {
    test::EchoReply reply;
    if (!reader_->Read(&reply)) return false;
    check_order(reply);
    return true;
  }
  // Reads the rest on a thread; finished() tells when the status is in.
  void read_rest() {
    thread_ = std::thread([this] {
      test::EchoReply reply;
      while (reader_->Read(&reply)) check_order(reply);
      status_ = reader_->Finish();
      finished_at_ = Clock::now();
      done_ = true;
    });
  }
  bool wait(std::chrono::milliseconds timeout) {
    bool done = wait_until([this] { return done_.load(); }, timeout);
    if (done) thread_.join();
    return done;
  }

  int received() const { return received_; }
  int out_of_order() const { return out_of_order_; }
  const grpc::Status& status() const { return status_; }
  Clock::time_point finished_at() const { return finished_at_; }

 private:
  void check_order(const test::EchoReply& reply) {
    if (reply.sequence() != received_) ++out_of_order_;
    ++received_;
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<test::EchoReply>> reader_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  int received_ = 0;
  int out_of_order_ = 0;
  grpc::Status status_;
  Clock::time_point finished_at_;
};

// True once some pod has started the call tagged `tag`.
bool started_at_a_pod(const std::vector<std::unique_ptr<Pod>>& pods, const std::string& tag) {
  for (const auto& pod : pods) {
    if (pod_stats(pod->address(), tag).known()) return true;
  }
  return false;
}

TEST_CASE("SIGTERM: /readyz 503 and calls still served during the drain, then in-flight calls and a 5 s stream finish OK, exit 0",
          "[proxy][lifecycle][shutdown]") {
  constexpr auto kDrain = 1500ms;
  constexpr auto kGrace = 10s;
  constexpr int kStreamMessages = 50;  // 100 ms apart: about 5 s, beyond the drain
  constexpr int kInFlightUnary = 3;    // each sleeps 1 s at its pod
  OneService setup("echo", kEchoPath, 2,
                   {.extra_args = {"--shutdown-drain", "1500ms", "--shutdown-grace", "10s"}});
  Ingress& ingress = *setup.ingress;
  auto channel = setup.channel();
  auto stub = test::Echo::NewStub(channel);

  LongStream stream(*stub, kStreamMessages, 100);
  REQUIRE(stream.first_message());
  stream.read_rest();

  std::vector<CallResult> unary(kInFlightUnary);
  std::vector<std::thread> unary_threads;
  for (int i = 0; i < kInFlightUnary; ++i) {
    unary_threads.emplace_back([&, i] {
      test::EchoRequest request;
      request.set_sleep_ms(1000);
      request.set_tag("in-flight-" + std::to_string(i));
      unary[i] = echo_unary(*stub, request, 20s);
    });
  }
  for (int i = 0; i < kInFlightUnary; ++i) {
    INFO("unary call " << i << " reached a pod");
    CHECK(wait_until([&] { return started_at_a_pod(setup.pods, "in-flight-" + std::to_string(i)); }, 3s));
  }

  const auto signalled = Clock::now();
  ingress.process().signal(SIGTERM);
  CHECK(wait_until([&] { return ingress.admin_get("/readyz", 200ms).status == 503; }, 500ms));

  // During the drain the proxy still serves: new calls on the open channel,
  // and on a new connection (the load balancer has not noticed yet).
  for (int i = 0; i < 5; ++i) {
    CallResult result = echo_unary(*stub, test::EchoRequest());
    INFO("call " << i << " during the drain: " << code_name(result.code) << " '" << result.message << "'");
    CHECK(result.ok());
  }
  auto fresh = test::Echo::NewStub(setup.channel());
  CallResult on_new_connection = echo_unary(*fresh, test::EchoRequest());
  {
    INFO("call on a new connection during the drain: " << code_name(on_new_connection.code) << " '"
                                                      << on_new_connection.message << "'");
    CHECK(on_new_connection.ok());
  }
  CHECK(ingress.admin_get("/readyz", 200ms).status == 503);
  {
    // Otherwise the calls above did not test the drain period.
    INFO("the drain checks took " << since(signalled).count() << " ms of the " << kDrain.count() << " ms drain");
    REQUIRE(since(signalled) < kDrain);
  }
  CHECK(ingress.process().running());

  for (auto& thread : unary_threads) thread.join();
  for (int i = 0; i < kInFlightUnary; ++i) {
    INFO("in-flight unary call " << i << ": " << code_name(unary[i].code) << " '" << unary[i].message << "'");
    CHECK(unary[i].ok());
  }

  REQUIRE(stream.wait(kGrace + 5s));
  {
    INFO("stream: " << code_name(stream.status().error_code()) << " '" << stream.status().error_message() << "', "
                    << stream.received() << " messages, finished " << (stream.finished_at() - signalled) / 1ms
                    << " ms after SIGTERM");
    CHECK(stream.status().ok());
    CHECK(stream.received() == kStreamMessages);
    CHECK(stream.out_of_order() == 0);
  }

  const bool exited = ingress.process().wait_exit(kDrain + kGrace + 2s - since(signalled));
  INFO("exited " << exited << ", " << since(signalled).count() << " ms after SIGTERM");
  REQUIRE(exited);
  CHECK(ingress.process().exit_status() == 0);
}

TEST_CASE("SIGINT drains like SIGTERM: /readyz 503, a running stream finishes OK, exit 0", "[proxy][lifecycle][shutdown]") {
  constexpr auto kDrain = 500ms;
  constexpr auto kGrace = 10s;
  constexpr int kStreamMessages = 20;  // about 2 s
  OneService setup("echo", kEchoPath, 1, {.extra_args = {"--shutdown-drain", "500ms", "--shutdown-grace", "10s"}});
  Ingress& ingress = *setup.ingress;
  auto stub = test::Echo::NewStub(setup.channel());

  LongStream stream(*stub, kStreamMessages, 100);
  REQUIRE(stream.first_message());
  stream.read_rest();

  const auto signalled = Clock::now();
  ingress.process().signal(SIGINT);
  CHECK(wait_until([&] { return ingress.admin_get("/readyz", 200ms).status == 503; }, 400ms));
  CallResult during = echo_unary(*stub, test::EchoRequest());
  INFO("call during the drain: " << code_name(during.code) << " '" << during.message << "' after "
                                 << since(signalled).count() << " ms");
  CHECK(during.ok());

  REQUIRE(stream.wait(kGrace + 5s));
  INFO("stream: " << code_name(stream.status().error_code()) << " '" << stream.status().error_message() << "', "
                  << stream.received() << " messages");
  CHECK(stream.status().ok());
  CHECK(stream.received() == kStreamMessages);

  const bool exited = ingress.process().wait_exit(kDrain + kGrace + 2s - since(signalled));
  INFO("exited " << exited << ", " << since(signalled).count() << " ms after SIGINT");
  REQUIRE(exited);
  CHECK(ingress.process().exit_status() == 0);
}

TEST_CASE("a second SIGTERM during the drain makes the process exit at once, and the client's stream ends",
          "[proxy][lifecycle][shutdown]") {
  OneService setup("echo", kEchoPath, 1, {.extra_args = {"--shutdown-drain", "5s", "--shutdown-grace", "10s"}});
  Ingress& ingress = *setup.ingress;
  auto stub = test::Echo::NewStub(setup.channel());

  LongStream stream(*stub, 100, 100);  // 10 s: would hold a graceful exit for 10 s
  REQUIRE(stream.first_message());
  stream.read_rest();

  ingress.process().signal(SIGTERM);
  REQUIRE(wait_until([&] { return ingress.admin_get("/readyz", 200ms).status == 503; }, 500ms));
  const auto second = Clock::now();
  ingress.process().signal(SIGTERM);
  const bool exited = ingress.process().wait_exit(1500ms);
  INFO("exited " << exited << " " << since(second).count() << " ms after the second SIGTERM, status "
                 << ingress.process().exit_status().value_or(-9999) << " (negative: killed by that signal)");
  REQUIRE(exited);
  CHECK(ingress.process().exit_status().value_or(-1) >= 0);  // exited, did not crash

  // The client is told at once (connection closed), not left waiting.
  REQUIRE(stream.wait(2s));
  INFO("stream: " << code_name(stream.status().error_code()) << " after " << stream.received() << " messages");
  CHECK_FALSE(stream.status().ok());
  CHECK(stream.received() < 100);
}

}  // namespace
}  // namespace grpc_ingress::testing
