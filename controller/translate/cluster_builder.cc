#include "controller/translate/cluster_builder.h"

#include "common/text.h"

#include "controller/translate/k8s_names.h"
#include "common/tls_certificate.h"

#include <algorithm>
#include <tuple>

namespace grpc_ingress {
namespace {

constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";

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

}  // namespace

ClusterBuilder::ClusterBuilder(const Store& store, std::vector<Rejection>& rejections)
    : store_(store), rejections_(rejections) {
  for (const auto& [key, slice] : store.endpoint_slices()) {
    auto label = slice.metadata.labels.find(kServiceNameLabel);
    if (label == slice.metadata.labels.end()) continue;
    slices_by_service_.emplace(std::pair{key.namespace_name, label->second}, &slice);
  }
}

uint32_t ClusterBuilder::cluster_for(const ObjectMeta& ingress, const std::string& service,
                                     const PortRef& port, const ClusterPolicy& policy) {
  std::string name = ingress.namespace_name + "/" + service + ":" + port.to_string();
  auto it = built_.find(name);
  if (it == built_.end()) {
    it = built_.emplace(name, build(ingress.namespace_name, service, port, policy)).first;
  } else {
    // One cluster per Service port: the oldest Ingress naming it sets its
    // policy, except that any Ingress may turn health checks on (its HTTP
    // health bridge depends on them).
    Cluster& cluster = clusters_[it->second.index];
    if (policy.health_check.enabled && !cluster.health_check.enabled) cluster.health_check = policy.health_check;
    if (policy.backend_protocol != used_policies_[it->second.index].backend_protocol ||
        policy.upstream_sni != used_policies_[it->second.index].upstream_sni ||
        policy.upstream_ca_secret != used_policies_[it->second.index].upstream_ca_secret ||
        policy.upstream_client_secret != used_policies_[it->second.index].upstream_client_secret) {
      rejections_.push_back({"Ingress", ingress.namespace_name, ingress.name,
                             "backend " + name + " is also used by an older Ingress, whose backend protocol and "
                                 "upstream TLS settings apply (" + cluster.protocol_source + ")"});
    }
    if (policy.policy != cluster.lb_policy || policy.hash_header != cluster.hash_header) {
      rejections_.push_back({"Ingress", ingress.namespace_name, ingress.name,
                             "backend " + name + " is also used by an older Ingress, whose load-balance " +
                                 to_string(cluster.lb_policy) + " applies"});
    }
  }
  if (!it->second.problem.empty()) {
    rejections_.push_back({"Ingress", ingress.namespace_name, ingress.name,
                           "backend " + name + ": " + it->second.problem +
                               "; its routes answer UNAVAILABLE"});
  }
  for (const std::string& problem : it->second.setting_problems) {
    rejections_.push_back({"Ingress", ingress.namespace_name, ingress.name, "backend " + name + ": " + problem});
  }
  return it->second.index;
}

ClusterBuilder::Built ClusterBuilder::build(const std::string& namespace_name,
                                            const std::string& service, const PortRef& port,
                                            const ClusterPolicy& policy) {
  Built built;
  built.index = static_cast<uint32_t>(clusters_.size());
  Cluster cluster;
  cluster.name = namespace_name + "/" + service + ":" + port.to_string();
  cluster.service_namespace = namespace_name;
  cluster.service = service;
  cluster.port = port.to_string();
  cluster.lb_policy = policy.policy;
  cluster.hash_header = policy.hash_header;
  cluster.health_check = policy.health_check;
  cluster.outlier_detection = policy.outlier_detection;
  cluster.max_streams_per_endpoint = policy.max_streams_per_endpoint;
  cluster.max_pending_per_endpoint = policy.max_pending_per_endpoint;

  std::string app_protocol;
  auto found = store_.services().find({namespace_name, service});
  if (found == store_.services().end()) {
    built.problem = "Service " + namespace_name + "/" + service + " not found";
  } else if (found->second.type == "ExternalName") {
    built.problem = "Service " + namespace_name + "/" + service +
                    " is of type ExternalName, which has no endpoints to balance over";
  } else if (const ServicePort* service_port = find_service_port(found->second, port)) {
    cluster.endpoints = endpoints_of(namespace_name, service, *service_port);
    app_protocol = service_port->app_protocol.empty() ? slice_app_protocol(namespace_name, service, *service_port)
                                                      : service_port->app_protocol;
  } else {
    built.problem = "Service " + namespace_name + "/" + service + " has no port " +
                    (port.number != 0 ? port.to_string() : "named " + port.name);
  }
  set_protocol(cluster, policy, app_protocol);
  if (cluster.health_check.enabled && cluster.protocol == UpstreamProtocol::kHttp1) {
    // grpc.health.v1 needs HTTP/2: every check of an HTTP/1.1 pod would fail
    // and stop all its calls.
    cluster.health_check.enabled = false;
    built.setting_problems.push_back("gRPC health checks are off: the pods speak HTTP/1.1 (" + cluster.protocol_source + ")");
  }
  if (cluster.tls.enabled) {
    set_tls(cluster, policy, built.setting_problems);
  } else if (policy.upstream_ca_secret || policy.upstream_client_secret || !policy.upstream_sni.empty()) {
    built.setting_problems.push_back("the upstream TLS annotations are ignored: the pods are spoken to in cleartext (" +
                                 cluster.protocol_source + ")");
  }
  clusters_.push_back(std::move(cluster));
  used_policies_.push_back(policy);
  return built;
}

std::string ClusterBuilder::slice_app_protocol(const std::string& namespace_name, const std::string& service,
                                               const ServicePort& service_port) const {
  auto [begin, end] = slices_by_service_.equal_range({namespace_name, service});
  for (auto it = begin; it != end; ++it) {
    const EndpointSlicePort* port = find_slice_port(*it->second, service_port);
    if (port && !port->app_protocol.empty()) return port->app_protocol;
  }
  return "";
}

const Secret* ClusterBuilder::find_secret(const ObjectKey& key, const char* role,
                                          std::vector<std::string>& problems) const {
  auto it = store_.secrets().find(key);
  if (it != store_.secrets().end()) return &it->second;
  bool broken = store_.invalid_objects().count({ObjectKind::kSecret, key}) > 0;
  problems.push_back(std::string(role) + " Secret " + key.to_string() +
                     (broken ? " does not decode" : " not found") + "; calls to its pods fail UNAVAILABLE");
  return nullptr;
}

void ClusterBuilder::set_tls(Cluster& cluster, const ClusterPolicy& policy, std::vector<std::string>& problems) {
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
    for (auto& problem : secret_problems) problems.push_back(std::move(problem));
  }
}

