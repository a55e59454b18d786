// The translator kept across changes (Translator): what each kind of change
// rebuilds, shown by which parts of the new table are the previous table's
// very objects; and that the result always equals a translation from scratch.

#include "controller/translate/translator.h"

#include "tests/unit/controller/manifest_fixture.h"

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <tuple>
#include <vector>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;

namespace {

std::string app(const std::string& name, const std::vector<std::string>& endpoints, const std::string& created) {
  return ingress({.name = name,
                  .rules = {rule(name + ".example.com", {path("/" + name, "Prefix", name)})},
                  .created = created}) +
         service({.name = name, .endpoints = endpoints});
}

// Four Services behind four hosts, and host-less rules.
std::string cluster_yaml() {
  return app("a", {endpoint("10.0.0.1", "a-1")}, "2026-01-01T00:00:01Z") +
         app("b", {endpoint("10.0.1.1", "b-1"), endpoint("10.0.1.2", "b-2")}, "2026-01-01T00:00:02Z") +
         app("c", {endpoint("10.0.2.1", "c-1")}, "2026-01-01T00:00:03Z") +
         app("d", {endpoint("10.0.3.1", "d-1")}, "2026-01-01T00:00:04Z") +
         ingress({.name = "everywhere", .rules = {rule("", {path("/all", "Prefix", "a")})}});
}

// The one object of `kind` in `yaml`.
Object object_of(const std::string& yaml, ObjectKind kind) {
  for (Object& object : objects_from_yaml(yaml)) {
    if (kind_of(object) == kind) return object;
  }
  FAIL("no such object in the YAML");
  return {};
}

struct Kept {
  Store store;
  Translator translator{TranslatorOptions{}};

  Kept() { load_yaml(store, cluster_yaml()); }
  Translation next() { return translator.translate(store, store.take_changes()); }
};

uint32_t slot_of(const RouteTable& table, const std::string& name) {
  for (uint32_t slot = 0; slot < table.clusters.size(); ++slot) {
    if (table.clusters[slot] && table.clusters[slot]->name == name) return slot;
  }
  FAIL("no cluster " << name);
  return 0;
}

std::set<std::tuple<std::string, std::string, std::string, std::string>> as_set(const std::vector<Rejection>& rejections) {
  std::set<std::tuple<std::string, std::string, std::string, std::string>> out;
  for (const Rejection& r : rejections) out.emplace(r.kind, r.namespace_name, r.name, r.reason);
  return out;
}

// What an incremental translation made equals a translation from scratch.
void check_same_as_scratch(const Translation& kept, const Store& store) {
  Translation scratch = translate(store, TranslatorOptions{});
  INFO("kept: " << kept.table.to_json() << "\nscratch: " << scratch.table.to_json());
  // Slots may differ from a fresh numbering; compare what each request gets.
  CHECK(kept.table.route_count() == scratch.table.route_count());
  CHECK(kept.table.cluster_count() == scratch.table.cluster_count());
  for (const char* host : {"a.example.com", "b.example.com", "c.example.com", "d.example.com", "e.example.com",
                           "other.example.com"}) {
    for (const char* path : {"/a", "/b", "/c", "/d", "/e", "/all", "/none"}) {
      const Route* a = kept.table.match(host, path);
      const Route* b = scratch.table.match(host, path);
      INFO(host << path);
      REQUIRE((a == nullptr) == (b == nullptr));
      if (!a) continue;
      CHECK(kept.table.cluster_of(*a) == scratch.table.cluster_of(*b));
      CHECK(a->ssl_redirect == b->ssl_redirect);
      REQUIRE(a->canary.has_value() == b->canary.has_value());
      if (a->canary) CHECK(kept.table.clusters[a->canary->cluster]->name == scratch.table.clusters[b->canary->cluster]->name);
    }
  }
  CHECK(kept.table.tls == scratch.table.tls);
  CHECK(as_set(kept.rejections) == as_set(scratch.rejections));
  CHECK(*kept.served_ingresses == *scratch.served_ingresses);
}

}  // namespace

