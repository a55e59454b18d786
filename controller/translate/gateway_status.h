#pragma once

#include "controller/translate/k8s_objects.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace grpc_ingress {

// The status the translator wants the Gateway API objects of our classes to
// carry. The leader's status writer writes it (metav1.Condition fields; it
// keeps lastTransitionTime while a condition's status stays the same, and
// leaves other controllers' entries alone).

struct Condition {
  std::string type;    // Accepted, Programmed, ResolvedRefs, Conflicted
  bool status = false;  // "True" / "False"
  std::string reason;
  std::string message;
  int64_t observed_generation = 0;

  bool operator==(const Condition&) const = default;
};

struct ListenerStatus {
  std::string name;
  std::vector<RouteGroupKind> supported_kinds;
  int32_t attached_routes = 0;
  std::vector<Condition> conditions;

  bool operator==(const ListenerStatus&) const = default;
};

struct GatewayStatus {
  std::vector<Condition> conditions;
  std::vector<ListenerStatus> listeners;  // in spec order
  // status.addresses come from the status writer (--publish-service / --publish-status-address).

  bool operator==(const GatewayStatus&) const = default;
};

// One entry of a route's status.parents (controllerName is ours).
struct RouteParentStatus {
  ParentReference parent_ref;  // as the route wrote it
  std::vector<Condition> conditions;

  bool operator==(const RouteParentStatus&) const = default;
};

struct GatewayApiStatus {
  std::map<ObjectKey, Condition> gateway_classes;  // ours: the Accepted condition
  std::map<ObjectKey, GatewayStatus> gateways;      // of our classes
  // Routes with at least one parentRef to a Gateway of ours; an empty list
  // means "remove our entries" (the route no longer names one of ours).
  std::map<ObjectKey, std::vector<RouteParentStatus>> grpc_routes;
  std::map<ObjectKey, std::vector<RouteParentStatus>> http_routes;

  bool operator==(const GatewayApiStatus&) const = default;
};

}  // namespace grpc_ingress
