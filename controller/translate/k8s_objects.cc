#include "controller/translate/k8s_objects.h"

#include <algorithm>
#include <iterator>
#include <type_traits>

namespace grpc_ingress {

std::string_view kind_name(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kIngress:
      return "Ingress";
    case ObjectKind::kIngressClass:
      return "IngressClass";
    case ObjectKind::kService:
      return "Service";
    case ObjectKind::kEndpointSlice:
      return "EndpointSlice";
    case ObjectKind::kSecret:
      return "Secret";
    case ObjectKind::kNamespace:
      return "Namespace";
    case ObjectKind::kGatewayClass:
      return "GatewayClass";
    case ObjectKind::kGateway:
      return "Gateway";
    case ObjectKind::kGRPCRoute:
      return "GRPCRoute";
    case ObjectKind::kHTTPRoute:
      return "HTTPRoute";
    case ObjectKind::kReferenceGrant:
      return "ReferenceGrant";
  }
  return "Unknown";
}

std::string_view api_version(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kIngress:
    case ObjectKind::kIngressClass:
      return "networking.k8s.io/v1";
    case ObjectKind::kEndpointSlice:
      return "discovery.k8s.io/v1";
    case ObjectKind::kService:
    case ObjectKind::kSecret:
    case ObjectKind::kNamespace:
      return "v1";
    case ObjectKind::kGatewayClass:
    case ObjectKind::kGateway:
    case ObjectKind::kGRPCRoute:
    case ObjectKind::kHTTPRoute:
      return "gateway.networking.k8s.io/v1";
    case ObjectKind::kReferenceGrant:
      return "gateway.networking.k8s.io/v1beta1";
  }
  return "";
}

std::optional<ObjectKind> kind_from_name(std::string_view name) {
  for (ObjectKind kind : kAllObjectKinds) {
    if (kind_name(kind) == name) return kind;
  }
  return std::nullopt;
}

bool is_namespaced(ObjectKind kind) {
  return kind != ObjectKind::kIngressClass && kind != ObjectKind::kNamespace && kind != ObjectKind::kGatewayClass;
}

bool is_gateway_api(ObjectKind kind) {
  return std::find(std::begin(kGatewayApiKinds), std::end(kGatewayApiKinds), kind) != std::end(kGatewayApiKinds);
}

bool LabelSelector::matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& [key, value] : match_labels) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  for (const LabelSelectorRequirement& requirement : match_expressions) {
    auto it = labels.find(requirement.key);
    bool listed = it != labels.end() &&
                  std::find(requirement.values.begin(), requirement.values.end(), it->second) != requirement.values.end();
    if (requirement.op == "In" && !listed) return false;
    if (requirement.op == "NotIn" && listed) return false;
    if (requirement.op == "Exists" && it == labels.end()) return false;
    if (requirement.op == "DoesNotExist" && it != labels.end()) return false;
    if (requirement.op != "In" && requirement.op != "NotIn" && requirement.op != "Exists" &&
        requirement.op != "DoesNotExist") {
      return false;  // an operator we do not know selects nothing, as the API server would refuse it
    }
  }
  return true;
}

std::string ObjectKey::to_string() const {
  return namespace_name.empty() ? name : namespace_name + "/" + name;
}

std::string PortRef::to_string() const {
  return number != 0 ? std::to_string(number) : name;
}

ObjectKind kind_of(const Object& object) {
  struct Visitor {
    ObjectKind operator()(const Ingress&) const { return ObjectKind::kIngress; }
    ObjectKind operator()(const IngressClass&) const { return ObjectKind::kIngressClass; }
    ObjectKind operator()(const Service&) const { return ObjectKind::kService; }
    ObjectKind operator()(const EndpointSlice&) const { return ObjectKind::kEndpointSlice; }
    ObjectKind operator()(const Secret&) const { return ObjectKind::kSecret; }
    ObjectKind operator()(const Namespace&) const { return ObjectKind::kNamespace; }
    ObjectKind operator()(const GatewayClass&) const { return ObjectKind::kGatewayClass; }
    ObjectKind operator()(const Gateway&) const { return ObjectKind::kGateway; }
    ObjectKind operator()(const GRPCRoute&) const { return ObjectKind::kGRPCRoute; }
    ObjectKind operator()(const HTTPRoute&) const { return ObjectKind::kHTTPRoute; }
    ObjectKind operator()(const ReferenceGrant&) const { return ObjectKind::kReferenceGrant; }
    ObjectKind operator()(const InvalidObject& invalid) const { return invalid.kind; }
  };
  return std::visit(Visitor{}, object);
}

ObjectKey key_of(const Object& object) {
  return std::visit(
      [](const auto& typed) -> ObjectKey {
        if constexpr (std::is_same_v<std::decay_t<decltype(typed)>, InvalidObject>) {
          return typed.key;
        } else {
          return typed.metadata.key();
        }
      },
      object);
}

}  // namespace grpc_ingress