TEST_CASE("incremental: an EndpointSlice change rebuilds its Service's cluster and nothing else",
          "[translator][incremental]") {
  Kept kept;
  Translation first = kept.next();
  REQUIRE(first.table.cluster_count() == 4);

  kept.store.upsert(object_of(service({.name = "b", .endpoints = {endpoint("10.0.1.1", "b-1"), endpoint("10.0.1.3", "b-3")}}),
                              ObjectKind::kEndpointSlice));
  Translation second = kept.next();
  CHECK(second.endpoints_only);
  CHECK(second.clusters_changed == 1);
  const RouteTable& before = first.table;
  const RouteTable& after = second.table;
  uint32_t b = slot_of(after, "default/b:grpc");
  CHECK(b == slot_of(before, "default/b:grpc"));
  CHECK(after.clusters[b] != before.clusters[b]);
  CHECK(second.changed_clusters == std::vector<uint32_t>{b});  // workers look at this slot only
  CHECK(after.clusters[b]->endpoints.back().ip == IpAddress::from("10.0.1.3"));
  for (uint32_t slot = 0; slot < after.clusters.size(); ++slot) {
    if (slot != b) CHECK(after.clusters[slot] == before.clusters[slot]);  // the same objects
  }
  for (const auto& [host, routes] : after.exact_hosts) CHECK(routes == before.exact_hosts.at(host));
  CHECK(after.any_host == before.any_host);
  check_same_as_scratch(second, kept.store);

  // A slice change that changes nothing a cluster keeps (a pod that is not
  // serving) leaves even that cluster's object.
  kept.store.upsert(object_of(service({.name = "c", .endpoints = {endpoint("10.0.2.1", "c-1"),
                                                                  endpoint("10.0.2.2", "c-2", "ready: false, serving: false")}}),
                              ObjectKind::kEndpointSlice));
  Translation third = kept.next();
  CHECK(third.endpoints_only);
  CHECK(third.clusters_changed == 0);
  CHECK(third.table.clusters == after.clusters);
}

TEST_CASE("incremental: an Ingress change rebuilds the hosts it touches and keeps every cluster",
          "[translator][incremental]") {
  Kept kept;
  Translation first = kept.next();
  kept.store.upsert(object_of(ingress({.name = "a",
                                       .rules = {rule("a.example.com", {path("/a", "Prefix", "a"),
                                                                        path("/a2", "Exact", "a")})},
                                       .created = "2026-01-01T00:00:01Z"}),
                              ObjectKind::kIngress));
  Translation second = kept.next();
  CHECK_FALSE(second.endpoints_only);
  CHECK(second.ingresses_merged == 1);  // no other Ingress reaches a.example.com
  CHECK(second.hosts_changed == 1);
  REQUIRE(second.changed_hosts.has_value());
  CHECK(*second.changed_hosts == std::vector<std::string>{"a.example.com"});
  CHECK(second.clusters_changed == 0);
  CHECK(second.table.clusters == first.table.clusters);
  CHECK(second.table.exact_hosts.at("a.example.com") != first.table.exact_hosts.at("a.example.com"));
  CHECK(second.table.exact_hosts.at("a.example.com")->routes.size() == 2);
  for (const char* host : {"b.example.com", "c.example.com", "d.example.com"}) {
    CHECK(second.table.exact_hosts.at(host) == first.table.exact_hosts.at(host));
  }
  CHECK(second.table.any_host == first.table.any_host);
  check_same_as_scratch(second, kept.store);

  // A change that leaves every route as it was (an annotation of someone
  // else's) publishes nothing new: the table shares the very host map.
  kept.store.upsert(object_of(ingress({.name = "c",
                                       .rules = {rule("c.example.com", {path("/c", "Prefix", "c")})},
                                       .created = "2026-01-01T00:00:03Z",
                                       .annotations = "example.com/owner: 'team-c'"}),
                              ObjectKind::kIngress));
  Translation third = kept.next();
  CHECK(third.ingresses_merged == 1);
  CHECK(third.hosts_changed == 0);
  CHECK(third.clusters_changed == 0);
  CHECK(third.table.exact_hosts.shares(second.table.exact_hosts));
}

TEST_CASE("incremental: a cluster keeps its slot while it is used, and a freed slot goes to a new cluster",
          "[translator][incremental]") {
  Kept kept;
  Translation first = kept.next();
  uint32_t b = slot_of(first.table, "default/b:grpc");
  uint32_t c = slot_of(first.table, "default/c:grpc");

  kept.store.remove(ObjectKind::kIngress, {"default", "b"});
  Translation second = kept.next();
  CHECK(second.table.clusters[b] == nullptr);  // nothing routes to Service b any more
  CHECK(second.table.clusters[c] == first.table.clusters[c]);
  CHECK(second.table.exact_hosts.count("b.example.com") == 0);
  check_same_as_scratch(second, kept.store);

  for (const Object& object : objects_from_yaml(app("e", {endpoint("10.0.4.1", "e-1")}, "2026-01-01T00:00:05Z"))) {
    kept.store.upsert(object);
  }
  Translation third = kept.next();
  CHECK(slot_of(third.table, "default/e:grpc") == b);
  CHECK(third.table.clusters[c] == first.table.clusters[c]);
  CHECK(third.table.cluster_of(*third.table.match("e.example.com", "/e")).name == "default/e:grpc");
  check_same_as_scratch(third, kept.store);
}

