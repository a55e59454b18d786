#include "controller/status_writer.h"

#include "controller/object_decoder.h"
#include "tests/fakes/fake_kube_api.h"
#include "tests/unit/run_until.h"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>

using namespace grpc_ingress;
using grpc_ingress::testing::FakeKubeApi;
using grpc_ingress::testing::run_until;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

json ingress_json(const std::string& name, const std::string& rv, const json& load_balancer = json::array()) {
  json out = {{"apiVersion", "networking.k8s.io/v1"},
              {"kind", "Ingress"},
              {"metadata", {{"name", name}, {"namespace", "default"}, {"resourceVersion", rv}}},
              {"spec", {{"ingressClassName", "grpc"}}}};
  if (!load_balancer.empty()) out["status"] = {{"loadBalancer", {{"ingress", load_balancer}}}};
  return out;
}

Translation serving(std::vector<ObjectKey> keys) {
  Translation translation;
  translation.served_ingresses = std::make_shared<std::vector<ObjectKey>>(std::move(keys));
  return translation;
}

struct Fixture {
  boost::asio::io_context io;
  FakeKubeApi api;
  Store store;
  std::chrono::system_clock::time_point wall = std::chrono::sys_days{std::chrono::year{2026} / 12 / 5} + 12h;
  std::shared_ptr<StatusWriter> writer;

  explicit Fixture(StatusWriterOptions options) {
    options.retry_initial = 20ms;
    options.wall_clock = [this] { return wall; };
    writer = std::make_shared<StatusWriter>(io, api, store, std::move(options));
    writer->start();
  }
  ~Fixture() { writer->stop(); }

  void put_ingress(const json& object) { store.upsert(decode_object_as(ObjectKind::kIngress, object)); }

  KubeRequest next() {
    REQUIRE(run_until(io, [&] { return !api.pending.empty(); }));
    return api.pending.front().request;
  }

  // The pending request `method target`, moved to the front for respond().
  KubeRequest next(const std::string& method, const std::string& target) {
    auto find = [&] {
      return std::find_if(api.pending.begin(), api.pending.end(), [&](const FakeKubeApi::Pending& pending) {
        return pending.request.method == method && pending.request.target == target;
      });
    };
    REQUIRE(run_until(io, [&] { return find() != api.pending.end(); }));
    auto it = find();
    FakeKubeApi::Pending found = std::move(*it);
    api.pending.erase(it);
    api.pending.push_front(std::move(found));
    return api.pending.front().request;
  }

  // Answers the GET of `path` with `object`; returns the body of the PUT that follows.
  json read_then_write(const std::string& path, const json& object) {
    next("GET", path);
    api.respond(200, object);
    return json::parse(next("PUT", path + "/status").body);
  }
};

}  // namespace

TEST_CASE("status addresses: IPs and host names from the flag, a Service's load balancer, external IPs or cluster IP") {
  auto flag = parse_status_addresses({"lb.example.com", "203.0.113.9", "", "2001:db8::1"});
  REQUIRE(flag.size() == 3);
  CHECK(flag[0] == LoadBalancerIngress{"", "lb.example.com"});
  CHECK(flag[1] == LoadBalancerIngress{"2001:db8::1", ""});
  CHECK(flag[2] == LoadBalancerIngress{"203.0.113.9", ""});

  Service service;
  service.type = "LoadBalancer";
  service.cluster_ip = "10.96.0.10";
  service.load_balancer = {{"198.51.100.2", ""}, {"", "elb.example.com"}};
  CHECK(service_addresses(service) == std::vector<LoadBalancerIngress>{{"", "elb.example.com"}, {"198.51.100.2", ""}});
  service.load_balancer.clear();
  CHECK(service_addresses(service).empty());  // a load balancer still being provisioned
  service.type = "ClusterIP";
  CHECK(service_addresses(service) == std::vector<LoadBalancerIngress>{{"10.96.0.10", ""}});
  service.external_ips = {"192.0.2.1"};
  CHECK(service_addresses(service) == std::vector<LoadBalancerIngress>{{"192.0.2.1", ""}});

  CHECK(parse_namespaced_name("ingress/grpc-ingress", "--publish-service"));
  CHECK_FALSE(parse_namespaced_name("grpc-ingress", "--publish-service"));
  CHECK_FALSE(parse_namespaced_name("a/b/c", "--publish-service"));
}

