#include "dataplane/stats.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;

TEST_CASE("request codes map to gRPC statuses, common HTTP codes and HTTP classes", "[stats]") {
  CHECK(code_label(grpc_code_slot(0)) == "0");
  CHECK(code_label(grpc_code_slot(14)) == "14");
  CHECK(code_label(grpc_code_slot(99)) == "2");  // out of range is UNKNOWN
  CHECK(code_label(http_code_slot(200)) == "200");
  CHECK(code_label(http_code_slot(503)) == "503");
  CHECK(code_label(http_code_slot(418)) == "4xx");
  CHECK(code_label(http_code_slot(0)) == "none");
}

TEST_CASE("request durations fall into the first bucket whose bound they do not exceed", "[stats]") {
  RouteStats stats;
  stats.record(grpc_code_slot(0), std::chrono::microseconds(1000));    // 1 ms: le=0.001
  stats.record(grpc_code_slot(0), std::chrono::microseconds(1001));    // just over: le=0.0025
  stats.record(grpc_code_slot(0), std::chrono::seconds(1000));         // over every bound: +Inf
  CHECK(read(stats.duration_buckets[0]) == 1);
  CHECK(read(stats.duration_buckets[1]) == 1);
  CHECK(read(stats.duration_buckets[kDurationBuckets]) == 1);
  CHECK(read(stats.requests[0]) == 3);
  CHECK(read(stats.duration_sum_us) == 1000 + 1001 + 1000000000ULL);
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
