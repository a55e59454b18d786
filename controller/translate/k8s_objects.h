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

enum class ObjectKind {
  kIngress,
  kIngressClass,
  kService,
  kEndpointSlice,
  kSecret,
  kNamespace,  // labels only: Gateway listeners select route namespaces by them
  // Gateway API (standard channel): CRDs a cluster may not have installed.
  kGatewayClass,
  kGateway,
  kGRPCRoute,
  kHTTPRoute,
  kReferenceGrant,
};

inline constexpr ObjectKind kAllObjectKinds[] = {
    ObjectKind::kIngress,      ObjectKind::kIngressClass, ObjectKind::kService,   ObjectKind::kEndpointSlice,
    ObjectKind::kSecret,       ObjectKind::kNamespace,    ObjectKind::kGatewayClass, ObjectKind::kGateway,
    ObjectKind::kGRPCRoute,    ObjectKind::kHTTPRoute,    ObjectKind::kReferenceGrant};

inline constexpr ObjectKind kGatewayApiKinds[] = {ObjectKind::kGatewayClass, ObjectKind::kGateway,
                                                  ObjectKind::kGRPCRoute, ObjectKind::kHTTPRoute,
                                                  ObjectKind::kReferenceGrant};

std::string_view kind_name(ObjectKind kind);    // "Ingress"
std::string_view api_version(ObjectKind kind);  // the one version we decode: "networking.k8s.io/v1"
std::optional<ObjectKind> kind_from_name(std::string_view name);
bool is_namespaced(ObjectKind kind);  // IngressClass, Namespace and GatewayClass are cluster-scoped
bool is_gateway_api(ObjectKind kind);  // served only where the Gateway API CRDs are installed

inline constexpr std::string_view kGatewayGroup = "gateway.networking.k8s.io";

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
  int64_t generation = 0;  // metadata.generation: Gateway API status says which one it describes
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

// v1 Namespace: only its labels (Gateway allowedRoutes namespace selectors).
struct Namespace {
  ObjectMeta metadata;

  bool operator==(const Namespace&) const = default;
};

// A label selector (metav1.LabelSelector).
struct LabelSelectorRequirement {
  std::string key;
  std::string op;  // In, NotIn, Exists, DoesNotExist
  std::vector<std::string> values;

  bool operator==(const LabelSelectorRequirement&) const = default;
};

struct LabelSelector {
  std::map<std::string, std::string> match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;

  bool matches(const std::map<std::string, std::string>& labels) const;  // an empty selector matches all
  bool operator==(const LabelSelector&) const = default;
};

// gateway.networking.k8s.io/v1 (ReferenceGrant: v1beta1). Decoded with the
// CRD's defaults applied, as the API server would have stored them, so
// manifests that leave them out mean the same.

struct GatewayClass {
  ObjectMeta metadata;
  std::string controller_name;  // spec.controllerName

  bool operator==(const GatewayClass&) const = default;
};

// A kind a listener lets attach (RouteGroupKind); group defaults to Gateway API's.
struct RouteGroupKind {
  std::string group{kGatewayGroup};
  std::string kind;

  auto operator<=>(const RouteGroupKind&) const = default;
};

// A reference to a Secret or Service (SecretObjectReference, BackendObjectReference).
struct ObjectReference {
  std::string group;  // "" = core
  std::string kind;
  std::string name;
  std::string namespace_name;  // "" = the referring object's namespace
  int32_t port = 0;            // backends only; 0 = not given

  bool operator==(const ObjectReference&) const = default;
};

enum class RoutesFrom { kSame, kAll, kSelector };

struct GatewayListener {
  std::string name;
  std::string hostname;  // "" = any
  int32_t port = 0;
  std::string protocol;  // HTTP, HTTPS, TLS, TCP, UDP, or a domain-prefixed custom one
  std::string tls_mode = "Terminate";  // Terminate, Passthrough (HTTPS, TLS)
  std::vector<ObjectReference> certificate_refs;  // Secrets (group "", kind Secret by default)
  RoutesFrom routes_from = RoutesFrom::kSame;
  LabelSelector routes_selector;         // with kSelector
  std::vector<RouteGroupKind> route_kinds;  // empty: what the protocol allows

  bool operator==(const GatewayListener&) const = default;
};

struct Gateway {
  ObjectMeta metadata;
  std::string gateway_class_name;
  std::vector<GatewayListener> listeners;

  bool operator==(const Gateway&) const = default;
};

// A route's parentRefs entry (defaults: group gateway.networking.k8s.io, kind Gateway).
struct ParentReference {
  std::string group{kGatewayGroup};
  std::string kind = "Gateway";
  std::string namespace_name;  // "" = the route's namespace
  std::string name;
  std::string section_name;  // "" = every listener
  int32_t port = 0;          // 0 = every port

