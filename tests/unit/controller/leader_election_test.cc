#include "controller/leader_election.h"

#include "tests/fakes/fake_kube_api.h"
#include "tests/unit/run_until.h"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace grpc_ingress;
using grpc_ingress::testing::FakeKubeApi;
using grpc_ingress::testing::run_until;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kLeasePath = "/apis/coordination.k8s.io/v1/namespaces/ingress/leases/leader";

json lease(const std::string& holder, const std::string& renew, const std::string& rv, int transitions = 0) {
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", {{"name", "leader"}, {"namespace", "ingress"}, {"resourceVersion", rv}}},
          {"spec",
           {{"holderIdentity", holder},
            {"leaseDurationSeconds", 1},
            {"renewTime", renew},
            {"acquireTime", "2024-01-01T00:00:00.000000Z"},
            {"leaseTransitions", transitions}}}};
}

struct Fixture {
  boost::asio::io_context io;
  FakeKubeApi api;
  std::vector<bool> changes;
  std::shared_ptr<LeaderElector> elector;

  Fixture() {
    LeaderElectionOptions options{.lease_namespace = "ingress",
                                  .lease_name = "leader",
                                  .identity = "pod-a",
                                  .lease_duration = 1000ms,
                                  .renew_deadline = 600ms,
                                  .retry_period = 50ms,
                                  .random_seed = 3};
    elector = std::make_shared<LeaderElector>(io, api, options, [this](bool leading) { changes.push_back(leading); });
  }
  ~Fixture() { elector->stop(); }

  // Waits for the next request and answers it; returns it.
  KubeRequest answer(int status, const json& body) {
    REQUIRE(run_until(io, [&] { return !api.pending.empty(); }));
    return api.respond(status, body);
  }
  // Answers every GET of the Lease with `current` and every write by echoing it with `rv`.
  KubeRequest answer_write(const std::string& rv, int status = 200) {
    REQUIRE(run_until(io, [&] { return !api.pending.empty(); }));
    json written = json::parse(api.pending.front().request.body);
    written["metadata"]["resourceVersion"] = rv;
    return api.respond(status, status == 200 || status == 201 ? written : json{{"kind", "Status"}, {"code", status}});
  }
};

}  // namespace

TEST_CASE("a missing Lease is created with our identity, and we lead") {
  Fixture f;
  f.elector->start();
  KubeRequest get = f.answer(404, {{"kind", "Status"}, {"code", 404}});
  CHECK(get.method == "GET");
  CHECK(get.target == kLeasePath);
  REQUIRE(run_until(f.io, [&] { return !f.api.pending.empty(); }));
  const KubeRequest& create = f.api.pending.front().request;
  CHECK(create.method == "POST");
  CHECK(create.target == "/apis/coordination.k8s.io/v1/namespaces/ingress/leases");
  json body = json::parse(create.body);
  CHECK(body["spec"]["holderIdentity"] == "pod-a");
  CHECK(body["spec"]["leaseDurationSeconds"] == 1);
  CHECK(body["spec"]["leaseTransitions"] == 0);
  f.answer_write("5", 201);
  CHECK(f.elector->leading());
  CHECK(f.changes == std::vector<bool>{true});

  // Renewals: GET, then PUT with the resourceVersion read.
  f.answer(200, lease("pod-a", "2024-01-01T00:00:01.000000Z", "5"));
  REQUIRE(run_until(f.io, [&] { return !f.api.pending.empty(); }));
  json renewal = json::parse(f.api.pending.front().request.body);
  CHECK(f.api.pending.front().request.method == "PUT");
  CHECK(renewal["metadata"]["resourceVersion"] == "5");
  CHECK(renewal["spec"]["acquireTime"] == "2024-01-01T00:00:00.000000Z");  // still ours: not re-acquired
  CHECK(renewal["spec"]["renewTime"] != "2024-01-01T00:00:01.000000Z");
}