std::vector<Endpoint> ClusterBuilder::endpoints_of(const std::string& namespace_name,
                                                   const std::string& service,
                                                   const ServicePort& service_port) {
  std::vector<Endpoint> ready;
  std::vector<Endpoint> terminating;
  auto [begin, end] = slices_by_service_.equal_range({namespace_name, service});
  for (auto it = begin; it != end; ++it) {
    add_slice_endpoints(*it->second, service_port, ready, terminating);
  }
  // Terminating pods that still serve are better than failing every call.
  std::vector<Endpoint> endpoints = ready.empty() ? std::move(terminating) : std::move(ready);
  sort_and_dedupe(endpoints);
  return endpoints;
}

void ClusterBuilder::add_slice_endpoints(const EndpointSlice& slice,
                                         const ServicePort& service_port,
                                         std::vector<Endpoint>& ready,
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
    auto ip = canonical_ip(endpoint.addresses.front(), family);
    if (!ip) {
      if (bad_addresses++ == 0) first_bad = endpoint.addresses.front();
      continue;
    }
    Endpoint out{*ip, static_cast<uint16_t>(port->port), endpoint.target_ref_name,
                 conditions.ready};
    (conditions.ready ? ready : terminating).push_back(std::move(out));
  }
  if (bad_addresses > 0) {
    reject_slice(slice, std::to_string(bad_addresses) + " endpoint address(es) are not valid " +
                            slice.address_type + " addresses (first: '" + first_bad +
                            "'); skipped");
  }
}

void ClusterBuilder::reject_slice(const EndpointSlice& slice, std::string reason) {
  rejections_.push_back(
      {"EndpointSlice", slice.metadata.namespace_name, slice.metadata.name, std::move(reason)});
}

}  // namespace grpc_ingress