TEST_CASE("the leader writes the addresses to the status of each Ingress it serves, retrying a 409 with a fresh read") {
  Fixture f({.publish_addresses = {"203.0.113.9"}});
  f.put_ingress(ingress_json("web", "10"));
  f.put_ingress(ingress_json("theirs", "11"));
  f.writer->on_translated(serving({{"default", "web"}}));
  CHECK(f.api.pending.empty());  // not the leader yet

  f.writer->set_leading(true);
  KubeRequest get = f.next();
  CHECK(get.method == "GET");
  CHECK(get.target == "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web");
  f.api.respond(200, ingress_json("web", "10"));
  KubeRequest put = f.next();
  CHECK(put.method == "PUT");
  CHECK(put.target == "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web/status");
  json body = json::parse(put.body);
  CHECK(body["metadata"]["resourceVersion"] == "10");
  CHECK(body["status"]["loadBalancer"]["ingress"] == json::parse(R"([{"ip":"203.0.113.9"}])"));
  f.api.respond(409, {{"kind", "Status"}, {"code", 409}, {"reason", "Conflict"}});

  get = f.next();
  CHECK(get.method == "GET");
  f.api.respond(200, ingress_json("web", "12"));
  put = f.next();
  CHECK(json::parse(put.body)["metadata"]["resourceVersion"] == "12");
  f.api.respond(200, ingress_json("web", "13", json::parse(R"([{"ip":"203.0.113.9"}])")));
  CHECK(f.writer->updates_written() == 1);
  CHECK(f.api.pending.empty());  // "theirs" is not ours: never touched

  // The write comes back through the watch: nothing more to do.
  f.put_ingress(ingress_json("web", "13", json::parse(R"([{"ip":"203.0.113.9"}])")));
  f.writer->on_translated(serving({{"default", "web"}}));
  CHECK(f.api.pending.empty());
}

TEST_CASE("an Ingress that stops being ours loses the addresses we wrote, and only those") {
  Fixture f({.publish_addresses = {"203.0.113.9"}});
  f.put_ingress(ingress_json("was-ours", "10", json::parse(R"([{"ip":"203.0.113.9"}])")));
  f.put_ingress(ingress_json("nginx", "11", json::parse(R"([{"ip":"198.51.100.1"}])")));
  f.writer->set_leading(true);
  f.writer->on_translated(serving({}));
  KubeRequest get = f.next();
  CHECK(get.target == "/apis/networking.k8s.io/v1/namespaces/default/ingresses/was-ours");
  f.api.respond(200, ingress_json("was-ours", "10", json::parse(R"([{"ip":"203.0.113.9"}])")));
  KubeRequest put = f.next();
  CHECK(json::parse(put.body)["status"]["loadBalancer"] == json::object());
  f.api.respond(200, ingress_json("was-ours", "14"));
  CHECK(f.api.pending.empty());
}

TEST_CASE("an Ingress that leaves our class while its status is being written gets it taken back once the write ends") {
  Fixture f({.publish_addresses = {"203.0.113.9"}});
  f.put_ingress(ingress_json("web", "10"));
  f.writer->set_leading(true);
  f.writer->on_translated(serving({{"default", "web"}}));
  KubeRequest get = f.next();
  f.api.respond(200, ingress_json("web", "10"));
  KubeRequest put = f.next();
  CHECK(put.method == "PUT");
  // While the write is in flight: the watch shows what it wrote, and the Ingress leaves our class.
  f.put_ingress(ingress_json("web", "11", json::parse(R"([{"ip":"203.0.113.9"}])")));
  f.writer->on_translated(serving({}));
  CHECK(f.api.pending.size() == 1);  // nothing new while it is in flight
  f.api.respond(200, ingress_json("web", "11", json::parse(R"([{"ip":"203.0.113.9"}])")));
  // Done: the Ingress is looked at again, and what we wrote is taken back.
  KubeRequest again = f.next();
  CHECK(again.method == "GET");
  f.api.respond(200, ingress_json("web", "11", json::parse(R"([{"ip":"203.0.113.9"}])")));
  KubeRequest clear = f.next();
  CHECK(clear.method == "PUT");
  CHECK(json::parse(clear.body)["status"]["loadBalancer"] == json::object());
}

