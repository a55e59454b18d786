// Endpoint changes under load: a rollout as Kubernetes does it (new pod ready
// and added, old pod removed from the EndpointSlice, then terminated).

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

namespace grpc_ingress::testing {
namespace {

struct Outcome {
  Clock::time_point at;
  CallResult result;
};

TEST_CASE("endpoints added and removed during continuous calls: no call fails, the new pod serves within a second",
          "[proxy][endpoints]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  auto a = Pod::start(tmp.path(), "greeter-a");
  auto b = Pod::start(tmp.path(), "greeter-b");  // removed
  auto c = Pod::start(tmp.path(), "greeter-c");  // added
  manifests.write_service("greeter", {a->endpoint(), b->endpoint()});
  manifests.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}}});
  auto ingress = Ingress::start(manifests.dir(), tmp.path());

  // One client, one channel, calling back to back on its own thread (no
  // assertions there: it only records).
  std::mutex mutex;
  std::vector<Outcome> outcomes;
  std::atomic<bool> stop{false};
  std::thread caller([&] {
    auto stub = helloworld::Greeter::NewStub(make_channel(ingress->target()));
    const auto give_up = Clock::now() + 30s;
    while (!stop && Clock::now() < give_up) {
      CallResult result = say_hello(*stub, 2s);
      std::lock_guard lock(mutex);
      outcomes.push_back({Clock::now(), result});
    }
  });
  auto seen = [&](const std::string& pod, Clock::time_point after) {
    std::lock_guard lock(mutex);
    for (const Outcome& o : outcomes) {
      if (o.at >= after && o.result.pod == pod) return true;
    }
    return false;
  };

  const auto started = Clock::now();
  bool both_before = wait_until([&] { return seen("greeter-a", started) && seen("greeter-b", started); }, 5s);

  const auto changed = Clock::now();
  manifests.write_endpoints("greeter", {a->endpoint(), c->endpoint()});
  bool c_serves = wait_until([&] { return seen("greeter-c", changed); }, 3s);
  Clock::time_point c_first = Clock::time_point::max();
  {
    std::lock_guard lock(mutex);
    for (const Outcome& o : outcomes) {
      if (o.result.pod == "greeter-c") c_first = std::min(c_first, o.at);
    }
  }
  // Like a terminating pod after its endpoint is gone: it shuts down (GOAWAY).
  std::this_thread::sleep_until(changed + 1500ms);
  int b_exit = b->process().stop();
  std::this_thread::sleep_until(changed + 3s);
  stop = true;
  caller.join();

  std::map<std::string, int> failures;
  int calls = 0, b_late = 0, a_after = 0, c_after = 0;
  for (const Outcome& o : outcomes) {
    ++calls;
    if (!o.result.ok()) ++failures[code_name(o.result.code) + " '" + o.result.message + "'"];
    if (o.at > changed + 1s) {
      b_late += o.result.pod == "greeter-b";
      a_after += o.result.pod == "greeter-a";
      c_after += o.result.pod == "greeter-c";
    }
  }
  for (const auto& [what, count] : failures) UNSCOPED_INFO(count << " calls failed: " << what);
  INFO(calls << " calls; after the change +1 s: a " << a_after << ", c " << c_after << ", b " << b_late);
  REQUIRE(both_before);
  CHECK(failures.empty());
  REQUIRE(c_serves);
  auto c_delay = std::chrono::duration_cast<std::chrono::milliseconds>(c_first - changed);
  INFO("greeter-c first answered " << c_delay.count() << " ms after the file changed");
  CHECK(c_delay < 1s);
  CHECK(b_late == 0);
  CHECK(a_after > 0);
  CHECK(c_after > 0);
  CHECK(b_exit == 0);
}

// The whole Service goes away and comes back: calls fail fast with 14 while it is
// gone, then succeed again, with no restart of the proxy.
TEST_CASE("a service whose endpoints all go away answers UNAVAILABLE, then serves again when they return",
          "[proxy][endpoints]") {
  OneService setup("greeter", kGreeterPath);
  ManifestDir& manifests = setup.manifests;
  auto stub = helloworld::Greeter::NewStub(setup.channel());
  REQUIRE(say_hello(*stub).ok());

  manifests.write_endpoints("greeter", {});
  CallResult last;
  CHECK(wait_until([&] { return (last = say_hello(*stub, 1s)).code == grpc::StatusCode::UNAVAILABLE; }, 2s, 50ms));
  INFO("while gone: " << code_name(last.code) << " '" << last.message << "' in " << last.elapsed.count() << " ms");
  CHECK(last.elapsed < 1s);

  manifests.write_endpoints("greeter", {setup.pod().endpoint()});
  CHECK(wait_until([&] { return (last = say_hello(*stub, 1s)).ok(); }, 2s, 50ms));
  CHECK(last.pod == "greeter-0");
}

}  // namespace
}  // namespace grpc_ingress::testing