TEST_CASE("a Lease another replica renews is left alone, once it stops renewing for the lease duration, we take it over") {
  Fixture f;
  f.elector->start();
  auto started = Clock::now();
  int renewal = 0;
  // pod-b renews for a while: every GET shows a new renewTime.
  while (Clock::now() - started < 1500ms) {
    f.answer(200, lease("pod-b", "2024-01-01T00:00:0" + std::to_string(renewal % 10) + ".000000Z",
                        std::to_string(10 + renewal)));
    ++renewal;
    CHECK(f.api.pending.empty());  // no write attempted
    CHECK_FALSE(f.elector->leading());
  }
  CHECK(f.elector->holder() == "pod-b");
  // pod-b is gone: the record stays the same from now on.
  json stale = lease("pod-b", "2024-01-01T00:01:00.000000Z", "99", 4);
  auto last_change = Clock::now();
  KubeRequest write;
  while (true) {
    REQUIRE(run_until(f.io, [&] { return !f.api.pending.empty(); }));
    if (f.api.pending.front().request.method == "PUT") break;
    f.api.respond(200, stale);
  }
  CHECK(Clock::now() - last_change >= 1000ms);  // not before the lease duration, by our own clock
  json body = json::parse(f.api.pending.front().request.body);
  CHECK(body["metadata"]["resourceVersion"] == "99");
  CHECK(body["spec"]["holderIdentity"] == "pod-a");
  CHECK(body["spec"]["leaseTransitions"] == 5);
  f.answer_write("100");
  CHECK(f.elector->leading());
}

TEST_CASE("losing the race for the Lease (409) leaves us a candidate") {
  Fixture f;
  f.elector->start();
  f.answer(200, lease("", "2024-01-01T00:00:00.000000Z", "7"));  // released: free at once
  f.answer_write("8", 409);
  CHECK_FALSE(f.elector->leading());
  CHECK(f.changes.empty());
}

TEST_CASE("a leader that cannot renew within the renew deadline steps down, and a stop releases the Lease") {
  Fixture f;
  f.elector->start();
  f.answer(404, {{"code", 404}});
  f.answer_write("5", 201);
  REQUIRE(f.elector->leading());
  auto failing_since = Clock::now();
  REQUIRE(run_until(f.io, [&] {
    if (!f.api.pending.empty()) f.api.fail("connect: Connection refused");
    return !f.elector->leading();
  }));
  CHECK(Clock::now() - failing_since >= 600ms);
  CHECK(f.changes == std::vector<bool>{true, false});

  // Leading again, then stopped: the Lease is released (holder cleared).
  while (!f.api.pending.empty()) f.api.fail("still down");
  f.answer(200, lease("", "2024-01-01T00:00:00.000000Z", "20"));
  f.answer_write("21");
  REQUIRE(f.elector->leading());
  while (!f.api.pending.empty()) f.api.fail("x");
  f.elector->stop();
  CHECK_FALSE(f.elector->leading());
  REQUIRE(f.api.pending.size() == 1);
  json release = json::parse(f.api.pending.front().request.body);
  CHECK(f.api.pending.front().request.method == "PUT");
  CHECK(release["spec"]["holderIdentity"] == "");
  CHECK(release["metadata"]["resourceVersion"] == "21");
}

// Real behaviour: a renew the leader sent just before SIGTERM reaches the API
// server first and bumps the Lease's resourceVersion, so the release written
// from the older copy gets 409 Conflict (optimistic concurrency on update).
TEST_CASE("a release that loses to our own renew in flight (409) reads the Lease again and still clears it") {
  Fixture f;
  f.elector->start();
  f.answer(404, {{"code", 404}});
  f.answer_write("5", 201);
  REQUIRE(f.elector->leading());
  f.elector->stop();
  REQUIRE(f.api.pending.size() == 1);
  CHECK(json::parse(f.api.pending.front().request.body)["metadata"]["resourceVersion"] == "5");
  f.api.respond(409, {{"kind", "Status"}, {"code", 409}});
  KubeRequest reread = f.answer(200, lease("pod-a", "2024-01-01T00:00:01.000000Z", "6"));
  CHECK(reread.method == "GET");
  REQUIRE(run_until(f.io, [&] { return !f.api.pending.empty(); }));
  json release = json::parse(f.api.pending.front().request.body);
  CHECK(f.api.pending.front().request.method == "PUT");
  CHECK(release["spec"]["holderIdentity"] == "");
  CHECK(release["metadata"]["resourceVersion"] == "6");
  f.api.respond(200, release);

  // Taken over by another replica meanwhile: nothing more is written.
  Fixture g;
  g.elector->start();
  g.answer(404, {{"code", 404}});
  g.answer_write("5", 201);
  g.elector->stop();
  g.api.respond(409, {{"kind", "Status"}, {"code", 409}});
  g.answer(200, lease("pod-b", "2024-01-01T00:00:01.000000Z", "6"));
  CHECK_FALSE(run_until(g.io, [&] { return !g.api.pending.empty(); }, 200ms));
}

TEST_CASE("MicroTime is RFC 3339 in UTC with microseconds") {
  auto time = std::chrono::system_clock::time_point(std::chrono::microseconds(1'700'000'000'123'456));
  CHECK(micro_time(time) == "2023-11-14T22:13:20.123456Z");
}