TEST_CASE("a failed status write is retried after a backoff, losing the lead stops the writes") {
  Fixture f({.publish_addresses = {"lb.example.com"}});
  f.put_ingress(ingress_json("web", "10"));
  f.writer->set_leading(true);
  f.writer->on_translated(serving({{"default", "web"}}));
  f.next();
  auto failed = Clock::now();
  f.api.respond(500, {{"kind", "Status"}, {"code", 500}});
  KubeRequest again = f.next();
  CHECK(again.method == "GET");
  CHECK(Clock::now() - failed >= 20ms);

  f.writer->set_leading(false);
  f.api.respond(200, ingress_json("web", "10"));  // the read that was under way
  run_until(f.io, [] { return false; }, 100ms);
  CHECK(f.api.pending.empty());
}

TEST_CASE("with --publish-service the Service is watched, and a new load-balancer address reaches every Ingress") {
  Fixture f({.publish_service = "ingress/grpc-ingress"});
  KubeRequest list = f.next();
  CHECK(list.target == "/api/v1/namespaces/ingress/services?limit=500&fieldSelector=metadata.name%3Dgrpc-ingress");
  f.put_ingress(ingress_json("web", "10"));
  f.writer->set_leading(true);
  f.writer->on_translated(serving({{"default", "web"}}));
  CHECK(f.api.pending.size() == 1);  // nothing is written before the Service has been read

  json service = {{"metadata", {{"name", "grpc-ingress"}, {"namespace", "ingress"}}},
                  {"spec", {{"type", "LoadBalancer"}, {"clusterIP", "10.96.0.10"}}},
                  {"status", {{"loadBalancer", {{"ingress", {{{"ip", "198.51.100.7"}}}}}}}}};
  f.api.respond(200, {{"metadata", {{"resourceVersion", "50"}}}, {"items", {service}}});
  CHECK(f.writer->addresses() == std::vector<LoadBalancerIngress>{{"198.51.100.7", ""}});
  KubeRequest get = f.next();
  CHECK(get.method == "GET");
  f.api.respond(200, ingress_json("web", "10"));
  KubeRequest put = f.next();
  CHECK(json::parse(put.body)["status"]["loadBalancer"]["ingress"][0]["ip"] == "198.51.100.7");
}

namespace {

const std::string kClassPath = "/apis/gateway.networking.k8s.io/v1/gatewayclasses/grpc";
const std::string kGatewayPath = "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/gw";
const std::string kRoutePath = "/apis/gateway.networking.k8s.io/v1/namespaces/default/grpcroutes/greeter";
const std::string kOurs = "grpc-ingress.io/gateway-controller";
const std::string kNow = "2026-12-05T12:00:00Z";

json gateway_api_object(const std::string& kind, const std::string& name, const std::string& rv,
                        const json& status = json()) {
  json out = {{"apiVersion", "gateway.networking.k8s.io/v1"},
              {"kind", kind},
              {"metadata", {{"name", name}, {"resourceVersion", rv}, {"generation", 1}}},
              {"spec", json::object()}};
  if (kind != "GatewayClass") out["metadata"]["namespace"] = "default";
  if (!status.is_null()) out["status"] = status;
  return out;
}

Condition accepted(bool status = true, int64_t generation = 1) {
  return {"Accepted", status, status ? "Accepted" : "NotAllowedByListeners", "", generation};
}

// Our entry for GRPCRoute default/greeter under Gateway gw.
RouteParentStatus greeter_parent(bool is_accepted = true, int64_t generation = 1) {
  return {ParentReference{.name = "gw"}, {accepted(is_accepted, generation)}};
}

// What the translator wants for GatewayClass grpc, Gateway default/gw and GRPCRoute default/greeter.
std::shared_ptr<GatewayApiStatus> class_gateway_and_route() {
  auto out = std::make_shared<GatewayApiStatus>();
  out->gateway_classes[{"", "grpc"}] = accepted();
  out->gateways[{"default", "gw"}] = GatewayStatus{
      {accepted(), {"Programmed", true, "Programmed", "", 1}},
      {ListenerStatus{"grpc", {RouteGroupKind{.kind = "GRPCRoute"}}, 1, {accepted()}}}};
  out->grpc_routes[{"default", "greeter"}] = {greeter_parent()};
  return out;
}

std::shared_ptr<GatewayApiStatus> greeter_only(std::vector<RouteParentStatus> parents) {
  auto out = std::make_shared<GatewayApiStatus>();
  out->grpc_routes[{"default", "greeter"}] = std::move(parents);
  return out;
}

Translation translated(std::shared_ptr<const GatewayApiStatus> status) {
  Translation translation;
  translation.gateway_status = std::move(status);
  return translation;
}

}  // namespace

