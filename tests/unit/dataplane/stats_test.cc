#include "dataplane/stats.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;

TEST_CASE("gRPC calls are labelled grpc_code with the status name, plain HTTP http_code with the status or class",
          "[stats]") {
  auto label = [](size_t slot) {
    auto [name, value] = code_label(slot);
    return std::pair<std::string, std::string>(name, value);
  };
  CHECK(label(grpc_code_slot(0)) == std::pair<std::string, std::string>("grpc_code", "OK"));
  CHECK(label(grpc_code_slot(1)) == std::pair<std::string, std::string>("grpc_code", "CANCELLED"));
  CHECK(label(grpc_code_slot(14)) == std::pair<std::string, std::string>("grpc_code", "UNAVAILABLE"));
  CHECK(label(grpc_code_slot(16)) == std::pair<std::string, std::string>("grpc_code", "UNAUTHENTICATED"));
  CHECK(label(grpc_code_slot(99)) == std::pair<std::string, std::string>("grpc_code", "UNKNOWN"));  // out of range
  CHECK(label(http_code_slot(200)) == std::pair<std::string, std::string>("http_code", "200"));
  CHECK(label(http_code_slot(503)) == std::pair<std::string, std::string>("http_code", "503"));
  CHECK(label(http_code_slot(418)) == std::pair<std::string, std::string>("http_code", "4xx"));
  CHECK(label(http_code_slot(0)) == std::pair<std::string, std::string>("http_code", "none"));
  // Every slot is one of the two, never both: the seventeen gRPC names come first.
  for (size_t slot = 0; slot < kCodeSlots; ++slot) {
    CHECK(is_grpc_code_slot(slot) == (std::string(code_label(slot).first) == "grpc_code"));
  }
}

TEST_CASE("durations fall into the first bucket whose bound they do not exceed", "[stats]") {
  DurationHistogram h;
  h.observe_duration(std::chrono::microseconds(1000));  // 1 ms: le=0.001
  h.observe_duration(std::chrono::microseconds(1001));  // just over: le=0.0025
  h.observe_duration(std::chrono::seconds(1000));       // over every bound: +Inf
  CHECK(read(h.buckets[0]) == 1);
  CHECK(read(h.buckets[1]) == 1);
  CHECK(read(h.buckets[kDurationBuckets]) == 1);
  CHECK(read(h.sum) == 1000 + 1001 + 1000000000ULL);

  StreamDurationHistogram streams;  // hours long streams still land in a bucket
  streams.observe_duration(std::chrono::hours(3));
  CHECK(read(streams.buckets[StreamDurationHistogram::kBuckets - 1]) == 1);  // le=14400
  streams.observe_duration(std::chrono::hours(5));
  CHECK(read(streams.buckets[StreamDurationHistogram::kBuckets]) == 1);  // +Inf

  MessageBytesHistogram sizes;
  sizes.observe(0, 0);
  sizes.observe(65, 65);
  CHECK(read(sizes.buckets[0]) == 1);  // le=64
  CHECK(read(sizes.buckets[1]) == 1);  // le=256
  CHECK(read(sizes.sum) == 65);
}

TEST_CASE("a route counts gRPC calls by code, or by method when method labels are on", "[stats]") {
  WorkerStats off;
  RouteStats* plain = off.route("default", "ing", "greeter");
  plain->count(grpc_code_slot(0), "/helloworld.Greeter/SayHello");
  plain->count(http_code_slot(200), "");
  CHECK(read(plain->requests[grpc_code_slot(0)]) == 1);
  CHECK(read(plain->requests[http_code_slot(200)]) == 1);

  MethodBound bound(100);
  WorkerStats on;
  on.count_methods(&bound);
  RouteStats* route = on.route("default", "ing", "greeter");
  route->count(grpc_code_slot(0), "/helloworld.Greeter/SayHello");
  route->count(grpc_code_slot(14), "/helloworld.Greeter/SayHello");
  route->count(http_code_slot(404), "");  // plain HTTP keeps its own code
  CHECK(read(route->requests[grpc_code_slot(0)]) == 0);
  CHECK(read(route->requests[http_code_slot(404)]) == 1);
  std::vector<std::string> seen;
  route->methods.for_each([&](const MethodStats& m) {
    if (m.service == "other") return;
    seen.push_back(m.service + "/" + m.method);
    CHECK(read(m.requests[0]) == 1);
    CHECK(read(m.requests[14]) == 1);
  });
  CHECK(seen == std::vector<std::string>{"helloworld.Greeter/SayHello"});
}

