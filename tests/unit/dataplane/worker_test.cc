// A worker proves its event loop turns (the stamp /healthz reads), and its
// thread carries a name an operator finds in top -H or /proc.

#include "dataplane/worker.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

using namespace grpc_ingress;
using namespace std::chrono_literals;

namespace {

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

bool thread_named(const std::string& name) {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string text;
    if (std::getline(comm, text) && text == name) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a worker's heartbeat advances while its loop turns, stays still while a handler blocks it, and resumes", "[worker]") {
  EndpointStates states;
  Worker worker(3, DownstreamOptions{}, UpstreamOptions{}, states);
  worker.start();
  CHECK(wait_for([] { return thread_named("worker-3"); }, 2s));
  auto started = worker.last_turn();
  CHECK(std::chrono::steady_clock::now() - started < 1s);
  REQUIRE(wait_for([&] { return worker.last_turn() > started; }, Worker::kHeartbeatInterval * 3));

  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  worker.post([released, &entered] {
    entered.set_value();
    released.wait();
  });
  entered.get_future().wait();
  auto blocked_at = worker.last_turn();
  // The measurement itself: two heartbeat periods in which the blocked loop cannot stamp.
  std::this_thread::sleep_for(Worker::kHeartbeatInterval * 2 + 200ms);
  CHECK(worker.last_turn() == blocked_at);
  CHECK(std::chrono::steady_clock::now() - worker.last_turn() > Worker::kHeartbeatInterval * 2);

  release.set_value();
  CHECK(wait_for([&] { return std::chrono::steady_clock::now() - worker.last_turn() < 500ms; },
                 Worker::kHeartbeatInterval * 3));
  worker.stop();
}
