// /healthz as the kubelet's liveness probe sees it: 503 naming the worker
// whose event loop stopped turning, 200 again once it turns.

#include "controller/liveness.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;
using namespace std::chrono_literals;

TEST_CASE("liveness fails naming each worker whose loop has not turned within the bound", "[healthz]") {
  auto now = std::chrono::steady_clock::now();
  Liveness fine = check_liveness({now - 900ms, now - 10s, now}, now, 10s);
  CHECK(fine.alive);
  CHECK(fine.report == "ok\n");

  Liveness stuck = check_liveness({now - 1s, now - 12500ms, now, now - 61s}, now, 10s);
  CHECK_FALSE(stuck.alive);
  CHECK(stuck.report ==
        "worker-1: its event loop has not turned for 12.5 s (over --healthz-stall-timeout 10.0 s)\n"
        "worker-3: its event loop has not turned for 61.0 s (over --healthz-stall-timeout 10.0 s)\n");
  CHECK(check_liveness({}, now, 10s).alive);  // no workers yet: nothing is stuck
}
