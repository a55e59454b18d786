#pragma once

#include "common/route_table.h"
#include "controller/translate/annotations.h"
#include "controller/translate/k8s_objects.h"
#include "controller/translate/rejection.h"
#include "controller/translate/store.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace grpc_ingress {

// Orders Ingresses as conflicts are settled: the oldest first, then by namespace and name.
// Gateway API routes use clusters too, under their own kind.
struct IngressAge {
  std::chrono::sys_seconds created{};
  ObjectKey key;
  RouteKind kind = RouteKind::kIngress;  // or a GRPCRoute, an HTTPRoute

  static IngressAge of(const ObjectMeta& meta, RouteKind kind = RouteKind::kIngress) {
    return {meta.creation_timestamp, meta.key(), kind};
  }
  auto operator<=>(const IngressAge&) const = default;
};

// One cluster of a translation: what it was built from and what building it
// found, kept so the next translation can rebuild only what changed.
struct ClusterRecord {
  struct Use {  // one backend of an Ingress naming the cluster
    IngressAge ingress;
    ClusterPolicy policy;
  };

  std::string name;  // "namespace/service:port"; empty: the slot is free
  ObjectKey service;
  PortRef port;
  std::vector<Use> uses;     // oldest Ingress first
  ClusterPolicy policy;      // the oldest use's: the cluster is built with it
  HealthCheck health_check;  // the policy's, or the first an Ingress naming it turns on
  ClusterPtr cluster;
  std::string problem;  // why it has no endpoints by construction; empty if none
  std::vector<std::string> setting_problems;  // protocol and upstream TLS settings that cannot apply
  std::vector<Rejection> slice_rejections;    // about the EndpointSlices read
  std::vector<Rejection> rejections;          // all it says, about its users and its slices

  // Sets `rejections` from the rest; after every change of uses or build.
  void settle_rejections();
};

// The clusters of the running translation, by slot (RouteTable::clusters).
struct BuiltClusters {
  std::vector<ClusterRecord> records;
  std::map<std::string, uint32_t> slot_of;                      // by cluster name
  std::map<ObjectKey, std::set<uint32_t>> slots_of_service;     // by (namespace, Service)
  std::set<uint32_t> free_slots;                                // below records.size()
  std::set<uint32_t> rejecting;                                 // slots whose record has rejections

  // What the clusters say about the Ingresses that name them and about their
  // slices; costs what they say, not the number of clusters.
  void add_rejections(std::vector<Rejection>& out) const;
  // After `slot`'s record changed: its rejections again.
  void settle_rejections(uint32_t slot);
  // The Services or slices of `services` changed: rebuilds their clusters
  // from `store`, here and in `clusters`, but those in `built` (just built
  // from the same store). Adds the slots whose cluster object changed to `changed`.
  void rebuild(const Store& store, const std::set<ObjectKey>& services, std::vector<ClusterPtr>& clusters,
               std::vector<uint32_t>& changed, const std::set<uint32_t>& built = {});
};

// Keeps the clusters of a table up to date as Ingresses are merged: one per
// Service port that a backend names, shared by every route that uses it. A
// cluster keeps its slot while an Ingress names it, and its very object
// while neither its policy nor its objects change. Builds resolve the port
// through the Service and collect the usable endpoints of its EndpointSlices.
class ClusterBuilder {
 public:
  // Works on `built` in place. `changes`: what changed in the store since
  // `built` was last settled (nullptr: anything may have).
  ClusterBuilder(const Store& store, BuiltClusters& built, const StoreChanges* changes);

  // `ingress` is merged again or gone: the uses it made go.
  void forget_uses(const ObjectKey& ingress, const std::vector<uint32_t>& slots);
  // Every Ingress is merged again.
  void forget_all_uses();

  // The slot of the cluster for `service`:`port` in the Ingress's namespace,
  // used by `ingress` from now on. A Service that is missing, lacks the port
  // or is ExternalName still gets a cluster, without endpoints, so that its
  // routes answer UNAVAILABLE.
  uint32_t cluster_for(const IngressAge& ingress, const std::string& service, const PortRef& port,
                       const ClusterPolicy& policy);
  // The same for a Service in any namespace (a Gateway API backendRef a ReferenceGrant allows).
  uint32_t cluster_for(const IngressAge& user, const ObjectKey& service, const PortRef& port,
                       const ClusterPolicy& policy);

  // Frees the slots no Ingress uses any more and builds (or keeps) the
  // clusters whose uses changed, then the other clusters of Services that
  // changed; `clusters` follows. Adds the slots whose cluster object changed
  // to `changed`.
  void finish(std::vector<ClusterPtr>& clusters, std::vector<uint32_t>& changed);

 private:
  bool inputs_changed(const ClusterRecord& record) const;

  const Store& store_;
  BuiltClusters& built_;
  const StoreChanges* changes_;
  std::set<uint32_t> touched_;
};

}  // namespace grpc_ingress