TEST_CASE("incremental: Services that come and go change their cluster and its rejections only",
          "[translator][incremental]") {
  Kept kept;
  Translation first = kept.next();
  CHECK(first.rejections.empty());

  kept.store.remove(ObjectKind::kService, {"default", "d"});
  Translation second = kept.next();
  CHECK(second.endpoints_only);
  CHECK(second.clusters_changed == 1);
  REQUIRE(second.rejections.size() == 1);
  CHECK(second.rejections[0].name == "d");
  CHECK_THAT(second.rejections[0].reason, Catch::Matchers::Contains("Service default/d not found"));
  uint32_t d = slot_of(second.table, "default/d:grpc");
  CHECK(second.table.clusters[d]->endpoints.empty());
  check_same_as_scratch(second, kept.store);

  kept.store.upsert(object_of(service({.name = "d", .endpoints = {endpoint("10.0.3.1", "d-1")}}), ObjectKind::kService));
  Translation third = kept.next();
  CHECK(third.rejections.empty());
  CHECK(third.table.clusters[d]->endpoints.size() == 1);
  check_same_as_scratch(third, kept.store);

  // A slice with a bad address is reported through the cluster that reads it, and forgotten when fixed.
  kept.store.upsert(object_of(service({.name = "a", .endpoints = {endpoint("10.0.0.1", "a-1"), endpoint("not-an-ip", "x")}}),
                              ObjectKind::kEndpointSlice));
  Translation fourth = kept.next();
  REQUIRE(fourth.rejections.size() == 1);
  CHECK(fourth.rejections[0].kind == "EndpointSlice");
  check_same_as_scratch(fourth, kept.store);
  kept.store.upsert(object_of(service({.name = "a", .endpoints = {endpoint("10.0.0.1", "a-1")}}),
                              ObjectKind::kEndpointSlice));
  CHECK(kept.next().rejections.empty());
}

TEST_CASE("incremental: a run of mixed changes always equals a translation from scratch", "[translator][incremental]") {
  Kept kept;
  kept.next();
  std::vector<std::function<void(Store&)>> changes = {
      [](Store& store) { store.remove(ObjectKind::kEndpointSlice, {"default", "a-slice"}); },
      [](Store& store) {
        store.upsert(object_of(ingress({.name = "b2", .rules = {rule("b.example.com", {path("/b", "Prefix", "c")})}}),
                               ObjectKind::kIngress));  // older than b: takes its path
      },
      [](Store& store) {
        store.upsert(object_of(service({.name = "c", .port = 50052, .endpoints = {endpoint("10.0.2.9", "c-9")}}),
                               ObjectKind::kService));
      },
      [](Store& store) {
        store.upsert(object_of(service({.name = "c", .port = 50052, .endpoints = {endpoint("10.0.2.9", "c-9")}}),
                               ObjectKind::kEndpointSlice));
      },
      [](Store& store) { store.remove(ObjectKind::kIngress, {"default", "everywhere"}); },
      [](Store& store) {
        for (const Object& object : objects_from_yaml(app("a", {endpoint("10.0.0.7", "a-7")}, "2026-01-01T00:00:01Z"))) {
          store.upsert(object);
        }
      },
      [](Store& store) {  // TLS with a redirect, its Secret missing
        store.upsert(object_of(
            "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: e-tls, namespace: default, "
            "annotations: {nginx.ingress.kubernetes.io/ssl-redirect: 'true'}}\nspec:\n  ingressClassName: grpc\n"
            "  tls: [{hosts: [e.example.com], secretName: missing}]\n  rules: [" +
                rule("e.example.com", {path("/e", "Prefix", "a")}) + "]\n",
            ObjectKind::kIngress));
      },
      [](Store& store) {
        store.upsert(object_of(ingress({.name = "a-canary",
                                        .rules = {rule("a.example.com", {path("/a", "Prefix", "d")})},
                                        .annotations = "nginx.ingress.kubernetes.io/canary: 'true', "
                                                       "nginx.ingress.kubernetes.io/canary-by-header: 'x-canary'"}),
                               ObjectKind::kIngress));
      },
      [](Store& store) { store.remove(ObjectKind::kIngress, {"default", "a"}); },  // the canary is left alone
      [](Store& store) { store.remove(ObjectKind::kIngress, {"default", "e-tls"}); },
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    INFO("after change " << i);
    changes[i](kept.store);
    check_same_as_scratch(kept.next(), kept.store);
  }
}

