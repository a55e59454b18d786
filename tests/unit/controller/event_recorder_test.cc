#include "controller/event_recorder.h"

#include "tests/fakes/fake_kube_api.h"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using namespace grpc_ingress;
using grpc_ingress::testing::FakeKubeApi;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

Translation rejecting(std::vector<Rejection> rejections) {
  Translation translation;
  translation.rejections = std::move(rejections);
  return translation;
}

Rejection bad_ingress(const std::string& name, const std::string& reason = "rules[0]: host '10.0.0.1': an IP address is not allowed") {
  return {"Ingress", "default", name, reason};
}

}  // namespace

TEST_CASE("the leader records a Warning event with the reason on each rejected Ingress, once") {
  boost::asio::io_context io;
  FakeKubeApi api;
  Store store;
  auto recorder = std::make_shared<EventRecorder>(io, api, store, EventRecorderOptions{.instance = "pod-a"});
  Translation translation = rejecting({bad_ingress("web"), {"EndpointSlice", "default", "x", "no ports"}});
  recorder->on_translated(translation);
  CHECK(api.pending.empty());  // followers record nothing

  recorder->set_leading(true);
  REQUIRE(api.pending.size() == 1);
  const KubeRequest& request = api.pending.front().request;
  CHECK(request.method == "POST");
  CHECK(request.target == "/api/v1/namespaces/default/events");
  json event = json::parse(request.body);
  CHECK(event["type"] == "Warning");
  CHECK(event["reason"] == "Rejected");
  CHECK(event["message"] == "rules[0]: host '10.0.0.1': an IP address is not allowed");
  CHECK(event["involvedObject"]["kind"] == "Ingress");
  CHECK(event["involvedObject"]["name"] == "web");
  CHECK(event["reportingInstance"] == "pod-a");
  CHECK_THAT(event["metadata"]["name"].get<std::string>(), Catch::StartsWith("web."));
  api.respond(201, event);
  CHECK(recorder->recorded() == 1);

  recorder->on_translated(translation);  // the same rejection again: no new event
  CHECK(api.pending.empty());
  recorder->on_translated(rejecting({}));  // fixed ...
  recorder->on_translated(translation);    // ... and broken again: news
  CHECK(api.pending.size() == 1);
}

TEST_CASE("events are rate limited by a token bucket, what it held back goes out as tokens come back") {
  boost::asio::io_context io;
  FakeKubeApi api;
  Store store;
  auto recorder = std::make_shared<EventRecorder>(
      io, api, store, EventRecorderOptions{.instance = "pod-a", .burst = 3, .refill = 50ms});
  recorder->set_leading(true);
  std::vector<Rejection> rejections;
  for (int i = 0; i < 5; ++i) rejections.push_back(bad_ingress("web-" + std::to_string(i)));
  recorder->on_translated(rejecting(rejections));
  CHECK(api.pending.size() == 3);
  CHECK(recorder->rate_limited() == 2);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (api.pending.size() < 5 && std::chrono::steady_clock::now() < deadline) io.run_one_for(5ms);
  CHECK(api.pending.size() == 5);
  recorder->stop();
}
