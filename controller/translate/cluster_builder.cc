#include "controller/translate/cluster_builder.h"

#include "common/text.h"

#include "controller/translate/k8s_names.h"
#include "common/tls_certificate.h"

#include <algorithm>
#include <optional>
#include <tuple>

namespace grpc_ingress {
namespace {

const ServicePort* find_service_port(const Service& service, const PortRef& port) {
  for (const ServicePort& candidate : service.ports) {
    if (port.number != 0 ? candidate.port == port.number : candidate.name == port.name) {
      return &candidate;
    }
  }
  return nullptr;
}

// The slice port carrying `service_port`: the one of the same name (the
// EndpointSlice controller names slice ports after Service ports), else the
// one numbered like a numeric targetPort (hand-written slices).
const EndpointSlicePort* find_slice_port(const EndpointSlice& slice,
                                         const ServicePort& service_port) {
  for (const EndpointSlicePort& port : slice.ports) {
    if (port.name == service_port.name) return &port;
  }
  if (service_port.target_port.number != 0) {
    for (const EndpointSlicePort& port : slice.ports) {
      if (port.port == service_port.target_port.number) return &port;
    }
  }
  return nullptr;
}

// Ready first, then by address; one entry per ip:port, the ready one if any.
void sort_and_dedupe(std::vector<Endpoint>& endpoints) {
  auto by_address = [](const Endpoint& a, const Endpoint& b) {
    return std::tie(a.ip, a.port, b.ready) < std::tie(b.ip, b.port, a.ready);
  };
  std::sort(endpoints.begin(), endpoints.end(), by_address);
  auto same_address = [](const Endpoint& a, const Endpoint& b) {
    return a.ip == b.ip && a.port == b.port;
  };
  endpoints.erase(std::unique(endpoints.begin(), endpoints.end(), same_address), endpoints.end());
  std::stable_partition(endpoints.begin(), endpoints.end(),
                        [](const Endpoint& endpoint) { return endpoint.ready; });
}

// The protocol towards the pods: the annotation, else the port's appProtocol
// (KEP-3726 names kubernetes.io/h2c and kubernetes.io/h2; "grpc", "http" and
// "https" are the common IANA-style names).
void set_protocol(Cluster& cluster, const ClusterPolicy& policy, const std::string& app_protocol) {
  if (policy.backend_protocol) {
    cluster.protocol_source = "annotation " + policy.backend_protocol_annotation;
    switch (*policy.backend_protocol) {
      case BackendProtocol::kGrpcs:
        cluster.tls.enabled = true;
        [[fallthrough]];
      case BackendProtocol::kGrpc:
        cluster.protocol = UpstreamProtocol::kH2;
        cluster.grpc_only = true;
        break;
      case BackendProtocol::kH2c:
        cluster.protocol = UpstreamProtocol::kH2;
        break;
      case BackendProtocol::kHttps:
        cluster.tls.enabled = true;
        [[fallthrough]];
      case BackendProtocol::kHttp:
        cluster.protocol = UpstreamProtocol::kHttp1;
        break;
    }
    return;
  }
  std::string app = lower_case(app_protocol);
  cluster.protocol_source = app.empty() ? "no appProtocol (gRPC over h2c, the rest over HTTP/1.1)"
                                        : "appProtocol " + app_protocol;
  if (app == "kubernetes.io/h2c") {
    cluster.protocol = UpstreamProtocol::kH2;
  } else if (app == "grpc") {
    cluster.protocol = UpstreamProtocol::kH2;
    cluster.grpc_only = true;
  } else if (app == "kubernetes.io/h2") {
    cluster.protocol = UpstreamProtocol::kH2;
    cluster.tls.enabled = true;
  } else if (app == "https") {
    cluster.tls.enabled = true;  // gRPC over h2, the rest over HTTP/1.1
  } else if (app == "http") {
    cluster.protocol = UpstreamProtocol::kHttp1;
  }
}

// Builds one cluster from `store` and `record`'s inputs; its problems go to `record`.
class ClusterMaker {
 public:
  ClusterMaker(const Store& store, ClusterRecord& record) : store_(store), record_(record) {}

