#include "controller/kube_informer.h"

#include "controller/kube_source.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_kube_api.h"
#include "tests/unit/run_until.h"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

using namespace grpc_ingress;
using grpc_ingress::testing::FakeClock;
using grpc_ingress::testing::FakeKubeApi;
using grpc_ingress::testing::run_until;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

json service(const std::string& name, int port, const std::string& rv, const std::string& ns = "default") {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"resourceVersion", rv}}},
          {"spec", {{"ports", {{{"name", "grpc"}, {"port", port}}}}}}};
}

// A list page as the API server writes it: items without apiVersion and kind.
json list_of(const std::vector<json>& objects, const std::string& rv, const std::string& next = "") {
  json items = json::array();
  for (json object : objects) {
    object.erase("apiVersion");
    object.erase("kind");
    items.push_back(object);
  }
  json metadata = {{"resourceVersion", rv}};
  if (!next.empty()) metadata["continue"] = next;
  return {{"kind", "ServiceList"}, {"apiVersion", "v1"}, {"metadata", metadata}, {"items", items}};
}

json event(const std::string& type, const json& object) { return {{"type", type}, {"object", object}}; }

json bookmark(const std::string& rv) {
  return event("BOOKMARK", {{"kind", "Service"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", rv}}}});
}

json expired_status() {
  return {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"}, {"code", 410}, {"reason", "Expired"},
          {"message", "too old resource version: 5 (90)"}};
}

InformerOptions fast_options() {
  InformerOptions options;
  options.page_size = 2;
  options.backoff = {.initial = 20ms, .max = 80ms};
  options.healthy_watch = 200ms;
  options.random_seed = 7;
  return options;
}

int port_of(const Store& store, const std::string& name) {
  auto it = store.services().find({"default", name});
  return it == store.services().end() ? 0 : it->second.ports.at(0).port;
}

// The informer runs on a fake clock (as client-go's tests inject a fake
// clock): backoffs and the healthy-watch rule are checked without sleeping.
struct Fixture {
  boost::asio::io_context io;
  FakeClock clock;
  FakeKubeApi api;
  Store store;
  std::map<std::string, int> restarts;  // reason -> count
  std::shared_ptr<Informer> informer;

  explicit Fixture(ResourceType resource = services_resource(), const std::string& ns = "",
                   InformerOptions options = fast_options()) {
    ObjectKind kind = resource.kind;
    InformerSink sink{
        .replace = [this, kind](std::vector<Object> objects) { store.replace_kind(kind, std::move(objects)); },
        .upsert = [this](Object object) { store.upsert(std::move(object)); },
        .remove = [this, kind](ObjectKey key) { store.remove(kind, key); },
    };
    options.time = &clock;
    informer = std::make_shared<Informer>(io, api, resource, ns, sink, options,
                                          [this](const std::string&, RestartReason reason) {
                                            ++restarts[std::string(restart_reason_name(reason))];
                                          });
  }
  ~Fixture() { informer->stop(); }

  // Lets the informer's pending backoff pass on the clock; returns how long it was.
  std::chrono::milliseconds pass_backoff() {
    auto wait = clock.next_wait();
    REQUIRE(wait);
    clock.advance(*wait);
    return *wait;
  }

  // Lists `objects` in one page at `rv` and returns the watch that follows.
  std::shared_ptr<FakeKubeApi::Watch> list_and_watch(const std::vector<json>& objects, const std::string& rv) {
    REQUIRE(run_until(io, [&] { return !api.pending.empty(); }));
    api.respond(200, list_of(objects, rv));
    auto watch = api.open_watch();
    REQUIRE(watch);
    return watch;
  }
};

}  // namespace

TEST_CASE("an informer lists page by page, then watches from the list's resourceVersion with bookmarks") {
  Fixture f;
  f.informer->start();
  REQUIRE(f.api.pending.size() == 1);
  CHECK(f.api.pending.front().request.target == "/api/v1/services?limit=2");
  f.api.respond(200, list_of({service("a", 80, "3"), service("b", 81, "4")}, "10", "token/+="));
  REQUIRE(f.api.pending.size() == 1);
  CHECK(f.api.pending.front().request.target == "/api/v1/services?limit=2&continue=token%2F%2B%3D");
  CHECK(f.store.services().empty());  // nothing until the list is complete
  f.api.respond(200, list_of({service("c", 82, "5")}, "10"));

  CHECK(f.store.services().size() == 3);
  CHECK(port_of(f.store, "c") == 82);
  auto watch = f.api.open_watch();
  REQUIRE(watch);
  CHECK_THAT(watch->target, Catch::StartsWith("/api/v1/services?watch=1&allowWatchBookmarks=true&resourceVersion=10&timeoutSeconds="));
  int timeout = std::stoi(watch->target.substr(watch->target.find("timeoutSeconds=") + 15));
  CHECK(timeout >= 300);
  CHECK(timeout <= 600);
  CHECK(f.informer->resource_version() == "10");
}

TEST_CASE("watch events add, change and delete objects, a bookmark only moves the resourceVersion") {
  Fixture f;
  f.informer->start();
  auto watch = f.list_and_watch({service("a", 80, "3")}, "10");
  uint64_t generation = f.store.generation();

  watch->send(event("ADDED", service("b", 90, "11")));
  CHECK(port_of(f.store, "b") == 90);
  watch->send(event("MODIFIED", service("a", 8080, "12")));
  CHECK(port_of(f.store, "a") == 8080);
  watch->send(event("DELETED", service("b", 90, "13")));
  CHECK(port_of(f.store, "b") == 0);
  uint64_t before_bookmark = f.store.generation();
  watch->send(bookmark("20"));
  CHECK(f.store.generation() == before_bookmark);
  CHECK(f.store.generation() > generation);
  CHECK(f.informer->resource_version() == "20");

  // The server ends the watch (its timeoutSeconds): watch again from the
  // bookmark's version, without a list.
  watch->end();
  f.pass_backoff();  // the watch lived no time at all on the clock
  REQUIRE(run_until(f.io, [&] { return f.api.open_watch() != nullptr; }));
  CHECK_THAT(f.api.open_watch()->target, Catch::Contains("resourceVersion=20&"));
  CHECK(f.api.pending.empty());
  CHECK(f.restarts["closed"] == 1);
}

TEST_CASE("a dropped watch resumes from the last version seen, after the backoff when it was short-lived") {
  Fixture f;
  f.informer->start();
  auto watch = f.list_and_watch({}, "10");
  watch->send(event("ADDED", service("a", 80, "15")));
  f.clock.advance(150ms);  // short of healthy_watch (200 ms)
  watch->end({.status = 200, .error = "watch stream: end of stream"});
  f.io.poll();
  CHECK(f.api.open_watch() == nullptr);
  auto backoff = f.pass_backoff();
  CHECK(backoff >= 16ms);  // the first step, 20 ms, jittered by at most 20%
  CHECK(backoff <= 24ms);
  REQUIRE(run_until(f.io, [&] { return f.api.open_watch() != nullptr; }));
  CHECK_THAT(f.api.open_watch()->target, Catch::Contains("resourceVersion=15&"));
  CHECK(f.restarts["dropped"] == 1);
  CHECK(port_of(f.store, "a") == 80);
}

TEST_CASE("a watch the server never ends is abandoned at our deadline and resumed at once from the same version") {
  Fixture f;
  f.informer->start();
  auto watch = f.list_and_watch({service("a", 80, "3")}, "10");
  watch->send(bookmark("12"));
  watch->end({.status = 200, .error = "watch stream: timed out", .timed_out = true});
  CHECK_FALSE(f.clock.next_wait());  // no backoff: the clock need not move
  REQUIRE(run_until(f.io, [&] { return f.api.open_watch() != nullptr; }));
  CHECK_THAT(f.api.open_watch()->target, Catch::Contains("resourceVersion=12&"));
  CHECK(f.restarts["timeout"] == 1);
  CHECK(f.api.pending.empty());
}

TEST_CASE("410 Gone as a watch ERROR event relists, keeping unchanged objects and dropping vanished ones") {
  Fixture f;
  f.informer->start();
  auto watch = f.list_and_watch({service("keep", 80, "3"), service("gone", 81, "4")}, "10");
  f.clock.advance(210ms);  // a healthy watch: the relist follows at once
  watch->send(event("ERROR", expired_status()));
  CHECK(watch->cancelled);
  CHECK_FALSE(f.clock.next_wait());
  REQUIRE(run_until(f.io, [&] { return !f.api.pending.empty(); }));
  CHECK(f.api.pending.front().request.target == "/api/v1/services?limit=2");
  const Service keep_before = f.store.services().at({"default", "keep"});
  f.api.respond(200, list_of({service("keep", 80, "3"), service("new", 82, "95")}, "100"));

  CHECK(f.store.services().count({"default", "gone"}) == 0);
  CHECK(port_of(f.store, "new") == 82);
  CHECK(f.store.services().at({"default", "keep"}) == keep_before);
  CHECK(f.restarts["expired"] == 1);
  REQUIRE(f.api.open_watch());
  CHECK_THAT(f.api.open_watch()->target, Catch::Contains("resourceVersion=100&"));
}

TEST_CASE("410 on a watch request and on a list continue page both start a full list") {
  Fixture f;
  f.informer->start();
  auto watch = f.list_and_watch({service("a", 80, "3")}, "10");
  watch->end({.status = 410, .body = expired_status().dump()});
  f.pass_backoff();  // 410 right after a list: relisting waits, or a broken server would be hammered
  REQUIRE(run_until(f.io, [&] { return !f.api.pending.empty(); }));
  f.api.respond(200, list_of({service("a", 80, "3")}, "20", "next"));
  f.api.respond(410, expired_status());  // the continue token expired mid-list
  f.pass_backoff();
  REQUIRE(run_until(f.io, [&] { return !f.api.pending.empty(); }));
  CHECK(f.api.pending.front().request.target == "/api/v1/services?limit=2");
  f.api.respond(200, list_of({service("b", 81, "30")}, "30"));
  CHECK(port_of(f.store, "a") == 0);
  CHECK(port_of(f.store, "b") == 81);
  CHECK(f.restarts["expired"] == 2);
}

TEST_CASE("failures back off exponentially up to the maximum, a successful list resets the backoff") {
  Fixture f;
  f.informer->start();
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(run_until(f.io, [&] { return !f.api.pending.empty(); }));
    if (i % 2) {
      f.api.respond(500, {{"kind", "Status"}, {"code", 500}, {"message", "etcdserver: leader changed"}});
    } else {
      f.api.fail("connect 127.0.0.1:6443: Connection refused");
    }
    f.io.poll();
    CHECK(f.api.pending.empty());  // nothing is asked before the wait has passed
    waits.push_back(f.pass_backoff());
  }
  // 20, 40, 80, 80, 80 ms, each jittered by at most 20%.
  const std::chrono::milliseconds steps[] = {20ms, 40ms, 80ms, 80ms, 80ms};
  for (size_t i = 0; i < waits.size(); ++i) {
    CHECK(waits[i] >= steps[i] * 8 / 10);
    CHECK(waits[i] <= steps[i] * 12 / 10);
  }
  CHECK(f.restarts["error"] == 5);
  CHECK_FALSE(f.store.synced());

  REQUIRE(run_until(f.io, [&] { return !f.api.pending.empty(); }));
  f.api.respond(200, list_of({service("a", 80, "3")}, "10"));
  CHECK(f.store.services().size() == 1);
  auto watch = f.api.open_watch();
  REQUIRE(watch);
  watch->end({.status = 500, .body = "{}"});  // right after the list: the first step again
  auto wait = f.pass_backoff();
  CHECK(wait >= 16ms);
  CHECK(wait <= 24ms);
  REQUIRE(run_until(f.io, [&] { return f.api.open_watch() != nullptr; }));
}

TEST_CASE("an object the decoder rejects is kept as invalid, so it is reported instead of vanishing") {
  Fixture f;
  f.informer->start();
  json broken = service("bad", 80, "3");
  broken["spec"]["ports"][0]["port"] = "eighty";
  auto watch = f.list_and_watch({service("good", 80, "2")}, "10");
  watch->send(event("MODIFIED", broken));
  CHECK(f.store.invalid_objects().size() == 1);
  CHECK_THAT(f.store.invalid_objects().begin()->second.reason, Catch::Contains("spec.ports[0].port"));
  CHECK(port_of(f.store, "good") == 80);
}

TEST_CASE("a watch event that is not an event restarts the watch") {
  Fixture f;
  f.informer->start();
  auto watch = f.list_and_watch({}, "10");
  watch->send({{"type", "SURPRISE"}});
  CHECK(watch->cancelled);
  CHECK(f.restarts["invalid"] == 1);
  f.pass_backoff();
  REQUIRE(run_until(f.io, [&] { return f.api.open_watch() != nullptr; }));
}

// certificate_secrets_resource()'s field selector, URL-encoded.
const std::string kSecretSelector =
    "type%21%3Dkubernetes.io%2Fservice-account-token%2Ctype%21%3Dhelm.sh%2Frelease.v1%2Ctype%21%3Dkubernetes.io%2Fdockerconfigjson%2Ctype%21%3Dkubernetes.io%2Fdockercfg%2Ctype%21%3Dbootstrap.kubernetes.io%2Ftoken";

TEST_CASE("Secrets are selected by type (no tokens, Helm releases or registry credentials), a watched namespace narrows namespaced kinds only") {
  {
    Fixture f(certificate_secrets_resource(), "team-a");
    f.informer->start();
    REQUIRE(f.api.pending.size() == 1);
    CHECK(f.api.pending.front().request.target ==
          "/api/v1/namespaces/team-a/secrets?limit=2&fieldSelector=" + kSecretSelector);
  }
  {
    Fixture f(ingress_classes_resource(), "team-a");
    f.informer->start();
    REQUIRE(f.api.pending.size() == 1);
    CHECK(f.api.pending.front().request.target == "/apis/networking.k8s.io/v1/ingressclasses?limit=2");
  }
}

TEST_CASE("the kube source syncs the store once every kind has been listed") {
  // A cluster without the Gateway API CRDs: discovery of the group's
  // versions answers 404 (what the real API server says for a group it does
  // not serve), and those kinds count as listed and empty.
  boost::asio::io_context io;
  FakeKubeApi api;
  Store store;
  KubeSource source(io, api, store, {.watch_namespace = "", .informer = fast_options()});
  source.start();
  REQUIRE(api.pending.size() == 8);
  std::vector<std::string> targets;
  for (const auto& pending : api.pending) targets.push_back(pending.request.target);
  CHECK_THAT(targets, Catch::UnorderedEquals(std::vector<std::string>{
                          "/apis/networking.k8s.io/v1/ingresses?limit=2",
                          "/apis/networking.k8s.io/v1/ingressclasses?limit=2",
                          "/api/v1/services?limit=2",
                          "/apis/discovery.k8s.io/v1/endpointslices?limit=2",
                          "/api/v1/secrets?limit=2&fieldSelector=" + kSecretSelector,
                          "/api/v1/namespaces?limit=2",
                          "/apis/gateway.networking.k8s.io/v1",
                          "/apis/gateway.networking.k8s.io/v1beta1",
                      }));
  for (int i = 0; i < 6; ++i) {
    api.respond(200, {{"metadata", {{"resourceVersion", "7"}}}, {"items", json::array()}});
    CHECK_FALSE(store.synced());
  }
  api.respond(404, {{"kind", "Status"}, {"reason", "NotFound"}});
  CHECK_FALSE(store.synced());
  api.respond(404, {{"kind", "Status"}, {"reason", "NotFound"}});
  CHECK(store.synced());
  CHECK_FALSE(source.gateway_api_served(ObjectKind::kGRPCRoute));
  CHECK(api.watches.size() == 6);

  source.stop();
  for (const auto& watch : api.watches) CHECK(watch->cancelled);
}

TEST_CASE("the kube source watches the Gateway API kinds discovery lists, and those installed later") {
  boost::asio::io_context io;
  FakeKubeApi api;
  Store store;
  KubeSource source(io, api, store,
                    {.watch_namespace = "", .informer = fast_options(), .gateway_discovery_interval = 10ms});
  source.start();
  for (int i = 0; i < 6; ++i) api.respond(200, {{"metadata", {{"resourceVersion", "7"}}}, {"items", json::array()}});
  // v1 first, as installed from an older release: GRPCRoute missing; v1beta1 not served at all.
  json v1 = {{"kind", "APIResourceList"},
             {"groupVersion", "gateway.networking.k8s.io/v1"},
             {"resources", {{{"name", "gatewayclasses"}}, {{"name", "gatewayclasses/status"}}, {{"name", "gateways"}},
                            {{"name", "httproutes"}}}}};
  api.respond(200, v1);
  api.respond(404, {{"kind", "Status"}});
  CHECK(source.gateway_api_served(ObjectKind::kGateway));
  CHECK_FALSE(source.gateway_api_served(ObjectKind::kGRPCRoute));
  // Their lists are what the store still waits for.
  CHECK_FALSE(store.synced());
  for (int i = 0; i < 3; ++i) api.respond(200, {{"metadata", {{"resourceVersion", "8"}}}, {"items", json::array()}});
  CHECK(store.synced());

  // The next discovery finds GRPCRoute and ReferenceGrant installed.
  REQUIRE(run_until(io, [&] { return api.pending.size() == 2; }));
  v1["resources"].push_back({{"name", "grpcroutes"}});
  api.respond(200, v1);
  api.respond(200, {{"kind", "APIResourceList"}, {"resources", {{{"name", "referencegrants"}}}}});
  CHECK(source.gateway_api_served(ObjectKind::kGRPCRoute));
  CHECK(source.gateway_api_served(ObjectKind::kReferenceGrant));
  std::vector<std::string> lists;
  for (const auto& pending : api.pending) lists.push_back(pending.request.target);
  CHECK_THAT(lists, Catch::UnorderedEquals(std::vector<std::string>{
                        "/apis/gateway.networking.k8s.io/v1/grpcroutes?limit=2",
                        "/apis/gateway.networking.k8s.io/v1beta1/referencegrants?limit=2"}));
  source.stop();
}
