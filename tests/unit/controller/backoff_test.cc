#include "controller/backoff.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <set>

using namespace grpc_ingress;
using namespace std::chrono_literals;

TEST_CASE("backoff doubles from its first step up to its maximum, jittered, and starts over after a reset") {
  Backoff backoff({.initial = 100ms, .max = 1000ms, .jitter = 0.2}, 42);
  const std::chrono::milliseconds steps[] = {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms};
  std::set<int64_t> seen;
  for (auto step : steps) {
    auto wait = backoff.next();
    CHECK(backoff.step() == step);
    CHECK(wait >= step * 8 / 10);
    CHECK(wait <= step * 12 / 10);
    seen.insert(wait.count() * 1000 / step.count());
  }
  CHECK(seen.size() > 1);  // jittered, not a fixed factor
  backoff.reset();
  CHECK(backoff.step() == 0ms);
  CHECK(backoff.next() <= 120ms);

  Backoff exact({.initial = 50ms, .max = 60ms, .jitter = 0}, 1);
  CHECK(exact.next() == 50ms);
  CHECK(exact.next() == 60ms);
  CHECK(exact.next() == 60ms);
}
