#include "controller/translate/k8s_objects.h"

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
      return "v1";
  }
  return "";
}

std::optional<ObjectKind> kind_from_name(std::string_view name) {
  for (ObjectKind kind : kAllObjectKinds) {
    if (kind_name(kind) == name) return kind;
  }
  return std::nullopt;
}

bool is_namespaced(ObjectKind kind) { return kind != ObjectKind::kIngressClass; }

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
