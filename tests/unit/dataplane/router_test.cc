// The router driven against fake pods (tests/fakes/fake_pods.h), without sockets: which
// pod each attempt goes to, what the client is told, when a call is retried,
// when a pod is ejected.

#include "dataplane/router.h"

#include "dataplane/pod_uses.h"

#include "tests/fakes/fake_pods.h"
#include "tests/unit/run_until.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;

namespace {

struct Setup {
  boost::asio::io_context io;
  FakePods pods{io};
  WorkerStats stats;
  EndpointStates states;
  Router router{io, pods, stats, states, std::chrono::seconds(60), 1};
  std::shared_ptr<FakeClient> client = std::make_shared<FakeClient>();

  Setup(Cluster cluster, RetryPolicy retry = {}) {
    pods.handlers = {[this](const std::shared_ptr<ProxyStream>& stream, const std::string& reason,
                            UpstreamFailure failure) { router.upstream_failed(stream, reason, failure); },
                     [this](const std::shared_ptr<ProxyStream>& stream) { return router.upstream_answered(stream); }};
    apply(table_of(std::move(cluster), retry));
  }

  // As the data plane hands a table to a worker: with the pods it dropped.
  void apply(std::shared_ptr<const RouteTable> table) {
    auto gone = pod_uses.apply(router.table().get(), *table, diff_clusters(router.table().get(), *table));
    router.set_table(std::move(table), gone);
  }
  PodUses pod_uses;

  // A unary gRPC call, its request complete, dispatched to the router.
  std::shared_ptr<ProxyStream> call(std::string_view host = "greeter.example.com",
                                    std::string_view timeout = "") {
    auto stream = ProxyStream::make(1, next_id += 2, std::weak_ptr<DownstreamSide>(client));
    stream->method = "POST";
    stream->scheme = "http";
    stream->authority = stream->keep(host);
    stream->path = "/helloworld.Greeter/SayHello";
    stream->request_headers = {{"content-type", "application/grpc"}, {"te", "trailers"}};
    if (!timeout.empty()) stream->request_headers.push_back({"grpc-timeout", timeout});
    stream->grpc = true;
    const uint8_t message[] = {0, 0, 0, 0, 0};
    stream->request_body.append(message, sizeof(message));
    stream->request_ended = true;
    router.dispatch(stream);
    return stream;
  }

  // Runs the loop until `stream` has an attempt running at a pod; that pod.
  FakePod* attempt_of(const ProxyStream& stream) {
    FakePod* pod = nullptr;
    run_until(io, [&] { return (pod = pods.serving(stream)) != nullptr || client->answered; },
              std::chrono::seconds(2));
    return pod;
  }

  ClusterStats& cluster_stats() { return *stats.cluster(*router.table()->clusters[0]); }
  int32_t next_id = 1;
};

}  // namespace

TEST_CASE("router: a call goes to one pod and the pod's answer reaches the client", "[router]") {
  Setup setup(cluster_of(3));
  auto stream = setup.call();
  FakePod* pod = setup.attempt_of(*stream);
  REQUIRE(pod != nullptr);
  CHECK(stream->upstream() == pod);
  CHECK(setup.pods.started() == 1);
  pod->answer(*stream, 0);
  CHECK(setup.client->answered);
  CHECK(setup.client->grpc_status == 0);
  CHECK(stream->upstream() == nullptr);
  CHECK(setup.cluster_stats().upstream_requests == 1);
  CHECK(setup.cluster_stats().active_streams == 0);
  CHECK(setup.cluster_stats().retries == 0);
}

TEST_CASE("router: calls are spread over the pods, one attempt per call", "[router]") {
  Setup setup(cluster_of(3));
  std::map<std::string, int> per_pod;
  for (int i = 0; i < 30; ++i) {
    auto stream = setup.call();
    FakePod* pod = setup.attempt_of(*stream);
    REQUIRE(pod != nullptr);
    per_pod[pod->address()]++;
    pod->answer(*stream, 0);
  }
  CHECK(per_pod.size() == 3);
  for (const auto& [_, n] : per_pod) CHECK(n == 10);
}

TEST_CASE("router: a refused call is tried on the other pods, never the same one twice", "[router]") {
  Setup setup(cluster_of(3));
  auto stream = setup.call();
  std::set<std::string> tried;
  for (int attempt = 0; attempt < 3; ++attempt) {
    FakePod* pod = setup.attempt_of(*stream);
    REQUIRE(pod != nullptr);
    CHECK(tried.insert(pod->address()).second);
    pod->refuse(*stream);
    CHECK(stream->upstream() == nullptr);  // the refusing pod let go of it
  }
  // Every pod refused: the client is told, and no pod gets it a fourth time.
  REQUIRE(run_until(setup.io, [&] { return setup.client->answered; }, std::chrono::seconds(2)));
  CHECK(setup.client->grpc_status == static_cast<int>(GrpcStatus::kUnavailable));
  CHECK(setup.pods.started() == 3);
  CHECK(setup.cluster_stats().retries == 2);
}