  Cluster make() {
    const std::string& namespace_name = record_.service.namespace_name;
    const std::string& service = record_.service.name;
    const ClusterPolicy& policy = record_.policy;
    record_.problem.clear();
    record_.setting_problems.clear();
    record_.slice_rejections.clear();
    Cluster cluster;
    cluster.name = record_.name;
    cluster.service_namespace = namespace_name;
    cluster.service = service;
    cluster.port = record_.port.to_string();
    cluster.lb_policy = policy.policy;
    cluster.hash_header = policy.hash_header;
    cluster.health_check = record_.health_check;
    cluster.outlier_detection = policy.outlier_detection;
    cluster.max_streams_per_endpoint = policy.max_streams_per_endpoint;
    cluster.max_pending_per_endpoint = policy.max_pending_per_endpoint;

    std::string app_protocol;
    auto found = store_.services().find(record_.service);
    if (found == store_.services().end()) {
      record_.problem = "Service " + namespace_name + "/" + service + " not found";
    } else if (found->second.type == "ExternalName") {
      record_.problem = "Service " + namespace_name + "/" + service +
                        " is of type ExternalName, which has no endpoints to balance over";
    } else if (const ServicePort* service_port = find_service_port(found->second, record_.port)) {
      auto slices = store_.slices_of(record_.service);
      cluster.endpoints = endpoints_of(slices, *service_port);
      app_protocol = service_port->app_protocol.empty() ? slice_app_protocol(slices, *service_port)
                                                        : service_port->app_protocol;
    } else {
      record_.problem = "Service " + namespace_name + "/" + service + " has no port " +
                        (record_.port.number != 0 ? record_.port.to_string() : "named " + record_.port.name);
    }
    set_protocol(cluster, policy, app_protocol);
    if (cluster.health_check.enabled && cluster.protocol == UpstreamProtocol::kHttp1) {
      // grpc.health.v1 needs HTTP/2: every check of an HTTP/1.1 pod would fail
      // and stop all its calls.
      cluster.health_check.enabled = false;
      record_.setting_problems.push_back("gRPC health checks are off: the pods speak HTTP/1.1 (" +
                                         cluster.protocol_source + ")");
    }
    if (cluster.tls.enabled) {
      set_tls(cluster);
    } else if (policy.upstream_ca_secret || policy.upstream_client_secret || !policy.upstream_sni.empty()) {
      record_.setting_problems.push_back(
          "the upstream TLS annotations are ignored: the pods are spoken to in cleartext (" +
          cluster.protocol_source + ")");
    }
    return cluster;
  }

 private:
  // The appProtocol the EndpointSlice controller copied to the slices' port.
  static std::string slice_app_protocol(const std::vector<const EndpointSlice*>& slices,
                                        const ServicePort& service_port) {
    for (const EndpointSlice* slice : slices) {
      const EndpointSlicePort* port = find_slice_port(*slice, service_port);
      if (port && !port->app_protocol.empty()) return port->app_protocol;
    }
    return "";
  }

  const Secret* find_secret(const ObjectKey& key, const char* role, std::vector<std::string>& problems) const {
    auto it = store_.secrets().find(key);
    if (it != store_.secrets().end()) return &it->second;
    bool broken = store_.invalid_objects().count({ObjectKind::kSecret, key}) > 0;
    problems.push_back(std::string(role) + " Secret " + key.to_string() +
                       (broken ? " does not decode" : " not found") + "; calls to its pods fail UNAVAILABLE");
    return nullptr;
  }

