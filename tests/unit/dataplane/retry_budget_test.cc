// The retry budget: 20% of the calls, a burst of 10 to start, and a floor of
// 10 retries a second for quiet clusters (Linkerd's minRetriesPerSecond).

#include "dataplane/retry_budget.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;
using namespace std::chrono_literals;

TEST_CASE("retry budget: 10 at first, then one retry per five calls", "[retry]") {
  RetryBudget budget;
  auto now = RetryBudget::Clock::now();
  int spent = 0;
  while (budget.try_spend(now)) ++spent;  // no time passes: the floor gives nothing
  CHECK(spent == 10);
  for (int i = 0; i < 50; ++i) budget.on_request();
  spent = 0;
  while (budget.try_spend(now)) ++spent;
  CHECK(spent == 10);
}

TEST_CASE("retry budget: a quiet cluster still gets 10 retries a second, never more", "[retry]") {
  RetryBudget budget;
  auto now = RetryBudget::Clock::now();
  while (budget.try_spend(now)) {
  }
  int spent = 0;
  for (int tick = 1; tick <= 30; ++tick) {  // three seconds in steps of 100 ms, no calls earning anything
    while (budget.try_spend(now + tick * 100ms)) ++spent;
  }
  CHECK(spent >= 29);
  CHECK(spent <= 31);
  // A long calm does not pile the floor up: at most one second's worth at once.
  spent = 0;
  while (budget.try_spend(now + 60s)) ++spent;
  CHECK(spent == 10);
}