TEST_CASE("router: an UNAVAILABLE answer is retried on another pod and the first pod's stream is cancelled",
          "[router]") {
  Setup setup(cluster_of(3));
  auto stream = setup.call();
  FakePod* first = setup.attempt_of(*stream);
  REQUIRE(first != nullptr);
  first->answer(*stream, static_cast<int>(GrpcStatus::kUnavailable));
  CHECK_FALSE(setup.client->answered);  // the client never sees the retried answer
  CHECK(first->cancelled == 1);
  CHECK(first->streams.empty());
  FakePod* second = setup.attempt_of(*stream);
  REQUIRE(second != nullptr);
  CHECK(second != first);
  CHECK(second->request_bytes == 5);  // the request body, replayed
  second->answer(*stream, 0);
  CHECK(setup.client->grpc_status == 0);
  CHECK(setup.cluster_stats().retries == 1);
  CHECK(setup.cluster_stats().active_streams == 0);
}

TEST_CASE("router: retries stop at the route's limit and the client gets the pod's answer", "[router]") {
  RetryPolicy retry;
  retry.retries = 1;
  Setup setup(cluster_of(3), retry);
  auto stream = setup.call();
  for (int attempt = 0; attempt < 2; ++attempt) {
    FakePod* pod = setup.attempt_of(*stream);
    REQUIRE(pod != nullptr);
    pod->answer(*stream, static_cast<int>(GrpcStatus::kUnavailable));
  }
  REQUIRE(setup.client->answered);
  CHECK(setup.client->grpc_status == static_cast<int>(GrpcStatus::kUnavailable));
  CHECK(setup.pods.started() == 2);
}

TEST_CASE("router: a reset the pod may have acted on is retried only when UNAVAILABLE is retryable", "[router]") {
  RetryPolicy no_retry;
  no_retry.retry_on = 0;
  Setup setup(cluster_of(3), no_retry);
  auto stream = setup.call();
  FakePod* pod = setup.attempt_of(*stream);
  REQUIRE(pod != nullptr);
  pod->reset(*stream);
  REQUIRE(setup.client->answered);
  CHECK(setup.client->grpc_status == static_cast<int>(GrpcStatus::kUnavailable));
  CHECK(setup.pods.started() == 1);

  Setup retrying(cluster_of(3));  // the default retry-on: unavailable
  auto call = retrying.call();
  FakePod* first = retrying.attempt_of(*call);
  REQUIRE(first != nullptr);
  first->reset(*call);
  FakePod* second = retrying.attempt_of(*call);
  REQUIRE(second != nullptr);
  CHECK(second != first);
  second->answer(*call, 0);
  CHECK(retrying.client->grpc_status == 0);
}

// A plain HTTP GET, as curl sends it, dispatched to the router.
std::shared_ptr<ProxyStream> plain_get(Setup& setup) {
  auto stream = ProxyStream::make(1, setup.next_id += 2, std::weak_ptr<DownstreamSide>(setup.client));
  stream->method = "GET";
  stream->scheme = "http";
  stream->authority = stream->keep("greeter.example.com");
  stream->path = "/helloworld.Greeter/page";
  stream->request_ended = true;
  setup.router.dispatch(stream);
  return stream;
}

TEST_CASE("router: a plain HTTP request gets 502 when the pod broke off before answering, 503 when no pod took it",
          "[router]") {
  RetryPolicy no_retry;
  no_retry.retry_on = 0;
  Setup broken(cluster_of(3), no_retry);
  auto get = plain_get(broken);
  FakePod* pod = broken.attempt_of(*get);
  REQUIRE(pod != nullptr);
  pod->reset(*get);  // as a pod answering bytes that are no HTTP/1.1 response
  REQUIRE(broken.client->answered);
  CHECK(broken.client->http_status == 502);
  CHECK(get->response.status == 502);

  Setup refusing(cluster_of(2));
  auto refused = plain_get(refusing);
  for (int attempt = 0; attempt < 2; ++attempt) {
    FakePod* next = refusing.attempt_of(*refused);
    REQUIRE(next != nullptr);
    next->refuse(*refused);
  }
  REQUIRE(run_until(refusing.io, [&] { return refusing.client->answered; }, std::chrono::seconds(2)));
  CHECK(refusing.client->http_status == 503);
}

