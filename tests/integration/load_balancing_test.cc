// Per-call balancing and routing: the reason grpc-ingress exists.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <thread>

namespace grpc_ingress::testing {
namespace {

// One grpc::Channel is one HTTP/2 connection: an L4 balancer would send all 300
// calls to one pod. The proxy must spread the calls themselves.
TEST_CASE("calls over one channel are spread across all ready pods", "[proxy][balancing]") {
  OneService setup("greeter", kGreeterPath, 3);
  auto stub = helloworld::Greeter::NewStub(setup.channel());
  constexpr int kCalls = 300;
  std::map<std::string, int> per_pod;
  std::map<std::string, int> failures;
  for (int i = 0; i < kCalls; ++i) {
    CallResult result = say_hello(*stub);
    if (result.ok()) {
      ++per_pod[result.pod];
    } else {
      ++failures[code_name(result.code) + " " + result.message];
    }
  }
  for (const auto& [what, count] : failures) UNSCOPED_INFO(count << " calls failed: " << what);
  CHECK(failures.empty());
  REQUIRE(per_pod.size() == 3);
  for (const auto& pod : setup.pods) {
    double share = 100.0 * per_pod[pod->name()] / kCalls;
    INFO(pod->name() << " answered " << per_pod[pod->name()] << " of " << kCalls << " calls (" << share << "%)");
    CHECK(share >= 20.0);
    CHECK(share <= 46.0);
  }
}

// Many calls in flight at once on one connection (HTTP/2 multiplexing): all of
// them answered, and still spread over every pod.
TEST_CASE("concurrent calls from many threads over one channel all succeed and are spread", "[proxy][balancing]") {
  OneService setup("greeter", kGreeterPath, 3);
  auto channel = setup.channel();
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 50;
  std::mutex mutex;
  std::map<std::string, int> per_pod;
  std::map<std::string, int> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto stub = helloworld::Greeter::NewStub(channel);
      for (int i = 0; i < kCallsPerThread; ++i) {
        CallResult result = say_hello(*stub, 5s);
        std::lock_guard lock(mutex);
        if (result.ok()) {
          ++per_pod[result.pod];
        } else {
          ++failures[code_name(result.code) + " " + result.message];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& [what, count] : failures) UNSCOPED_INFO(count << " calls failed: " << what);
  CHECK(failures.empty());
  CHECK(per_pod.size() == 3);
  for (const auto& [pod, count] : per_pod) {
    INFO(pod << " answered " << count << " of " << kThreads * kCallsPerThread);
    CHECK(count >= kThreads * kCallsPerThread / 5);
  }
}

// Two gRPC services behind one host, routed the Kubernetes way: Prefix paths
// named after the service. Every pod serves both services, so a misroute would
// still succeed; only the answering pod's name shows it.
TEST_CASE("two gRPC services on one host are routed to their own pods by path prefix", "[proxy][routing]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  auto greeters = start_pods(tmp.path(), "greeter", 2);
  auto echoes = start_pods(tmp.path(), "echo", 1);
  manifests.write_service("greeter", endpoints_of(greeters));
  manifests.write_service("echo", endpoints_of(echoes));
  manifests.write_ingress({.paths = {IngressPath{.path = kGreeterPath, .service = "greeter"}, IngressPath{.path = kEchoPath, .service = "echo"}}});
  auto ingress = Ingress::start(manifests.dir(), tmp.path());

  auto channel = make_channel(ingress->target());
  auto greeter = helloworld::Greeter::NewStub(channel);
  auto echo = test::Echo::NewStub(channel);
  std::map<std::string, int> greeter_pods;
  std::map<std::string, int> echo_pods;
  for (int i = 0; i < 60; ++i) {
    CallResult hello = say_hello(*greeter);
    INFO("SayHello: " << code_name(hello.code) << " " << hello.message);
    REQUIRE(hello.ok());
    ++greeter_pods[hello.pod];
    CallResult echoed = echo_unary(*echo, test::EchoRequest());
    INFO("Echo/Unary: " << code_name(echoed.code) << " " << echoed.message);
    REQUIRE(echoed.ok());
    ++echo_pods[echoed.pod];
  }
  CHECK(greeter_pods.size() == 2);
  CHECK(greeter_pods.count("greeter-0") == 1);
  CHECK(greeter_pods.count("greeter-1") == 1);
  CHECK(echo_pods == std::map<std::string, int>{{"echo-0", 60}});
}

// Ingress rules with a host match the :authority the client sends (any port
// stripped); other hosts do not reach those pods.
TEST_CASE("a rule with a host serves only that host's authority", "[proxy][routing]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  auto pods = start_pods(tmp.path(), "greeter", 1);
  manifests.write_service("greeter", endpoints_of(pods));
  manifests.write_ingress({.host = "greeter.example.com", .paths = {IngressPath{.path = kGreeterPath, .service = "greeter"}}});
  auto ingress = Ingress::start(manifests.dir(), tmp.path());

  auto right = helloworld::Greeter::NewStub(make_channel(ingress->target(), "greeter.example.com"));
  CallResult hello = say_hello(*right);
  INFO(code_name(hello.code) << " " << hello.message);
  CHECK(hello.ok());
  CHECK(hello.pod == "greeter-0");

  auto with_port = helloworld::Greeter::NewStub(make_channel(ingress->target(), "greeter.example.com:8080"));
  CHECK(say_hello(*with_port).ok());

  auto wrong = helloworld::Greeter::NewStub(make_channel(ingress->target(), "other.example.com"));
  CallResult other = say_hello(*wrong);
  INFO(code_name(other.code) << " " << other.message);
  CHECK(other.code == grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace grpc_ingress::testing
