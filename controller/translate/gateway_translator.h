#pragma once

#include "common/route_table.h"
#include "common/tls_settings.h"
#include "controller/translate/cluster_builder.h"
#include "controller/translate/gateway_status.h"
#include "controller/translate/rejection.h"
#include "controller/translate/store.h"
#include "controller/translate/tls_translator.h"

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace grpc_ingress {

struct GatewayTranslatorOptions {
  bool enabled = true;  // --gateway-api=off: Gateway API objects are not read
  std::string controller_name = "grpc-ingress.io/gateway-controller";  // --gateway-controller-name
  // Listener ports served on our cleartext (HTTP) and TLS (HTTPS) ports.
  int32_t http_listener_port = 80;    // --gateway-http-port
  int32_t https_listener_port = 443;  // --gateway-https-port
};

// What the Gateway API objects of our GatewayClasses add to a translation.
struct GatewayTranslation {
  // Routes by host ("" = every host, "*.example.com"), in the order the spec
  // settles ties: oldest route first, then namespace/name, rule, match.
  std::map<std::string, std::vector<Route>> routes_by_host;
  std::set<ObjectKey> services;  // the Services backendRefs name (their coming and going changes status)
  std::vector<Rejection> rejections;
  std::shared_ptr<const GatewayApiStatus> status = std::make_shared<GatewayApiStatus>();
};

// GatewayClass, Gateway, GRPCRoute, HTTPRoute and ReferenceGrant -> routes,
// certificates (added to `tls` for hosts it has none for) and status, by the
// Gateway API v1 rules: listeners map to our ports by protocol and port,
// routes attach by parentRefs, allowedRoutes and hostname intersection,
// backendRefs across namespaces need a ReferenceGrant. Backends take their
// clusters from `clusters`, as Ingress backends do.
GatewayTranslation translate_gateways(const Store& store, const GatewayTranslatorOptions& options,
                                      const std::string& watch_namespace, ClusterBuilder& clusters,
                                      CertificateChecks& checks, TlsSettings& tls);

// The hostnames a route gets on a listener: each of the route's that the
// listener's covers (or that covers it, narrowed to the listener's), all of
// the listener's when the route names none. Empty: none intersects.
std::vector<std::string> intersect_hostnames(const std::string& listener, const std::vector<std::string>& route);

}  // namespace grpc_ingress