  auto operator<=>(const ParentReference&) const = default;
};

enum class StringMatchType { kExact, kPrefix, kRegularExpression };

// HTTPHeaderMatch, GRPCHeaderMatch, HTTPQueryParamMatch.
struct ValueMatch {
  StringMatchType type = StringMatchType::kExact;
  std::string name;  // headers: compared case-insensitively
  std::string value;

  bool operator==(const ValueMatch&) const = default;
};

struct HeaderChanges {  // HTTPHeaderFilter
  std::vector<std::pair<std::string, std::string>> set;
  std::vector<std::pair<std::string, std::string>> add;
  std::vector<std::string> remove;

  bool operator==(const HeaderChanges&) const = default;
};

// HTTPPathModifier of RequestRedirect and URLRewrite.
struct PathModifier {
  enum class Type { kReplaceFullPath, kReplacePrefixMatch } type = Type::kReplaceFullPath;
  std::string value;

  bool operator==(const PathModifier&) const = default;
};

struct RouteFilter {
  // The filter's `type` as written: RequestHeaderModifier, ResponseHeaderModifier,
  // RequestMirror, RequestRedirect, URLRewrite, ExtensionRef, ...
  std::string type;
  HeaderChanges headers;     // the two header modifiers
  ObjectReference mirror;    // RequestMirror backendRef
  // RequestRedirect
  std::string scheme;        // "" = the request's
  std::string hostname;      // also URLRewrite's; "" = the request's
  std::optional<PathModifier> path;  // also URLRewrite's
  int32_t port = 0;          // 0 = see the spec's rules
  int32_t status_code = 302;

  bool operator==(const RouteFilter&) const = default;
};

struct RouteBackend {  // HTTPBackendRef, GRPCBackendRef
  ObjectReference ref;   // group "" and kind Service by default
  int32_t weight = 1;
  bool has_filters = false;  // per-backend filters (not supported)

  bool operator==(const RouteBackend&) const = default;
};

struct GrpcRouteMatch {
  // method: type Exact or RegularExpression; empty service/method = any.
  StringMatchType method_type = StringMatchType::kExact;
  std::string service;
  std::string method;
  std::vector<ValueMatch> headers;

  bool operator==(const GrpcRouteMatch&) const = default;
};

struct HttpRouteMatch {
  StringMatchType path_type = StringMatchType::kPrefix;  // Exact, PathPrefix, RegularExpression
  std::string path = "/";
  std::vector<ValueMatch> headers;
  std::vector<ValueMatch> query_params;
  std::string method;  // "" = any

  bool operator==(const HttpRouteMatch&) const = default;
};

template <typename Match>
struct RouteRule {
  std::vector<Match> matches;  // empty: the kind's match-everything default
  std::vector<RouteFilter> filters;
  std::vector<RouteBackend> backends;
  std::string name;  // rule sectionName (optional)

  bool operator==(const RouteRule&) const = default;
};

template <typename Match>
struct GatewayRoute {
  ObjectMeta metadata;
  std::vector<ParentReference> parent_refs;
  std::vector<std::string> hostnames;
  std::vector<RouteRule<Match>> rules;

  bool operator==(const GatewayRoute&) const = default;
};

using GRPCRoute = GatewayRoute<GrpcRouteMatch>;
using HTTPRoute = GatewayRoute<HttpRouteMatch>;

struct ReferenceGrantFrom {
  std::string group;
  std::string kind;
  std::string namespace_name;

  bool operator==(const ReferenceGrantFrom&) const = default;
};

struct ReferenceGrantTo {
  std::string group;  // "" = core
  std::string kind;
  std::string name;  // "" = every object of the kind

  bool operator==(const ReferenceGrantTo&) const = default;
};

// gateway.networking.k8s.io/v1beta1 ReferenceGrant: lets objects of `from`
// refer to objects of `to` in the grant's namespace.
struct ReferenceGrant {
  ObjectMeta metadata;
  std::vector<ReferenceGrantFrom> from;
  std::vector<ReferenceGrantTo> to;

  bool operator==(const ReferenceGrant&) const = default;
};

// An object of a known kind that could not be decoded. The store keeps it in
// place of the object so the translator reports it with the reason.
struct InvalidObject {
  ObjectKind kind = ObjectKind::kIngress;
  ObjectKey key;
  std::string reason;

  bool operator==(const InvalidObject&) const = default;
};

using Object = std::variant<Ingress, IngressClass, Service, EndpointSlice, Secret, Namespace, GatewayClass,
                            Gateway, GRPCRoute, HTTPRoute, ReferenceGrant, InvalidObject>;

ObjectKind kind_of(const Object& object);
ObjectKey key_of(const Object& object);

}  // namespace grpc_ingress
