#pragma once

#include "controller/translate/gateway_status.h"
#include "controller/translate/k8s_objects.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace grpc_ingress {

// What the status writer (status_writer.h) puts in the status of a Gateway API
// object: the new `status` built from the one the object carries (null when
// none). Conditions are metav1.Conditions; one that keeps its type and status
// keeps its lastTransitionTime, a new or flipped one gets `now`. What is not
// ours is kept as it is. A result equal to `current` means: nothing to write.

// metav1.Time as the API server writes it: whole seconds, UTC ("2026-12-05T12:00:00Z").
std::string rfc3339_seconds(std::chrono::system_clock::time_point time);

// GatewayClass: our Accepted condition; other condition types (SupportedVersion) and fields kept.
nlohmann::json gateway_class_status(const nlohmann::json& current, const Condition& accepted, const std::string& now);

// Gateway: conditions (other types kept), listeners (ours replace them all) and
// addresses (IPAddress or Hostname; absent when there are none).
nlohmann::json gateway_status(const nlohmann::json& current, const GatewayStatus& desired,
                              const std::vector<LoadBalancerIngress>& addresses, const std::string& now);

// GRPCRoute and HTTPRoute: status.parents with the entries of `controller_name`
// replaced by `ours` (in their place; none removes them); other controllers' entries kept.
nlohmann::json route_status(const nlohmann::json& current, const std::vector<RouteParentStatus>& ours,
                            const std::string& controller_name, const std::string& now);

}  // namespace grpc_ingress