  // TLS towards the pods: SNI, verification names, CA and client certificate from Secrets.
  void set_tls(Cluster& cluster) {
    const ClusterPolicy& policy = record_.policy;
    UpstreamTls& tls = cluster.tls;
    if (!policy.upstream_sni.empty()) {
      tls.sni = policy.upstream_sni;
      tls.verify_names = {tls.sni};
    } else {
      // The Service's cluster DNS name; a pod certificate may carry any of its forms.
      std::string short_name = cluster.service + "." + cluster.service_namespace;
      tls.sni = short_name + ".svc.cluster.local";
      tls.verify_names = {tls.sni, short_name + ".svc", short_name, cluster.service};
    }
    std::vector<std::string> secret_problems;
    std::string client_ca;
    if (policy.upstream_client_secret) {
      const ObjectKey& key = *policy.upstream_client_secret;
      tls.secrets = "client certificate " + key.to_string();
      if (const Secret* secret = find_secret(key, "upstream client certificate", secret_problems)) {
        auto cert = secret->data.find("tls.crt");
        auto private_key = secret->data.find("tls.key");
        if (cert == secret->data.end() || private_key == secret->data.end()) {
          secret_problems.push_back("upstream client certificate Secret " + key.to_string() +
                                    " needs data tls.crt and tls.key");
        } else if (auto checked = check_certificate(cert->second, private_key->second); !checked) {
          secret_problems.push_back("upstream client certificate Secret " + key.to_string() + ": " +
                                    checked.error().message);
        } else {
          tls.cert_pem = cert->second;
          tls.key_pem = private_key->second;
        }
        if (auto ca = secret->data.find("ca.crt"); ca != secret->data.end()) client_ca = ca->second;
      }
    }
    std::string ca_pem = client_ca;
    std::string ca_source = policy.upstream_client_secret ? policy.upstream_client_secret->to_string() : "";
    if (policy.upstream_ca_secret) {
      const ObjectKey& key = *policy.upstream_ca_secret;
      ca_pem.clear();
      ca_source = key.to_string();
      if (const Secret* secret = find_secret(key, "upstream CA", secret_problems)) {
        auto ca = secret->data.find("ca.crt");
        if (ca == secret->data.end()) {
          secret_problems.push_back("upstream CA Secret " + key.to_string() + " has no data ca.crt");
        } else {
          ca_pem = ca->second;
        }
      }
    }
    if (!ca_pem.empty()) {
      if (auto count = check_ca_bundle(ca_pem); !count) {
        secret_problems.push_back("upstream CA Secret " + ca_source + ": " + count.error().message);
      } else {
        tls.ca_pem = std::move(ca_pem);
        tls.secrets += std::string(tls.secrets.empty() ? "" : ", ") + "CA " + ca_source;
      }
    }
    if (!secret_problems.empty()) {
      tls.problem = secret_problems.front();
      for (auto& problem : secret_problems) record_.setting_problems.push_back(std::move(problem));
    }
  }

  std::vector<Endpoint> endpoints_of(const std::vector<const EndpointSlice*>& slices,
                                     const ServicePort& service_port) {
    std::vector<Endpoint> ready;
    std::vector<Endpoint> terminating;
    for (const EndpointSlice* slice : slices) add_slice_endpoints(*slice, service_port, ready, terminating);
    // Terminating pods that still serve are better than failing every call.
    std::vector<Endpoint> endpoints = ready.empty() ? std::move(terminating) : std::move(ready);
    sort_and_dedupe(endpoints);
    return endpoints;
  }

  void add_slice_endpoints(const EndpointSlice& slice, const ServicePort& service_port, std::vector<Endpoint>& ready,
                           std::vector<Endpoint>& terminating) {
    IpFamily family;
    if (slice.address_type == "IPv4") {
      family = IpFamily::kV4;
    } else if (slice.address_type == "IPv6") {
      family = IpFamily::kV6;
    } else {
      reject_slice(slice, "addressType " + slice.address_type + " is not supported (IPv4, IPv6)");
      return;
    }
    const EndpointSlicePort* port = find_slice_port(slice, service_port);
    if (port == nullptr || port->port == 0) return;

    size_t bad_addresses = 0;
    std::string first_bad;
    for (const SliceEndpoint& endpoint : slice.endpoints) {
      if (endpoint.addresses.empty()) continue;
      const EndpointConditions& conditions = endpoint.conditions;
      bool usable = conditions.ready || (conditions.serving && conditions.terminating);
      if (!usable) continue;
      // The API lets consumers use only the first address; the others are the same pod.
      auto ip = IpAddress::parse(endpoint.addresses.front(), family);
      if (!ip) {
        if (bad_addresses++ == 0) first_bad = endpoint.addresses.front();
        continue;
      }
      Endpoint out{*ip, static_cast<uint16_t>(port->port), endpoint.target_ref_name, conditions.ready};
      (conditions.ready ? ready : terminating).push_back(std::move(out));
    }
    if (bad_addresses > 0) {
      reject_slice(slice, std::to_string(bad_addresses) + " endpoint address(es) are not valid " +
                              slice.address_type + " addresses (first: '" + first_bad + "'); skipped");
    }
  }