TEST_CASE("the leader writes the Gateway API status of the first translation, and an equal one again writes nothing") {
  Fixture f({.publish_addresses = {"203.0.113.9"}});
  f.writer->on_translated(translated(class_gateway_and_route()));
  CHECK(f.api.pending.empty());  // not the leader yet

  f.writer->set_leading(true);
  CHECK(f.api.pending.size() == 3);  // the three objects are read

  json gateway_class = f.read_then_write(kClassPath, gateway_api_object("GatewayClass", "grpc", "5"));
  CHECK(gateway_class["metadata"]["resourceVersion"] == "5");
  CHECK(gateway_class["status"]["conditions"] == json::parse(R"([{"type":"Accepted","status":"True",
      "reason":"Accepted","message":"","observedGeneration":1,"lastTransitionTime":"2026-12-05T12:00:00Z"}])"));

  json gateway = f.read_then_write(kGatewayPath, gateway_api_object("Gateway", "gw", "6"));
  CHECK(gateway["status"]["addresses"] == json::parse(R"([{"type":"IPAddress","value":"203.0.113.9"}])"));
  CHECK(gateway["status"]["conditions"].size() == 2);
  CHECK(gateway["status"]["listeners"][0]["name"] == "grpc");
  CHECK(gateway["status"]["listeners"][0]["attachedRoutes"] == 1);
  CHECK(gateway["status"]["listeners"][0]["supportedKinds"] ==
        json::parse(R"([{"group":"gateway.networking.k8s.io","kind":"GRPCRoute"}])"));

  json route = f.read_then_write(kRoutePath, gateway_api_object("GRPCRoute", "greeter", "7"));
  REQUIRE(route["status"]["parents"].size() == 1);
  CHECK(route["status"]["parents"][0]["parentRef"] ==
        json::parse(R"({"group":"gateway.networking.k8s.io","kind":"Gateway","name":"gw"})"));
  CHECK(route["status"]["parents"][0]["controllerName"] == kOurs);
  CHECK(route["status"]["parents"][0]["conditions"][0]["status"] == "True");

  for (int i = 0; i < 3; ++i) f.api.respond(200, json::object());
  CHECK(f.writer->updates_written() == 3);

  // The same status (an equal copy, as the next translation makes it): nothing to read or write.
  f.writer->on_translated(translated(class_gateway_and_route()));
  f.writer->on_translated(translated(class_gateway_and_route()));
  CHECK(f.api.pending.empty());
  CHECK(f.writer->updates_written() == 3);
}

TEST_CASE("an object that already carries its status is read but not written, once per term as leader") {
  Fixture f({});  // no address flag: Gateways claim no address
  auto wanted = class_gateway_and_route();
  wanted->gateway_classes.clear();
  wanted->grpc_routes.clear();
  f.writer->set_leading(true);
  f.writer->on_translated(translated(wanted));
  json gateway = f.read_then_write(kGatewayPath, gateway_api_object("Gateway", "gw", "6"));
  CHECK_FALSE(gateway["status"].contains("addresses"));
  f.api.respond(200, gateway);
  CHECK(f.writer->updates_written() == 1);

  // A new term reads it again and finds it as it should be, time included.
  f.wall += std::chrono::hours(1);
  f.writer->set_leading(false);
  f.writer->set_leading(true);
  f.next("GET", kGatewayPath);
  f.api.respond(200, gateway);
  CHECK(f.api.pending.empty());
  CHECK(f.writer->updates_written() == 1);
  f.writer->on_translated(translated(wanted));
  CHECK(f.api.pending.empty());
}

