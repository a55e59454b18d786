#include "controller/translate/store.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;

namespace {

Service service(const std::string& name, int port = 80) {
  Service out;
  out.metadata.namespace_name = "default";
  out.metadata.name = name;
  out.ports.push_back({"web", port, {port, ""}});
  return out;
}

Ingress ingress(const std::string& name) {
  Ingress out;
  out.metadata.namespace_name = "default";
  out.metadata.name = name;
  return out;
}

struct CountingStore {
  Store store;
  int changes = 0;
  CountingStore() {
    store.set_on_change([this] { ++changes; });
  }
};

}  // namespace

TEST_CASE("store replace_all fires once per change that alters contents", "[store]") {
  CountingStore s;
  s.store.replace_all({service("a"), service("b"), ingress("i")});
  CHECK(s.changes == 1);
  CHECK(s.store.generation() == 1);
  CHECK(s.store.services().size() == 2);
  CHECK(s.store.synced());

  s.store.replace_all({service("a"), service("b"), ingress("i")});
  CHECK(s.changes == 1);  // same contents: no change

  s.store.replace_all({service("a", 81), ingress("i")});
  CHECK(s.changes == 2);
  CHECK(s.store.generation() == 2);
  CHECK(s.store.services().size() == 1);
  CHECK(s.store.services().at({"default", "a"}).ports[0].port == 81);
}

TEST_CASE("store first sync counts as a change even when empty", "[store]") {
  CountingStore s;
  CHECK_FALSE(s.store.synced());
  s.store.replace_all({});
  CHECK(s.changes == 1);
  CHECK(s.store.synced());
}

TEST_CASE("store replace_kind deletes the keys a relist no longer has", "[store]") {
  CountingStore s;
  s.store.replace_kind(ObjectKind::kService, {service("a"), service("b"), ingress("ignored")});
  CHECK(s.store.services().size() == 2);
  CHECK(s.store.ingresses().empty());
  CHECK_FALSE(s.store.synced());  // the other kinds have not been listed

  s.store.replace_kind(ObjectKind::kIngress, {ingress("i")});
  s.store.replace_kind(ObjectKind::kService, {service("b")});
  CHECK(s.store.services().size() == 1);
  CHECK(s.store.services().count({"default", "b"}) == 1);
  CHECK(s.store.ingresses().size() == 1);
  CHECK(s.changes == 3);
}

TEST_CASE("store upsert and remove apply watch events", "[store]") {
  CountingStore s;
  s.store.upsert(service("a"));
  s.store.upsert(service("a"));  // unchanged: no event
  CHECK(s.changes == 1);
  s.store.upsert(service("a", 90));
  CHECK(s.changes == 2);
  s.store.remove(ObjectKind::kService, {"default", "missing"});
  CHECK(s.changes == 2);
  s.store.remove(ObjectKind::kService, {"default", "a"});
  CHECK(s.changes == 3);
  CHECK(s.store.services().empty());
  CHECK(s.store.generation() == 3);
}

TEST_CASE("store lets an invalid object take the place of its key", "[store]") {
  CountingStore s;
  s.store.upsert(service("a"));
  s.store.upsert(InvalidObject{ObjectKind::kService, {"default", "a"}, "bad port"});
  CHECK(s.store.services().empty());
  REQUIRE(s.store.invalid_objects().size() == 1);
  CHECK(s.store.count(ObjectKind::kService) == 1);
  CHECK(s.store.count(ObjectKind::kIngress) == 0);

  s.store.upsert(service("a"));
  CHECK(s.store.invalid_objects().empty());
  CHECK(s.store.services().size() == 1);

  s.store.upsert(InvalidObject{ObjectKind::kService, {"default", "a"}, "bad"});
  s.store.remove(ObjectKind::kService, {"default", "a"});
  CHECK(s.store.invalid_objects().empty());
  CHECK(s.changes == 5);
}