  void reject_slice(const EndpointSlice& slice, std::string reason) {
    record_.slice_rejections.push_back(
        {"EndpointSlice", slice.metadata.namespace_name, slice.metadata.name, std::move(reason)});
  }

  const Store& store_;
  ClusterRecord& record_;
};

// The record's cluster built anew; the object of `kept` when it is equal.
ClusterPtr make_cluster(const Store& store, ClusterRecord& record, const ClusterPtr& kept) {
  Cluster cluster = ClusterMaker(store, record).make();
  if (kept && *kept == cluster) return kept;
  return std::make_shared<const Cluster>(std::move(cluster));
}

bool names_secret(const ClusterPolicy& policy) {
  return policy.upstream_ca_secret || policy.upstream_client_secret;
}

}  // namespace

ClusterBuilder::ClusterBuilder(const Store& store, BuiltClusters& built, const StoreChanges* changes)
    : store_(store), built_(built), changes_(changes) {}

void ClusterBuilder::forget_uses(const ObjectKey& ingress, const std::vector<uint32_t>& slots) {
  for (uint32_t slot : slots) {
    if (slot >= built_.records.size()) continue;
    std::erase_if(built_.records[slot].uses, [&](const ClusterRecord::Use& use) { return use.ingress.key == ingress && use.ingress.kind == RouteKind::kIngress; });
    touched_.insert(slot);
  }
}

void ClusterBuilder::forget_all_uses() {
  for (uint32_t slot = 0; slot < built_.records.size(); ++slot) {
    built_.records[slot].uses.clear();
    touched_.insert(slot);
  }
}

uint32_t ClusterBuilder::cluster_for(const IngressAge& ingress, const std::string& service, const PortRef& port,
                                     const ClusterPolicy& policy) {
  return cluster_for(ingress, ObjectKey{ingress.key.namespace_name, service}, port, policy);
}

uint32_t ClusterBuilder::cluster_for(const IngressAge& ingress, const ObjectKey& service, const PortRef& port,
                                     const ClusterPolicy& policy) {
  std::string name = service.namespace_name + "/" + service.name + ":" + port.to_string();
  uint32_t slot = 0;
  if (auto it = built_.slot_of.find(name); it != built_.slot_of.end()) {
    slot = it->second;
  } else {
    // A slot no cluster has (the lowest), else a new one.
    if (!built_.free_slots.empty()) {
      slot = *built_.free_slots.begin();
      built_.free_slots.erase(built_.free_slots.begin());
    } else {
      slot = static_cast<uint32_t>(built_.records.size());
      built_.records.emplace_back();
    }
    ClusterRecord& record = built_.records[slot];
    record = ClusterRecord{};
    record.name = name;
    record.service = service;
    record.port = port;
    built_.slot_of.emplace(std::move(name), slot);
    built_.slots_of_service[record.service].insert(slot);
  }
  auto& uses = built_.records[slot].uses;
  auto at = std::upper_bound(uses.begin(), uses.end(), ingress,
                             [](const IngressAge& age, const ClusterRecord::Use& use) { return age < use.ingress; });
  uses.insert(at, {ingress, policy});
  touched_.insert(slot);
  return slot;
}

bool ClusterBuilder::inputs_changed(const ClusterRecord& record) const {
  if (!changes_ || changes_->everything || changes_->services.count(record.service)) return true;
  if (names_secret(record.policy)) {
    for (const auto& [kind, _] : changes_->objects) {
      if (kind == ObjectKind::kSecret) return true;
    }
  }
  return false;
}

void ClusterBuilder::finish(std::vector<ClusterPtr>& clusters, std::vector<uint32_t>& changed) {
  clusters.resize(built_.records.size());
  for (uint32_t slot : touched_) {
    ClusterRecord& record = built_.records[slot];
    if (record.name.empty()) continue;
    if (record.uses.empty()) {  // no Ingress names it any more
      built_.slot_of.erase(record.name);
      auto service = built_.slots_of_service.find(record.service);
      service->second.erase(slot);
      if (service->second.empty()) built_.slots_of_service.erase(service);
      record = ClusterRecord{};
      built_.rejecting.erase(slot);
      built_.free_slots.insert(slot);
      if (clusters[slot]) changed.push_back(slot);
      clusters[slot] = nullptr;
      continue;
    }
    // The oldest Ingress naming it sets its policy, except that any Ingress
    // may turn health checks on (its HTTP health bridge depends on them).
    const ClusterPolicy& policy = record.uses.front().policy;
    HealthCheck health_check = policy.health_check;
    for (const ClusterRecord::Use& use : record.uses) {
      if (use.policy.health_check.enabled) {
        health_check = use.policy.health_check;
        break;
      }
    }
    if (!record.cluster || record.policy != policy || record.health_check != health_check || inputs_changed(record)) {
      record.policy = policy;
      record.health_check = health_check;
      ClusterPtr before = record.cluster;
      record.cluster = make_cluster(store_, record, before);
    }
    if (record.cluster != clusters[slot]) changed.push_back(slot);
    clusters[slot] = record.cluster;
    built_.settle_rejections(slot);  // its users may have changed
  }
  // Services whose objects changed in the same batch, outside the clusters settled above.
  if (changes_ && !changes_->services.empty()) built_.rebuild(store_, changes_->services, clusters, changed, touched_);
  // Free slots at the end give their room back.
  while (!built_.records.empty() && built_.records.back().name.empty()) {
    built_.free_slots.erase(static_cast<uint32_t>(built_.records.size() - 1));
    built_.records.pop_back();
  }
  clusters.resize(built_.records.size());
  touched_.clear();
}

void BuiltClusters::rebuild(const Store& store, const std::set<ObjectKey>& services, std::vector<ClusterPtr>& clusters,
                            std::vector<uint32_t>& changed, const std::set<uint32_t>& built) {
  for (const ObjectKey& service : services) {
    auto slots = slots_of_service.find(service);
    if (slots == slots_of_service.end()) continue;
    for (uint32_t slot : slots->second) {
      if (built.count(slot)) continue;
      ClusterRecord& record = records[slot];
      ClusterPtr before = record.cluster;
      record.cluster = make_cluster(store, record, before);
      if (record.cluster != before) changed.push_back(slot);
      clusters[slot] = record.cluster;
      settle_rejections(slot);
    }
  }
}

void ClusterRecord::settle_rejections() {
  rejections.clear();
  for (const Use& use : uses) {
    auto reject = [&](std::string reason) {
      rejections.push_back({to_string(use.ingress.kind), use.ingress.key.namespace_name, use.ingress.key.name, std::move(reason)});
    };
    const ClusterPolicy& used = use.policy;
    if (used.backend_protocol != policy.backend_protocol || used.upstream_sni != policy.upstream_sni ||
        used.upstream_ca_secret != policy.upstream_ca_secret ||
        used.upstream_client_secret != policy.upstream_client_secret) {
      reject("backend " + name + " is also used by an older Ingress, whose backend protocol and "
             "upstream TLS settings apply (" + cluster->protocol_source + ")");
    }
    if (used.policy != policy.policy || used.hash_header != policy.hash_header) {
      reject("backend " + name + " is also used by an older Ingress, whose load-balance " +
             to_string(cluster->lb_policy) + " applies");
    }
    if (!problem.empty()) reject("backend " + name + ": " + problem + "; its routes answer UNAVAILABLE");
    for (const std::string& setting : setting_problems) reject("backend " + name + ": " + setting);
  }
  rejections.insert(rejections.end(), slice_rejections.begin(), slice_rejections.end());
}

void BuiltClusters::settle_rejections(uint32_t slot) {
  ClusterRecord& record = records[slot];
  record.settle_rejections();
  if (record.rejections.empty()) {
    rejecting.erase(slot);
  } else {
    rejecting.insert(slot);
  }
}

void BuiltClusters::add_rejections(std::vector<Rejection>& out) const {
  for (uint32_t slot : rejecting) out.insert(out.end(), records[slot].rejections.begin(), records[slot].rejections.end());
}

}  // namespace grpc_ingress