TEST_CASE("incremental: an Ingress change merges again every Ingress that shares a host with it, and no other",
          "[translator][incremental]") {
  Kept kept;
  Translation start = kept.next();
  // An older Ingress on b.example.com claims /b first; a canary joins it.
  for (const Object& object : objects_from_yaml(
           ingress({.name = "b-old", .rules = {rule("b.example.com", {path("/b", "Prefix", "c"), path("/old", "Exact", "c")})},
                    .created = "2025-01-01T00:00:00Z"}) +
           ingress({.name = "b-canary",
                    .rules = {rule("b.example.com", {path("/b", "Prefix", "d")})},
                    .created = "2026-06-01T00:00:00Z",
                    .annotations = "nginx.ingress.kubernetes.io/canary: 'true', "
                                   "nginx.ingress.kubernetes.io/canary-weight: '10'"}))) {
    kept.store.upsert(object);
  }
  Translation first = kept.next();
  CHECK(first.ingresses_merged == 3);  // b-old, b and the canary share the host
  CHECK(first.table.exact_hosts.at("a.example.com") == start.table.exact_hosts.at("a.example.com"));
  CHECK(first.table.cluster_of(*first.table.match("b.example.com", "/b")).name == "default/c:grpc");
  check_same_as_scratch(first, kept.store);

  // b-old gives /b up: b, its younger rival, gets it (and the canary stays on it).
  kept.store.upsert(object_of(ingress({.name = "b-old", .rules = {rule("b.example.com", {path("/old", "Exact", "c")})},
                                       .created = "2025-01-01T00:00:00Z"}),
                              ObjectKind::kIngress));
  Translation second = kept.next();
  CHECK(second.ingresses_merged == 3);
  CHECK(second.hosts_changed == 1);
  const Route* route = second.table.match("b.example.com", "/b");
  REQUIRE(route != nullptr);
  CHECK(second.table.cluster_of(*route).name == "default/b:grpc");
  REQUIRE(route->canary.has_value());
  CHECK(second.table.clusters[route->canary->cluster]->name == "default/d:grpc");
  for (const char* host : {"a.example.com", "c.example.com", "d.example.com"}) {
    CHECK(second.table.exact_hosts.at(host) == first.table.exact_hosts.at(host));
  }
  check_same_as_scratch(second, kept.store);

  // An Ingress that leaves our class is forgotten, its host goes; one that joins is merged.
  kept.store.upsert(object_of(ingress({.name = "d",
                                       .rules = {rule("d.example.com", {path("/d", "Prefix", "d")})},
                                       .class_name = "nginx",
                                       .created = "2026-01-01T00:00:04Z"}),
                              ObjectKind::kIngress));
  Translation third = kept.next();
  CHECK(third.ingresses_merged == 0);
  CHECK(third.table.exact_hosts.count("d.example.com") == 0);
  CHECK(std::find(third.served_ingresses->begin(), third.served_ingresses->end(), ObjectKey{"default", "d"}) ==
        third.served_ingresses->end());
  check_same_as_scratch(third, kept.store);
}

TEST_CASE("incremental: a default backend, an IngressClass or a Secret change merges every Ingress again",
          "[translator][incremental]") {
  Kept kept;
  kept.next();
  kept.store.upsert(object_of(ingress({.name = "fallback", .created = "2026-01-01T00:00:09Z",
                                       .default_backend = "{service: {name: c, port: {name: grpc}}}"}),
                              ObjectKind::kIngress));
  Translation with_default = kept.next();
  CHECK(with_default.ingresses_merged == 6);
  CHECK(with_default.table.default_route.has_value());
  check_same_as_scratch(with_default, kept.store);

  kept.store.upsert(object_of(secret("unused", "kubernetes.io/tls", {}), ObjectKind::kSecret));
  Translation after_secret = kept.next();
  CHECK(after_secret.ingresses_merged == 6);
  CHECK(after_secret.clusters_changed == 0);  // no cluster reads that Secret
  CHECK(after_secret.table.clusters == with_default.table.clusters);
  check_same_as_scratch(after_secret, kept.store);
}