TEST_CASE("router: a connection lost before the answer fails over to another pod", "[router]") {
  Setup setup(cluster_of(2));
  auto stream = setup.call();
  FakePod* first = setup.attempt_of(*stream);
  REQUIRE(first != nullptr);
  std::string lost = first->address();
  first->close("pod went away");
  FakePod* second = setup.attempt_of(*stream);
  REQUIRE(second != nullptr);
  CHECK(second->address() != lost);
  second->answer(*stream, 0);
  CHECK(setup.client->grpc_status == 0);
}

TEST_CASE("router: a pod failing calls in a row is ejected and gets no more calls", "[router]") {
  Cluster cluster = cluster_of(2);
  cluster.outlier_detection.consecutive_failures = 2;
  RetryPolicy no_retry;
  no_retry.retry_on = 0;
  Setup setup(cluster, no_retry);
  const std::string bad = "10.0.0.1:50051";
  int failures = 0;
  for (int i = 0; i < 10 && failures < 2; ++i) {
    auto stream = setup.call();
    FakePod* pod = setup.attempt_of(*stream);
    REQUIRE(pod != nullptr);
    if (pod->address() == bad) {
      pod->reset(*stream);
      ++failures;
    } else {
      pod->answer(*stream, 0);
    }
  }
  REQUIRE(failures == 2);
  auto state = setup.states.find("default/greeter:50051", PodAddress{IpAddress::from("10.0.0.1"), 50051});
  REQUIRE(state != nullptr);
  CHECK(state->ejected(std::chrono::steady_clock::now()));
  CHECK(setup.cluster_stats().outlier_ejections == 1);
  for (int i = 0; i < 10; ++i) {
    auto stream = setup.call();
    FakePod* pod = setup.attempt_of(*stream);
    REQUIRE(pod != nullptr);
    CHECK(pod->address() != bad);
    pod->answer(*stream, 0);
  }
}

TEST_CASE("router: a passed deadline answers DEADLINE_EXCEEDED and cancels the pod's stream", "[router]") {
  Setup setup(cluster_of(1));
  auto stream = setup.call("greeter.example.com", "30m");
  FakePod* pod = setup.attempt_of(*stream);
  REQUIRE(pod != nullptr);
  REQUIRE(run_until(setup.io, [&] { return setup.client->answered; }, std::chrono::seconds(3)));
  CHECK(setup.client->grpc_status == static_cast<int>(GrpcStatus::kDeadlineExceeded));
  CHECK(pod->cancelled == 1);
  CHECK(pod->streams.empty());
  CHECK(stream->upstream() == nullptr);
}

TEST_CASE("router: a stream that goes away takes its attempt with it, and the pod no longer points at it", "[router]") {
  Cluster cluster = cluster_of(1);
  cluster.max_streams_per_endpoint = 10;  // so the shared state counts the stream
  Setup setup(cluster);
  auto stream = setup.call();
  FakePod* pod = setup.attempt_of(*stream);
  REQUIRE(pod != nullptr);
  REQUIRE(pod->streams.size() == 1);
  auto state = setup.states.find("default/greeter:50051", PodAddress{IpAddress::from("10.0.0.1"), 50051});
  REQUIRE(state != nullptr);
  CHECK(state->active_streams == 1);
  stream->closed = true;
  stream.reset();  // the client's session let go of it: the only owner
  CHECK(pod->streams.empty());
  CHECK(pod->cancelled == 1);
  CHECK(setup.cluster_stats().active_streams == 0);
  CHECK(state->active_streams == 0);
}

TEST_CASE("router: a call for a host with no route answers UNIMPLEMENTED without a pod", "[router]") {
  Setup setup(cluster_of(2));
  auto stream = setup.call("unknown.example.com");
  CHECK(setup.client->answered);
  CHECK(setup.client->grpc_status == static_cast<int>(GrpcStatus::kUnimplemented));
  CHECK(setup.pods.started() == 0);
}

TEST_CASE("router: every pod at its stream limit answers RESOURCE_EXHAUSTED", "[router]") {
  Cluster cluster = cluster_of(1);
  cluster.max_streams_per_endpoint = 1;
  Setup setup(cluster);
  auto first = setup.call();
  FakePod* pod = setup.attempt_of(*first);
  REQUIRE(pod != nullptr);
  auto second = setup.call();
  CHECK(setup.client->answered);
  CHECK(setup.client->grpc_status == static_cast<int>(GrpcStatus::kResourceExhausted));
  CHECK(setup.cluster_stats().over_limit == 1);
  CHECK(pod->streams.size() == 1);
}

