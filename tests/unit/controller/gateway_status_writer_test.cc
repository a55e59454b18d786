#include "controller/gateway_status_writer.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using namespace grpc_ingress;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kEarlier = "2026-01-01T00:00:00Z";
const std::string kNow = "2026-12-05T12:00:00Z";
const std::string kOurs = "grpc-ingress.io/gateway-controller";

Condition condition(std::string type, bool status, std::string reason, int64_t generation = 1) {
  return {std::move(type), status, std::move(reason), "", generation};
}

json condition_json(const std::string& type, const std::string& status, const std::string& reason,
                    const std::string& since, int64_t generation = 1) {
  return {{"type", type},   {"status", status},
          {"reason", reason}, {"message", ""},
          {"observedGeneration", generation}, {"lastTransitionTime", since}};
}

RouteParentStatus parent(std::string gateway, std::string section, bool accepted, std::string reason) {
  return {ParentReference{.name = std::move(gateway), .section_name = std::move(section)},
          {condition("Accepted", accepted, std::move(reason))}};
}

}  // namespace

TEST_CASE("condition times are RFC 3339 in whole seconds, UTC") {
  auto time = std::chrono::sys_days{std::chrono::year{2026} / 12 / 5} + 12h + 3min + 4s + 567ms;
  CHECK(rfc3339_seconds(time) == "2026-12-05T12:03:04Z");
  CHECK(rfc3339_seconds(std::chrono::system_clock::time_point{}) == "1970-01-01T00:00:00Z");
}

TEST_CASE("a GatewayClass gets our Accepted condition in place of the pending one, other conditions untouched") {
  // What the CRD's defaults leave, plus a condition another tool wrote.
  json current = {{"conditions",
                   {{{"type", "Accepted"}, {"status", "Unknown"}, {"reason", "Pending"}, {"message", "Waiting"},
                     {"lastTransitionTime", "1970-01-01T00:00:00Z"}, {"observedGeneration", 1}},
                    condition_json("SupportedVersion", "True", "SupportedVersion", kEarlier)}}};
  json status = gateway_class_status(current, condition("Accepted", true, "Accepted"), kNow);
  CHECK(status["conditions"] ==
        json::array({condition_json("Accepted", "True", "Accepted", kNow),
                     condition_json("SupportedVersion", "True", "SupportedVersion", kEarlier)}));

  // Written once, it is what the class carries: nothing changes, not even the time.
  CHECK(gateway_class_status(status, condition("Accepted", true, "Accepted"), "2027-01-01T00:00:00Z") == status);
  // A new generation with the same status keeps the time; a flip takes the new one.
  json next = gateway_class_status(status, condition("Accepted", true, "Accepted", 2), "2027-01-01T00:00:00Z");
  CHECK(next["conditions"][0] == condition_json("Accepted", "True", "Accepted", kNow, 2));
  json flipped =
      gateway_class_status(status, condition("Accepted", false, "InvalidParameters"), "2027-01-01T00:00:00Z");
  CHECK(flipped["conditions"][0] ==
        condition_json("Accepted", "False", "InvalidParameters", "2027-01-01T00:00:00Z"));
  CHECK(flipped["conditions"][1] == status["conditions"][1]);

  CHECK(gateway_class_status(json(), condition("Accepted", true, "Accepted"), kNow) ==
        json{{"conditions", {condition_json("Accepted", "True", "Accepted", kNow)}}});
}

