#pragma once

#include "common/route_table.h"
#include "controller/translate/annotations.h"
#include "controller/translate/k8s_objects.h"
#include "controller/translate/rejection.h"
#include "controller/translate/store.h"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace grpc_ingress {

// One cluster of a translation: what it was built from and what building it
// found, kept so the next translation can rebuild only what changed.
struct ClusterRecord {
  struct Use {
    ObjectKey ingress;
    bool settings_conflict = false;  // its protocol or upstream TLS differ from the applied ones
    bool lb_conflict = false;        // its load-balance differs
  };

  std::string name;  // "namespace/service:port"; empty: the slot is free
  ObjectKey service;
  PortRef port;
  ClusterPolicy policy;      // the oldest Ingress's: the cluster is built with it
  HealthCheck health_check;  // the policy's, or the first an Ingress naming it turns on
  std::vector<Use> uses;     // every Ingress naming it, oldest first
  ClusterPtr cluster;
  std::string problem;  // why it has no endpoints by construction; empty if none
  std::vector<std::string> setting_problems;  // protocol and upstream TLS settings that cannot apply
  std::vector<Rejection> slice_rejections;    // about the EndpointSlices read
};

// The clusters of one translation, by slot (RouteTable::clusters).
struct BuiltClusters {
  std::vector<ClusterRecord> records;
  std::map<std::string, uint32_t> slot_of;                // by cluster name
  std::map<ObjectKey, std::vector<uint32_t>> slots_of_service;  // by (namespace, Service)

  // What the clusters say about the Ingresses that name them and about their slices.
  void add_rejections(std::vector<Rejection>& out) const;
  // The Services or slices of `services` changed: rebuilds their clusters
  // from `store`, here and in `clusters`. Returns the clusters that changed.
  size_t rebuild(const Store& store, const std::set<ObjectKey>& services, std::vector<ClusterPtr>& clusters);
};

// Builds the clusters of one RouteTable: one per Service port that a backend
// names, shared by every route that uses it. Resolves the port through the
// Service and collects the usable endpoints of its EndpointSlices. A cluster
// keeps the slot it had in `previous`, and its very object when neither its
// policy nor its objects changed.
class ClusterBuilder {
 public:
  // `store`, `previous` and `changes` must outlive the builder. `previous`:
  // the last translation's clusters (nullptr: none); `changes`: what changed
  // in the store since (nullptr: anything may have).
  ClusterBuilder(const Store& store, const BuiltClusters* previous, const StoreChanges* changes);

  // The slot of the cluster for `service`:`port` in the Ingress's namespace.
  // A Service that is missing, lacks the port or is ExternalName still gets a
  // cluster, without endpoints, so that its routes answer UNAVAILABLE.
  uint32_t cluster_for(const ObjectMeta& ingress, const std::string& service, const PortRef& port,
                       const ClusterPolicy& policy);

  // Builds (or keeps) every cluster named; `clusters` gets them by slot.
  BuiltClusters finish(std::vector<ClusterPtr>& clusters);

 private:
  bool unchanged_since_previous(const ClusterRecord& record, const ClusterRecord& previous) const;

  const Store& store_;
  const BuiltClusters* previous_;
  const StoreChanges* changes_;
  size_t next_free_ = 0;  // where to look for a slot free in `previous`
  BuiltClusters built_;
};

}  // namespace grpc_ingress
