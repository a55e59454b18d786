#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace grpc_ingress {

// The Kubernetes objects routing needs, decoded into typed structs that keep
// only the fields the translator reads (object_decoder.h fills them).

enum class ObjectKind { kIngress, kIngressClass, kService, kEndpointSlice, kSecret };

inline constexpr ObjectKind kAllObjectKinds[] = {ObjectKind::kIngress, ObjectKind::kIngressClass,
                                                 ObjectKind::kService, ObjectKind::kEndpointSlice,
                                                 ObjectKind::kSecret};

std::string_view kind_name(ObjectKind kind);    // "Ingress"
std::string_view api_version(ObjectKind kind);  // the one version we decode: "networking.k8s.io/v1"
std::optional<ObjectKind> kind_from_name(std::string_view name);
bool is_namespaced(ObjectKind kind);  // IngressClass is cluster-scoped

// Identifies an object within its kind; namespace_name is empty for IngressClass.
struct ObjectKey {
  std::string namespace_name;
  std::string name;

  std::string to_string() const;  // "namespace/name", or "name" without a namespace
  auto operator<=>(const ObjectKey&) const = default;
};

struct ObjectMeta {
  std::string namespace_name;
  std::string name;
  std::string uid;  // set by the API server; Events name their object by it
  // Orders Ingresses in a conflict (oldest wins). Manifest files usually leave
  // it out: then it is the epoch, older than anything the API server writes.
  std::chrono::sys_seconds creation_timestamp{};
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;

  ObjectKey key() const { return {namespace_name, name}; }
  bool operator==(const ObjectMeta&) const = default;
};

// A port given by number or by name (ServiceBackendPort, targetPort).
struct PortRef {
  int32_t number = 0;  // 0: not given
  std::string name;    // empty: not given

  std::string to_string() const;  // "80", "grpc"; "" when neither is given
  bool operator==(const PortRef&) const = default;
};

// networking.k8s.io/v1 Ingress

enum class IngressPathType { kExact, kPrefix, kImplementationSpecific };

struct IngressBackend {
  std::string service_name;  // empty: not a service backend
  PortRef service_port;
  std::string resource_kind;  // non-empty: a resource backend (we route only to Services)
  std::string resource_name;

  bool operator==(const IngressBackend&) const = default;
};

struct IngressPath {
  std::string path;
  // The API requires it; kept optional so the translator rejects one path, not the object.
  std::optional<IngressPathType> path_type;
  IngressBackend backend;

  bool operator==(const IngressPath&) const = default;
};

struct IngressRule {
  std::string host;  // as written; "" = every host
  std::vector<IngressPath> paths;

  bool operator==(const IngressRule&) const = default;
};

struct IngressTls {
  std::vector<std::string> hosts;
  std::string secret_name;

  bool operator==(const IngressTls&) const = default;
};

// One address of status.loadBalancer.ingress (Ingress and Service).
struct LoadBalancerIngress {
  std::string ip;
  std::string hostname;

  auto operator<=>(const LoadBalancerIngress&) const = default;
};

struct Ingress {
  ObjectMeta metadata;
  std::string ingress_class_name;  // spec.ingressClassName; empty when absent
  std::optional<IngressBackend> default_backend;
  std::vector<IngressRule> rules;
  std::vector<IngressTls> tls;
  std::vector<LoadBalancerIngress> load_balancer;  // status.loadBalancer.ingress (the status writer's)

  bool operator==(const Ingress&) const = default;
};

// networking.k8s.io/v1 IngressClass
struct IngressClass {
  ObjectMeta metadata;
  std::string controller;

  bool operator==(const IngressClass&) const = default;
};

// v1 Service

struct ServicePort {
  std::string name;
  int32_t port = 0;
  PortRef target_port;  // the API defaults it to `port`; the decoder does too
  std::string app_protocol;  // "kubernetes.io/h2c", "grpc", "https", ...; empty when absent

  bool operator==(const ServicePort&) const = default;
};

struct Service {
  ObjectMeta metadata;
  std::string type = "ClusterIP";
  std::vector<ServicePort> ports;
  // Where the Service is reached from outside: what --publish-service writes to Ingress status.
  std::string cluster_ip;                          // spec.clusterIP ("None" when headless)
  std::vector<std::string> external_ips;           // spec.externalIPs
  std::vector<LoadBalancerIngress> load_balancer;  // status.loadBalancer.ingress

  bool operator==(const Service&) const = default;
};

// discovery.k8s.io/v1 EndpointSlice

struct EndpointSlicePort {
  std::string name;  // empty when absent
  int32_t port = 0;  // 0: absent ("all ports"), which we cannot route to
  std::string app_protocol;  // copied from the Service port by the EndpointSlice controller

  bool operator==(const EndpointSlicePort&) const = default;
};

// Absent conditions take the API's documented meaning of "unknown".
struct EndpointConditions {
  bool ready = true;
  bool serving = true;
  bool terminating = false;

  bool operator==(const EndpointConditions&) const = default;
};

struct SliceEndpoint {
  std::vector<std::string> addresses;  // the API says consumers may use only the first
  EndpointConditions conditions;
  std::string target_ref_name;  // the pod, when the slice names one

  bool operator==(const SliceEndpoint&) const = default;
};

struct EndpointSlice {
  ObjectMeta metadata;  // labels["kubernetes.io/service-name"] names the Service
  std::string address_type;  // "IPv4", "IPv6" or "FQDN"
  std::vector<EndpointSlicePort> ports;
  std::vector<SliceEndpoint> endpoints;

  bool operator==(const EndpointSlice&) const = default;
};

// v1 Secret; data values are decoded from base64 (TLS certificates and keys).
struct Secret {
  ObjectMeta metadata;
  std::string type;
  std::map<std::string, std::string> data;

  bool operator==(const Secret&) const = default;
};

// An object of a known kind that could not be decoded. The store keeps it in
// place of the object so the translator reports it with the reason.
struct InvalidObject {
  ObjectKind kind = ObjectKind::kIngress;
  ObjectKey key;
  std::string reason;

  bool operator==(const InvalidObject&) const = default;
};

using Object = std::variant<Ingress, IngressClass, Service, EndpointSlice, Secret, InvalidObject>;

ObjectKind kind_of(const Object& object);
ObjectKey key_of(const Object& object);

}  // namespace grpc_ingress