TEST_CASE("router: a table in which only another Service changed keeps this Service's state and pod connections",
          "[router][incremental]") {
  Setup setup(cluster_of(3));
  auto first = setup.router.table();
  // Round robin: a, b, then (after the table change) c, which shows the balancer kept its place.
  std::vector<std::string> order;
  auto call_once = [&] {
    auto stream = setup.call();
    FakePod* pod = setup.attempt_of(*stream);
    REQUIRE(pod != nullptr);
    order.push_back(pod->address());
    pod->answer(*stream, 0);
  };
  CHECK(setup.router.applied_cluster(0) == nullptr);  // resolved at its first call, not before
  call_once();
  call_once();
  const Router::AppliedCluster* resolved = setup.router.applied_cluster(0);
  REQUIRE(resolved != nullptr);

  // Another Service joins: the greeter cluster and host are the very same objects.
  auto next = std::make_shared<RouteTable>(*first);
  Cluster other = cluster_of(2);
  other.name = "default/other:50051";
  other.service = "other";
  for (Endpoint& endpoint : other.endpoints) endpoint.ip = IpAddress::from("10.0.1." + endpoint.ip.to_string().substr(7));
  next->clusters.push_back(std::make_shared<const Cluster>(std::move(other)));
  next->exact_hosts["other.example.com"] = std::make_shared<const VirtualHost>(
      VirtualHost{.host = "other.example.com", .routes = {Route{.path = "/", .cluster = 1}}});
  setup.apply(next);
  CHECK(setup.router.applied_cluster(0) == resolved);  // not resolved again
  CHECK(setup.router.applied_cluster(1) == nullptr);   // nothing kept for a cluster before its first call
  CHECK(setup.pods.forgotten.empty());                 // no pod connection let go
  {
    auto stream = setup.call("other.example.com");
    FakePod* pod = setup.attempt_of(*stream);
    REQUIRE(pod != nullptr);
    pod->answer(*stream, 0);
  }
  CHECK(setup.router.applied_cluster(1) != nullptr);   // resolved by that call
  CHECK(setup.router.applied_cluster(0) == resolved);
  call_once();
  CHECK(std::set<std::string>(order.begin(), order.end()).size() == 3);
  CHECK(setup.cluster_stats().upstream_requests == 3);  // the same counters

  // The greeter Service loses a pod: only its cluster is resolved again, and only that pod is let go.
  auto smaller = std::make_shared<RouteTable>(*next);
  Cluster greeter = *first->clusters[0];
  greeter.endpoints.pop_back();
  smaller->clusters[0] = std::make_shared<const Cluster>(std::move(greeter));
  const Router::AppliedCluster* other_resolved = setup.router.applied_cluster(1);
  setup.apply(smaller);
  CHECK(setup.router.applied_cluster(0) != nullptr);  // had calls: resolved again at once
  CHECK(setup.router.applied_cluster(0) != resolved);
  CHECK(setup.router.applied_cluster(1) == other_resolved);
  CHECK(setup.pods.forgotten == std::vector<std::string>{"10.0.0.3:50051"});

  // The other Service leaves: its pods are let go, the greeter's stay.
  auto without = std::make_shared<RouteTable>(*smaller);
  without->clusters.pop_back();
  without->exact_hosts.erase("other.example.com");
  setup.apply(without);
  CHECK(setup.router.applied_cluster(1) == nullptr);
  CHECK(setup.pods.forgotten ==
        std::vector<std::string>{"10.0.0.3:50051", "10.0.1.1:50051", "10.0.1.2:50051"});
}

TEST_CASE("router: a table that names the hosts it changed is applied by looking at those hosts only",
          "[router][incremental]") {
  Setup setup(cluster_of(2));
  auto first = std::make_shared<RouteTable>(*setup.router.table());
  first->version = 7;
  setup.apply(first);
  // A new host for the same Service, named as the only change since version 7.
  auto next = std::make_shared<RouteTable>(*first);
  next->version = 8;
  next->base_version = 7;
  next->exact_hosts["new.example.com"] = std::make_shared<const VirtualHost>(VirtualHost{
      .host = "new.example.com", .routes = {Route{.path = "/", .cluster = 0, .ingress_namespace = "default",
                                                  .ingress_name = "new"}}});
  next->changed_hosts = {"new.example.com"};
  setup.apply(next);
  auto stream = setup.call("new.example.com");
  FakePod* pod = setup.attempt_of(*stream);
  REQUIRE(pod != nullptr);
  pod->answer(*stream, 0);
  CHECK(setup.client->grpc_status == 0);
  CHECK(stream->route_stats == setup.stats.route("default", "new", "greeter"));  // its stats were resolved
}
