#pragma once

#include "common/route_table.h"
#include "controller/translate/annotations.h"
#include "controller/translate/k8s_objects.h"
#include "controller/translate/rejection.h"
#include "controller/translate/store.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace grpc_ingress {

// Builds the clusters of one RouteTable: one per Service port that a backend
// names, shared by every route that uses it. Resolves the port through the
// Service and collects the usable endpoints of its EndpointSlices.
class ClusterBuilder {
 public:
  // `store` and `rejections` must outlive the builder.
  ClusterBuilder(const Store& store, std::vector<Rejection>& rejections);

  // The cluster for `service`:`port` in the Ingress's namespace. A Service
  // that is missing, lacks the port or is ExternalName still gets a cluster,
  // without endpoints, so that its routes answer UNAVAILABLE; `ingress` is
  // told why in a rejection.
  uint32_t cluster_for(const ObjectMeta& ingress, const std::string& service, const PortRef& port,
                       const ClusterPolicy& policy);

  std::vector<Cluster> take_clusters() { return std::move(clusters_); }

 private:
  struct Built {
    uint32_t index = 0;
    std::string problem;  // why it has no endpoints by construction; empty if none
    std::vector<std::string> setting_problems;  // protocol and upstream TLS settings that cannot apply
  };

  Built build(const std::string& namespace_name, const std::string& service, const PortRef& port,
              const ClusterPolicy& policy);
  std::vector<Endpoint> endpoints_of(const std::string& namespace_name, const std::string& service,
                                     const ServicePort& service_port);
  void add_slice_endpoints(const EndpointSlice& slice, const ServicePort& service_port,
                           std::vector<Endpoint>& ready, std::vector<Endpoint>& terminating);
  void reject_slice(const EndpointSlice& slice, std::string reason);
  // The appProtocol the EndpointSlice controller copied to the slices' port.
  std::string slice_app_protocol(const std::string& namespace_name, const std::string& service,
                                 const ServicePort& service_port) const;
  // TLS towards the pods: SNI, verification names, CA and client certificate from Secrets.
  void set_tls(Cluster& cluster, const ClusterPolicy& policy, std::vector<std::string>& problems);
  const Secret* find_secret(const ObjectKey& key, const char* role, std::vector<std::string>& problems) const;

  const Store& store_;
  std::vector<Rejection>& rejections_;
  // (namespace, kubernetes.io/service-name) -> its slices, built once per table.
  std::multimap<std::pair<std::string, std::string>, const EndpointSlice*> slices_by_service_;
  std::map<std::string, Built> built_;  // by cluster name
  std::vector<Cluster> clusters_;
  std::vector<ClusterPolicy> used_policies_;  // the policy each cluster was built with
};

}  // namespace grpc_ingress
