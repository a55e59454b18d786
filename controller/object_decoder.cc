#include "controller/object_decoder.h"

#include "common/base64.h"
#include "controller/decode_field.h"
#include "controller/gateway_object_decoder.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grpc_ingress::decode {
namespace {

using nlohmann::json;

IngressBackend decode_backend(const Field& field) {
  IngressBackend backend;
  if (auto service = field.get("service")) {
    backend.service_name = string_or_empty(*service, "name");
    if (auto port = service->get("port")) {
      if (auto number = port->get("number")) backend.service_port.number = number->port();
      backend.service_port.name = string_or_empty(*port, "name");
    }
  }
  if (auto resource = field.get("resource")) {
    backend.resource_kind = string_or_empty(*resource, "kind");
    backend.resource_name = string_or_empty(*resource, "name");
    if (backend.resource_kind.empty()) resource->fail("kind is required");
  }
  return backend;
}

std::optional<IngressPathType> decode_path_type(const Field& path) {
  auto type = path.get("pathType");
  if (!type) return std::nullopt;
  std::string text = type->string();
  if (text == "Exact") return IngressPathType::kExact;
  if (text == "Prefix") return IngressPathType::kPrefix;
  if (text == "ImplementationSpecific") return IngressPathType::kImplementationSpecific;
  type->fail("'" + text + "' is not Exact, Prefix or ImplementationSpecific");
}

// status.loadBalancer.ingress of an Ingress or a Service.
std::vector<LoadBalancerIngress> decode_load_balancer_status(const Field& root) {
  std::vector<LoadBalancerIngress> out;
  auto status = root.get("status");
  if (!status) return out;
  auto load_balancer = status->get("loadBalancer");
  if (!load_balancer) return out;
  for (const Field& entry : items_of(*load_balancer, "ingress")) {
    out.push_back({string_or_empty(entry, "ip"), string_or_empty(entry, "hostname")});
  }
  return out;
}

Ingress decode_ingress(const Field& root) {
  Ingress ingress;
  ingress.metadata = decode_meta(root, ObjectKind::kIngress);
  Field spec = spec_of(root);
  ingress.ingress_class_name = string_or_empty(spec, "ingressClassName");
  if (auto backend = spec.get("defaultBackend")) ingress.default_backend = decode_backend(*backend);
  for (const Field& rule_field : items_of(spec, "rules")) {
    IngressRule rule;
    rule.host = string_or_empty(rule_field, "host");
    if (auto http = rule_field.get("http")) {
      auto paths = http->get("paths");
      if (!paths) http->fail("paths is required");
      for (const Field& path_field : paths->items()) {
        path_field.require_object();
        IngressPath path;
        path.path = string_or_empty(path_field, "path");
        path.path_type = decode_path_type(path_field);
        auto backend = path_field.get("backend");
        if (!backend) path_field.fail("backend is required");
        path.backend = decode_backend(*backend);
        rule.paths.push_back(std::move(path));
      }
    }
    ingress.rules.push_back(std::move(rule));
  }
  for (const Field& tls_field : items_of(spec, "tls")) {
    IngressTls tls;
    if (auto hosts = tls_field.get("hosts")) tls.hosts = hosts->strings();
    tls.secret_name = string_or_empty(tls_field, "secretName");
    ingress.tls.push_back(std::move(tls));
  }
  ingress.load_balancer = decode_load_balancer_status(root);
  return ingress;
}

IngressClass decode_ingress_class(const Field& root) {
  IngressClass ingress_class;
  ingress_class.metadata = decode_meta(root, ObjectKind::kIngressClass);
  ingress_class.controller = string_or_empty(spec_of(root), "controller");
  return ingress_class;
}

Service decode_service(const Field& root) {
  Service service;
  service.metadata = decode_meta(root, ObjectKind::kService);
  Field spec = spec_of(root);
  if (auto type = optional_string(spec, "type")) service.type = *type;
  for (const Field& port_field : items_of(spec, "ports")) {
    ServicePort port;
    port.name = string_or_empty(port_field, "name");
    auto number = port_field.get("port");
    if (!number) port_field.fail("port is required");
    port.port = number->port();
    auto target = port_field.get("targetPort");
    port.target_port = target ? target->port_ref() : PortRef{port.port, ""};
    port.app_protocol = string_or_empty(port_field, "appProtocol");
    service.ports.push_back(std::move(port));
  }
  service.cluster_ip = string_or_empty(spec, "clusterIP");
  if (auto external = spec.get("externalIPs")) service.external_ips = external->strings();
  service.load_balancer = decode_load_balancer_status(root);
  return service;
}

EndpointSlice decode_endpoint_slice(const Field& root) {
  EndpointSlice slice;
  slice.metadata = decode_meta(root, ObjectKind::kEndpointSlice);
  auto address_type = root.get("addressType");
  if (!address_type) root.fail("addressType is required");
  slice.address_type = address_type->string();
  for (const Field& port_field : items_of(root, "ports")) {
    EndpointSlicePort port;
    port.name = string_or_empty(port_field, "name");
    if (auto number = port_field.get("port")) port.port = number->port();
    port.app_protocol = string_or_empty(port_field, "appProtocol");
    slice.ports.push_back(std::move(port));
  }
  for (const Field& field : items_of(root, "endpoints")) {
    SliceEndpoint endpoint;
    if (auto addresses = field.get("addresses")) endpoint.addresses = addresses->strings();
    if (auto conditions = field.get("conditions")) {
      if (auto ready = conditions->get("ready")) endpoint.conditions.ready = ready->boolean();
      if (auto serving = conditions->get("serving")) endpoint.conditions.serving = serving->boolean();
      if (auto terminating = conditions->get("terminating")) {
        endpoint.conditions.terminating = terminating->boolean();
      }
    }
    if (auto target = field.get("targetRef")) endpoint.target_ref_name = string_or_empty(*target, "name");
    slice.endpoints.push_back(std::move(endpoint));
  }
  return slice;
}

// Secret data values are base64; the error names the key.
std::string decode_base64_field(const Field& field) {
  auto decoded = decode_base64(field.string());
  if (!decoded) field.fail("is not valid base64");
  return std::move(*decoded);
}

// The only Secret data routing uses; the rest (application passwords in
// Opaque Secrets) is never kept in memory.
bool is_certificate_key(const std::string& key) { return key == "tls.crt" || key == "tls.key" || key == "ca.crt"; }

Secret decode_secret(const Field& root) {
  Secret secret;
  secret.metadata = decode_meta(root, ObjectKind::kSecret);
  secret.type = string_or_empty(root, "type");
  if (auto data = root.get("data")) {
    data->require_object();
    for (const auto& [key, value] : data->string_map()) {
      if (!is_certificate_key(key)) continue;
      json text = value;
      secret.data[key] = decode_base64_field(Field(text, data->path() + "[\"" + key + "\"]"));
    }
  }
  // The API server merges stringData into data on write; manifest files still carry it.
  if (auto string_data = root.get("stringData")) {
    for (auto& [key, value] : string_data->string_map()) {
      if (is_certificate_key(key)) secret.data[key] = std::move(value);
    }
  }
  return secret;
}

// v1 Namespace: its labels are all routing needs (listener namespace selectors).
Namespace decode_namespace(const Field& root) { return Namespace{decode_meta(root, ObjectKind::kNamespace)}; }

// Besides api_version(kind), the older versions the Gateway API CRDs still serve
// with the same schema: v1beta1 (Gateway, GatewayClass, HTTPRoute), v1alpha2
// (GRPCRoute), and v1 for ReferenceGrant, which newer releases serve.
bool accepts_version(ObjectKind kind, std::string_view version) {
  if (version == api_version(kind)) return true;
  std::string prefix = std::string(kGatewayGroup) + "/";
  if (!version.starts_with(prefix)) return false;
  std::string_view suffix = version.substr(prefix.size());
  switch (kind) {
    case ObjectKind::kGatewayClass:
    case ObjectKind::kGateway:
    case ObjectKind::kHTTPRoute:
      return suffix == "v1beta1";
    case ObjectKind::kGRPCRoute:
      return suffix == "v1alpha2";
    case ObjectKind::kReferenceGrant:
      return suffix == "v1";
    default:
      return false;
  }
}

// Whatever name the object gives, so a rejection can point at it even when
// its metadata is broken.
ObjectKey best_effort_key(ObjectKind kind, const json& root) {
  ObjectKey key;
  if (!root.is_object()) return key;
  auto metadata = root.find("metadata");
  if (metadata == root.end() || !metadata->is_object()) return key;
  auto name = metadata->find("name");
  if (name != metadata->end() && name->is_string()) key.name = name->get<std::string>();
  if (is_namespaced(kind)) {
    key.namespace_name = "default";
    auto ns = metadata->find("namespace");
    if (ns != metadata->end() && ns->is_string()) key.namespace_name = ns->get<std::string>();
  }
  return key;
}

Object decode_checked(ObjectKind kind, const json& root) {
  Field field(root, "");
  field.require_object();
  if (auto version = field.get("apiVersion")) {
    std::string text = version->string();
    if (!accepts_version(kind, text)) {
      version->fail("'" + text + "' is not supported for " + std::string(kind_name(kind)) +
                    "; use " + std::string(api_version(kind)));
    }
  }
  if (auto kind_field = field.get("kind"); kind_field && kind_field->string() != kind_name(kind)) {
    kind_field->fail("expected " + std::string(kind_name(kind)));
  }
  switch (kind) {
    case ObjectKind::kIngress:
      return decode_ingress(field);
    case ObjectKind::kIngressClass:
      return decode_ingress_class(field);
    case ObjectKind::kService:
      return decode_service(field);
    case ObjectKind::kEndpointSlice:
      return decode_endpoint_slice(field);
    case ObjectKind::kSecret:
      return decode_secret(field);
    case ObjectKind::kNamespace:
      return decode_namespace(field);
    case ObjectKind::kGatewayClass:
      return decode_gateway_class(field);
    case ObjectKind::kGateway:
      return decode_gateway(field);
    case ObjectKind::kGRPCRoute:
      return decode_grpc_route(field);
    case ObjectKind::kHTTPRoute:
      return decode_http_route(field);
    case ObjectKind::kReferenceGrant:
      return decode_reference_grant(field);
  }
  field.fail("unknown kind");
}

}  // namespace
}  // namespace grpc_ingress::decode

namespace grpc_ingress {

using nlohmann::json;

Object decode_object_as(ObjectKind kind, const json& json_object) {
  try {
    return decode::decode_checked(kind, json_object);
  } catch (const std::exception& error) {
    // DecodeError, and anything nlohmann throws that the decoders' checks missed.
    return InvalidObject{kind, decode::best_effort_key(kind, json_object), error.what()};
  }
}

std::optional<Object> decode_object(const json& json_object) {
  if (!json_object.is_object()) return std::nullopt;
  auto kind_field = json_object.find("kind");
  if (kind_field == json_object.end() || !kind_field->is_string()) return std::nullopt;
  auto kind = kind_from_name(kind_field->get_ref<const std::string&>());
  if (!kind) {
    spdlog::debug("ignoring an object of kind {}", kind_field->get_ref<const std::string&>());
    return std::nullopt;
  }
  auto version = json_object.find("apiVersion");
  if (version == json_object.end()) {
    return InvalidObject{*kind, decode::best_effort_key(*kind, json_object), "apiVersion is required"};
  }
  return decode_object_as(*kind, json_object);
}

}  // namespace grpc_ingress