TEST_CASE("a condition keeps its lastTransitionTime while its status stays, and takes the time when it flips") {
  Fixture f({});
  f.writer->set_leading(true);
  f.writer->on_translated(translated(greeter_only({greeter_parent(true, 1)})));
  json route = f.read_then_write(kRoutePath, gateway_api_object("GRPCRoute", "greeter", "7"));
  f.api.respond(200, route);
  CHECK(route["status"]["parents"][0]["conditions"][0]["lastTransitionTime"] == kNow);

  // A new generation, still accepted: observedGeneration moves, the time stays.
  f.wall += std::chrono::hours(1);
  f.writer->on_translated(translated(greeter_only({greeter_parent(true, 2)})));
  route = f.read_then_write(kRoutePath, route);
  f.api.respond(200, route);
  CHECK(route["status"]["parents"][0]["conditions"][0]["observedGeneration"] == 2);
  CHECK(route["status"]["parents"][0]["conditions"][0]["lastTransitionTime"] == kNow);

  // Refused now: the status flips, and so does the time.
  f.wall += std::chrono::hours(1);
  f.writer->on_translated(translated(greeter_only({greeter_parent(false, 2)})));
  route = f.read_then_write(kRoutePath, route);
  f.api.respond(200, route);
  CHECK(route["status"]["parents"][0]["conditions"][0]["status"] == "False");
  CHECK(route["status"]["parents"][0]["conditions"][0]["reason"] == "NotAllowedByListeners");
  CHECK(route["status"]["parents"][0]["conditions"][0]["lastTransitionTime"] == "2026-12-05T14:00:00Z");
  CHECK(f.writer->updates_written() == 3);
}

TEST_CASE("other controllers' route parents are kept, and a route that is no longer ours loses only our entry") {
  json theirs = json::parse(R"({"parentRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"envoy"},
      "controllerName":"gateway.envoyproxy.io/gatewayclass-controller",
      "conditions":[{"type":"Accepted","status":"True","reason":"Accepted","message":"","observedGeneration":1,
                     "lastTransitionTime":"2026-01-01T00:00:00Z"}]})");
  Fixture f({});
  f.writer->set_leading(true);
  f.writer->on_translated(translated(greeter_only({greeter_parent()})));
  json route = f.read_then_write(kRoutePath, gateway_api_object("GRPCRoute", "greeter", "7", {{"parents", {theirs}}}));
  f.api.respond(200, route);
  REQUIRE(route["status"]["parents"].size() == 2);
  CHECK(route["status"]["parents"][0] == theirs);
  CHECK(route["status"]["parents"][1]["controllerName"] == kOurs);

  // The translation says: none of ours (an empty list).
  f.writer->on_translated(translated(greeter_only({})));
  route = f.read_then_write(kRoutePath, route);
  f.api.respond(200, route);
  CHECK(route["status"]["parents"] == json::array({theirs}));

  // Ours again, then left out of the translation altogether: our entry goes all the same.
  f.writer->on_translated(translated(greeter_only({greeter_parent()})));
  route = f.read_then_write(kRoutePath, route);
  f.api.respond(200, route);
  CHECK(route["status"]["parents"].size() == 2);
  f.writer->on_translated(translated(std::make_shared<GatewayApiStatus>()));
  route = f.read_then_write(kRoutePath, route);
  f.api.respond(200, route);
  CHECK(route["status"]["parents"] == json::array({theirs}));
  CHECK(f.writer->updates_written() == 4);

  f.writer->on_translated(translated(std::make_shared<GatewayApiStatus>()));
  CHECK(f.api.pending.empty());
}

TEST_CASE("a Gateway API status write that meets a 409 is read again and retried, and a 404 forgets the object") {
  Fixture f({});
  f.writer->set_leading(true);
  f.writer->on_translated(translated(greeter_only({greeter_parent()})));
  json put = f.read_then_write(kRoutePath, gateway_api_object("GRPCRoute", "greeter", "7"));
  CHECK(put["metadata"]["resourceVersion"] == "7");
  f.api.respond(409, {{"kind", "Status"}, {"code", 409}, {"reason", "Conflict"}});
  put = f.read_then_write(kRoutePath, gateway_api_object("GRPCRoute", "greeter", "8"));
  CHECK(put["metadata"]["resourceVersion"] == "8");
  f.api.respond(200, put);
  CHECK(f.writer->updates_written() == 1);

  // Deleted before we read it: dropped, not retried.
  f.writer->on_translated(translated(greeter_only({greeter_parent(false)})));
  f.next("GET", kRoutePath);
  f.api.respond(404, {{"kind", "Status"}, {"code", 404}, {"reason", "NotFound"}});
  run_until(f.io, [] { return false; }, 100ms);
  CHECK(f.api.pending.empty());
  CHECK(f.writer->updates_written() == 1);
}

