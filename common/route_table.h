#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grpc_ingress {

// The one contract between the controller and the data plane: an immutable
// snapshot, built by the translator and shared by every worker thread.

// One pod address:port.
struct Endpoint {
  std::string ip;
  uint16_t port = 0;
  std::string pod;  // EndpointSlice targetRef name; for logs and /debug only
  // false: the pod is serving but terminating; used only when a cluster has no
  // ready endpoint left.
  bool ready = true;

  std::string address() const;  // "ip:port", "[v6]:port"
  bool operator==(const Endpoint&) const = default;
};

// How each request picks a pod (annotation grpc-ingress.io/load-balance).
enum class LoadBalancePolicy {
  kLeastRequest,  // power of two choices over active streams (the default)
  kRoundRobin,
  kEwma,          // peak-EWMA latency weighted by active streams, as Linkerd does
  kRingHash,      // consistent hash of a request header (Cluster::hash_header)
};
const char* to_string(LoadBalancePolicy policy);

// The endpoints of one Service port.
struct Cluster {
  std::string name;  // "namespace/service:port", unique in a table
  std::string service_namespace;
  std::string service;
  std::string port;  // as the Ingress names it: a number or a port name
  LoadBalancePolicy lb_policy = LoadBalancePolicy::kLeastRequest;
  std::string hash_header;  // lower-case request header hashed by kRingHash
  std::vector<Endpoint> endpoints;  // ready first; sorted, no duplicates

  bool operator==(const Cluster&) const = default;
};

enum class PathType { kExact, kPrefix };

// host + path match -> cluster.
struct Route {
  PathType path_type = PathType::kPrefix;
  std::string path;  // "/" or starting with "/"; Prefix paths without trailing '/'
  uint32_t cluster = 0;  // index into RouteTable::clusters
  std::string ingress_namespace;
  std::string ingress_name;

  bool operator==(const Route&) const = default;
};

// The routes of one host, in precedence order: longest path first, Exact
// before Prefix at equal length.
struct VirtualHost {
  std::string host;  // "" = every host, "a.example.com", "*.example.com"
  std::vector<Route> routes;

  bool operator==(const VirtualHost&) const = default;
};

struct RouteTable {
  uint64_t version = 0;  // increases with every publish; not part of equality
  std::vector<Cluster> clusters;
  std::map<std::string, VirtualHost> exact_hosts;     // key: lower-case host
  std::map<std::string, VirtualHost> wildcard_hosts;  // key: "*.example.com"
  VirtualHost any_host;                               // rules without a host
  std::optional<Route> default_route;                 // Ingress defaultBackend

  // The route for a request, or nullptr (no route: gRPC status 12 / HTTP 404).
  // `authority` may carry a port; `path` may carry a query. The exact host's
  // rules if it has any, else its one-label wildcard's, else the host-less
  // rules; then the default backend.
  const Route* match(std::string_view authority, std::string_view path) const;

  const Cluster& cluster_of(const Route& route) const { return clusters[route.cluster]; }

  // Same routing, ignoring version.
  bool same_routing(const RouteTable& other) const;

  // Sorts every host's routes into precedence order; call once after building.
  void sort_routes();

  std::string to_json() const;  // for /debug/routes
};

// Does `path` (no query) match route path `rule` of `type`? Prefix matches
// element by element on '/': "/foo" matches "/foo", "/foo/", "/foo/bar", not "/foobar".
bool path_matches(PathType type, std::string_view rule, std::string_view path);

}  // namespace grpc_ingress