TEST_CASE("a Gateway gets its conditions, one entry per listener with kinds and attached routes, and its addresses") {
  GatewayStatus desired;
  desired.conditions = {condition("Accepted", true, "Accepted"), condition("Programmed", true, "Programmed")};
  desired.listeners = {
      {"grpc", {RouteGroupKind{.kind = "GRPCRoute"}}, 2, {condition("Accepted", true, "Accepted")}},
      {"other", {}, 0, {condition("Accepted", false, "PortUnavailable")}},
  };
  json current = {{"conditions", {condition_json("Accepted", "True", "Accepted", kEarlier)}},
                  {"listeners",
                   {{{"name", "grpc"},
                     {"supportedKinds", json::array()},
                     {"attachedRoutes", 0},
                     {"conditions", {condition_json("Accepted", "True", "Accepted", kEarlier)}}},
                    {{"name", "gone"}, {"attachedRoutes", 1}}}},
                  {"addresses", {{{"type", "IPAddress"}, {"value", "192.0.2.1"}}}}};
  json status = gateway_status(current, desired, {{"203.0.113.9", ""}, {"", "lb.example.com"}}, kNow);
  CHECK(status["conditions"] == json::array({condition_json("Accepted", "True", "Accepted", kEarlier),
                                             condition_json("Programmed", "True", "Programmed", kNow)}));
  CHECK(status["listeners"] ==
        json::array({{{"name", "grpc"},
                      {"supportedKinds", {{{"group", "gateway.networking.k8s.io"}, {"kind", "GRPCRoute"}}}},
                      {"attachedRoutes", 2},
                      {"conditions", {condition_json("Accepted", "True", "Accepted", kEarlier)}}},
                     {{"name", "other"},
                      {"supportedKinds", json::array()},
                      {"attachedRoutes", 0},
                      {"conditions", {condition_json("Accepted", "False", "PortUnavailable", kNow)}}}}));
  CHECK(status["addresses"] == json::parse(R"([{"type":"IPAddress","value":"203.0.113.9"},
                                               {"type":"Hostname","value":"lb.example.com"}])"));
  CHECK(gateway_status(status, desired, {{"203.0.113.9", ""}, {"", "lb.example.com"}}, "2027-01-01T00:00:00Z") ==
        status);
  CHECK_FALSE(gateway_status(status, desired, {}, kNow).contains("addresses"));  // none known: none claimed
}

TEST_CASE("route status: our parent entries are replaced in place, other controllers' entries kept") {
  json theirs = {{"parentRef", {{"group", "gateway.networking.k8s.io"}, {"kind", "Gateway"}, {"name", "envoy"}}},
                 {"controllerName", "gateway.envoyproxy.io/gatewayclass-controller"},
                 {"conditions", {condition_json("Accepted", "True", "Accepted", kEarlier)}}};
  json ours_before = {
      {"parentRef",
       {{"group", "gateway.networking.k8s.io"}, {"kind", "Gateway"}, {"name", "gw"}, {"sectionName", "grpc"}}},
      {"controllerName", kOurs},
      {"conditions", {condition_json("Accepted", "True", "Accepted", kEarlier)}}};
  json current = {{"parents", {ours_before, theirs}}};

  // The same entry again: nothing to write.
  CHECK(route_status(current, {parent("gw", "grpc", true, "Accepted")}, kOurs, kNow) == current);

  // A second parent of ours joins the first, where ours were; the first keeps its time.
  json status = route_status(
      current, {parent("gw", "grpc", true, "Accepted"), parent("gw", "http", false, "NotAllowedByListeners")}, kOurs,
      kNow);
  REQUIRE(status["parents"].size() == 3);
  CHECK(status["parents"][0] == ours_before);
  CHECK(status["parents"][1]["parentRef"] ==
        json{{"group", "gateway.networking.k8s.io"}, {"kind", "Gateway"}, {"name", "gw"}, {"sectionName", "http"}});
  CHECK(status["parents"][1]["controllerName"] == kOurs);
  CHECK(status["parents"][1]["conditions"] ==
        json::array({condition_json("Accepted", "False", "NotAllowedByListeners", kNow)}));
  CHECK(status["parents"][2] == theirs);

  // No longer ours: only our entries go.
  CHECK(route_status(status, {}, kOurs, kNow) == json{{"parents", {theirs}}});
  // Nothing of anyone's and nothing to add: nothing to write.
  CHECK(route_status(json(), {}, kOurs, kNow).is_null());
  CHECK(route_status(json::object(), {}, kOurs, kNow) == json::object());
}

TEST_CASE("route status: a parentRef written without the defaulted group and kind is still ours to match") {
  json current = {{"parents",
                   {{{"parentRef", {{"name", "gw"}, {"namespace", "infra"}, {"port", 80}}},
                     {"controllerName", kOurs},
                     {"conditions", {condition_json("Accepted", "True", "Accepted", kEarlier)}}}}}};
  RouteParentStatus ours{ParentReference{.namespace_name = "infra", .name = "gw", .port = 80},
                         {condition("Accepted", true, "Accepted")}};
  json status = route_status(current, {ours}, kOurs, kNow);
  CHECK(status["parents"][0]["conditions"][0]["lastTransitionTime"] == kEarlier);
  CHECK(status["parents"][0]["parentRef"] ==
        json{{"group", "gateway.networking.k8s.io"},
             {"kind", "Gateway"},
             {"name", "gw"},
             {"namespace", "infra"},
             {"port", 80}});
}