TEST_CASE("nothing of the Gateway API is written while not leading, and a new leader looks at every object once") {
  Fixture f({.publish_addresses = {"203.0.113.9"}});
  f.writer->on_translated(translated(class_gateway_and_route()));
  f.writer->set_leading(true);
  REQUIRE(f.api.pending.size() == 3);
  f.writer->set_leading(false);
  // The reads under way come back to a follower: nothing is written.
  f.api.respond(200, gateway_api_object("GatewayClass", "grpc", "5"));
  f.api.respond(200, gateway_api_object("Gateway", "gw", "6"));
  f.api.respond(200, gateway_api_object("GRPCRoute", "greeter", "7"));
  f.writer->on_translated(translated(greeter_only({greeter_parent(false)})));
  run_until(f.io, [] { return false; }, 50ms);
  CHECK(f.api.pending.empty());

  f.writer->set_leading(true);
  CHECK(f.api.pending.size() == 1);  // what the latest translation names
  json route = f.read_then_write(kRoutePath, gateway_api_object("GRPCRoute", "greeter", "7"));
  CHECK(route["status"]["parents"][0]["conditions"][0]["status"] == "False");
}

TEST_CASE("a Gateway API status that changes while its write is in flight is written again when the write ends") {
  Fixture f({});
  f.writer->set_leading(true);
  f.writer->on_translated(translated(greeter_only({greeter_parent(true)})));
  json route = f.read_then_write(kRoutePath, gateway_api_object("GRPCRoute", "greeter", "7"));
  f.writer->on_translated(translated(greeter_only({greeter_parent(false)})));
  CHECK(f.api.pending.size() == 1);  // nothing new while it is in flight
  f.api.respond(200, route);
  route = f.read_then_write(kRoutePath, route);
  CHECK(route["status"]["parents"][0]["conditions"][0]["status"] == "False");
}

TEST_CASE("Gateways get the --publish-service addresses once the Service is read, and again when they change") {
  Fixture f({.publish_service = "ingress/grpc-ingress"});
  KubeRequest list = f.next();
  CHECK(list.target.find("/services?") != std::string::npos);
  f.writer->set_leading(true);
  f.writer->on_translated(translated(class_gateway_and_route()));
  // The class and the route are read; the Gateway waits for its addresses.
  CHECK(f.api.pending.size() == 3);
  for (const auto& pending : f.api.pending) CHECK(pending.request.target != kGatewayPath);

  auto service = [](const std::string& ip, const std::string& rv) {
    return json{{"metadata", {{"name", "grpc-ingress"}, {"namespace", "ingress"}, {"resourceVersion", rv}}},
                {"spec", {{"type", "LoadBalancer"}, {"clusterIP", "10.96.0.10"}}},
                {"status", {{"loadBalancer", {{"ingress", {{{"ip", ip}}}}}}}}};
  };
  f.next("GET", list.target);
  f.api.respond(200, {{"metadata", {{"resourceVersion", "50"}}}, {"items", {service("198.51.100.7", "49")}}});
  json gateway = f.read_then_write(kGatewayPath, gateway_api_object("Gateway", "gw", "6"));
  CHECK(gateway["status"]["addresses"] == json::parse(R"([{"type":"IPAddress","value":"198.51.100.7"}])"));
  f.api.respond(200, gateway);

  // The load balancer's address changes: the Gateway is written again, its conditions as they were.
  REQUIRE(run_until(f.io, [&] { return f.api.open_watch("services") != nullptr; }));
  f.api.open_watch("services")->send({{"type", "MODIFIED"}, {"object", service("198.51.100.8", "51")}});
  json again = f.read_then_write(kGatewayPath, gateway);
  CHECK(again["status"]["addresses"] == json::parse(R"([{"type":"IPAddress","value":"198.51.100.8"}])"));
  CHECK(again["status"]["conditions"] == gateway["status"]["conditions"]);
}
