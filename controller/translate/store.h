#pragma once

#include "controller/translate/k8s_objects.h"

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace grpc_ingress {

// What changed in a Store since the last Store::take_changes(), so that a
// translation can redo only that.
struct StoreChanges {
  // A kind was replaced as a whole (a list, a relist, the manifest files):
  // assume every object changed.
  bool everything = false;
  std::set<std::pair<ObjectKind, ObjectKey>> objects;  // upserted or removed, valid or not
  // (namespace, Service name) of every Service or EndpointSlice among them
  // (a slice counts for the Service it named before and after).
  std::set<ObjectKey> services;

  bool empty() const { return !everything && objects.empty(); }
  // Only Services and EndpointSlices: routes, hosts and certificates stand.
  bool endpoints_only() const;
};

// The current objects, typed, as the sources last saw them. Controller thread only.
//
// A source either replaces everything it read (FileSource), replaces one kind
// (a list or relist: keys it does not list are deleted), or applies single
// objects (watch events). An InvalidObject takes the place of its key, so an
// object that stopped decoding stops routing and is reported.
class Store {
 public:
  template <typename T>
  using Objects = std::map<ObjectKey, T>;
  using InvalidObjects = std::map<std::pair<ObjectKind, ObjectKey>, InvalidObject>;

  // Every kind becomes exactly `objects`; a later duplicate key wins.
  void replace_all(std::vector<Object> objects);
  // The objects of `kind` become exactly `objects`; objects of other kinds in it are ignored.
  void replace_kind(ObjectKind kind, std::vector<Object> objects);
  void upsert(Object object);
  void remove(ObjectKind kind, const ObjectKey& key);
  // The API does not serve `kind` (its CRD is not installed): it has no
  // objects, and counts as listed.
  void mark_absent(ObjectKind kind);

  const Objects<Ingress>& ingresses() const { return contents_.ingresses; }
  const Objects<IngressClass>& ingress_classes() const { return contents_.ingress_classes; }
  const Objects<Service>& services() const { return contents_.services; }
  const Objects<EndpointSlice>& endpoint_slices() const { return contents_.endpoint_slices; }
  const Objects<Secret>& secrets() const { return contents_.secrets; }
  const Objects<Namespace>& namespaces() const { return contents_.namespaces; }
  const Objects<GatewayClass>& gateway_classes() const { return contents_.gateway_classes; }
  const Objects<Gateway>& gateways() const { return contents_.gateways; }
  const Objects<GRPCRoute>& grpc_routes() const { return contents_.grpc_routes; }
  const Objects<HTTPRoute>& http_routes() const { return contents_.http_routes; }
  const Objects<ReferenceGrant>& reference_grants() const { return contents_.reference_grants; }
  const InvalidObjects& invalid_objects() const { return contents_.invalid; }

  // The valid EndpointSlices labelled with Service `service` (namespace, name), by slice name.
  std::vector<const EndpointSlice*> slices_of(const ObjectKey& service) const;

  // What changed since the last call (the first call: everything).
  StoreChanges take_changes();

  // Objects of `kind` in the store, valid or not (for logs).
  size_t count(ObjectKind kind) const;

  // True once every kind has been replaced at least once: a table built before
  // that would drop routes whose objects have not been listed yet.
  bool synced() const;

  uint64_t generation() const { return generation_; }  // +1 on every change that altered contents
  void set_on_change(std::function<void()> callback) { on_change_ = std::move(callback); }

 private:
  struct Contents {
    Objects<Ingress> ingresses;
    Objects<IngressClass> ingress_classes;
    Objects<Service> services;
    Objects<EndpointSlice> endpoint_slices;
    Objects<Secret> secrets;
    Objects<Namespace> namespaces;
    Objects<GatewayClass> gateway_classes;
    Objects<Gateway> gateways;
    Objects<GRPCRoute> grpc_routes;
    Objects<HTTPRoute> http_routes;
    Objects<ReferenceGrant> reference_grants;
    InvalidObjects invalid;
    // (namespace, kubernetes.io/service-name) -> the names of its slices.
    std::map<ObjectKey, std::set<std::string>> slices_by_service;

    bool operator==(const Contents&) const = default;
  };

  template <typename ContentsT, typename Fn>
  static auto with_map(ContentsT& contents, ObjectKind kind, Fn&& fn);
  template <typename T, typename ContentsT>
  static auto& map_of(ContentsT& contents);
  static void put(Contents& contents, Object object);
  static bool erase(Contents& contents, ObjectKind kind, const ObjectKey& key);
  static bool holds(const Contents& contents, const Object& object);

  // Takes `next` and notifies if it differs, or if a kind got its first list.
  void commit(Contents next, std::array<bool, std::size(kAllObjectKinds)> synced);
  void changed();
  // Notes `kind`/`key` (about to change) in changes_.
  void note_change(ObjectKind kind, const ObjectKey& key);

  Contents contents_;
  std::array<bool, std::size(kAllObjectKinds)> synced_{};
  uint64_t generation_ = 0;
  StoreChanges changes_{.everything = true};
  std::function<void()> on_change_;
};

}  // namespace grpc_ingress