TEST_CASE("gRPC paths split into service and method, and anything else is not a method", "[stats]") {
  CHECK(split_grpc_path("/helloworld.Greeter/SayHello") ==
        std::pair<std::string_view, std::string_view>("helloworld.Greeter", "SayHello"));
  CHECK(split_grpc_path("/").first.empty());
  CHECK(split_grpc_path("/only").first.empty());
  CHECK(split_grpc_path("//Method").first.empty());
  CHECK(split_grpc_path("/svc/").first.empty());
  CHECK(split_grpc_path("/a/b/c").first.empty());
  CHECK(split_grpc_path("/a/b?x=1").first.empty());
  CHECK(split_grpc_path("a/b").first.empty());
}

TEST_CASE("the method bound holds per route over every worker, and later methods count as other", "[stats]") {
  MethodBound bound(2);
  MethodTable worker1, worker2, other_route;
  auto name = [](const MethodStats& m) { return m.service + "/" + m.method; };
  CHECK(name(worker1.resolve("/s.S/A", bound, "r")) == "s.S/A");
  CHECK(name(worker2.resolve("/s.S/B", bound, "r")) == "s.S/B");
  // Full: a third method is "other" on either worker, the admitted ones keep
  // their own series on the worker that had not seen them yet.
  CHECK(name(worker1.resolve("/s.S/C", bound, "r")) == "other/other");
  CHECK(name(worker1.resolve("/s.S/B", bound, "r")) == "s.S/B");
  CHECK(name(worker2.resolve("/s.S/A", bound, "r")) == "s.S/A");
  CHECK(name(worker2.resolve("/s.S/D", bound, "r")) == "other/other");
  CHECK(&worker1.resolve("/s.S/A", bound, "r") == &worker1.resolve("/s.S/A", bound, "r"));  // found, not added again
  // Another route has its own bound; a path that is no method is "other".
  CHECK(name(other_route.resolve("/s.S/C", bound, "r2")) == "s.S/C");
  CHECK(name(other_route.resolve("/healthz", bound, "r2")) == "other/other");
  size_t series = 0;
  worker1.for_each([&](const MethodStats&) { ++series; });
  CHECK(series == 3);  // A, B and other
}

TEST_CASE("stats of pods that left the table are dropped, routes and services are kept", "[stats]") {
  WorkerStats stats;
  Cluster cluster;
  cluster.name = "default/greeter:grpc";
  cluster.endpoints = {{IpAddress::from("10.0.0.1"), 50051, "a", true}, {IpAddress::from("10.0.0.2"), 50051, "b", true}};
  RouteStats* route = stats.route("default", "ing", "greeter");
  auto resolved = stats.endpoints(cluster);
  auto a = resolved[0];
  bump(a->requests);
  cluster.endpoints.pop_back();
  CHECK(stats.endpoints(cluster) == std::vector{a});
  CHECK(stats.find_endpoint(cluster.name, PodAddress{IpAddress::from("10.0.0.1"), 50051}) == a);
  CHECK(stats.find_endpoint(cluster.name, PodAddress{IpAddress::from("10.0.0.2"), 50051}) == nullptr);
  stats.forget_endpoints(cluster.name);
  CHECK(stats.find_endpoint(cluster.name, PodAddress{IpAddress::from("10.0.0.1"), 50051}) == nullptr);
  CHECK(stats.route("default", "ing", "greeter") == route);
}
