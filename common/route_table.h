#pragma once

#include "common/access_policy.h"
#include "common/ip_address.h"
#include "common/text.h"
#include "common/tls_settings.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace grpc_ingress {

// The one contract between the controller and the data plane: an immutable
// snapshot, built by the translator and shared by every worker thread.

// One pod address:port.
struct Endpoint {
  IpAddress ip;
  uint16_t port = 0;
  std::string pod;  // EndpointSlice targetRef name; for logs and /debug only
  // false: the pod is serving but terminating; used only when a cluster has no
  // ready endpoint left.
  bool ready = true;

  std::string address() const { return pod_address().to_string(); }  // "ip:port", "[v6]:port"
  PodAddress pod_address() const { return {ip, port}; }
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

// Active gRPC health checking of every endpoint of a cluster with
// grpc.health.v1.Health/Check (annotation grpc-ingress.io/health-check: grpc).
struct HealthCheck {
  bool enabled = false;
  std::string service;  // HealthCheckRequest.service; "" = the whole server
  std::chrono::milliseconds interval{5000};
  std::chrono::milliseconds timeout{1000};
  uint32_t healthy_threshold = 1;    // consecutive SERVING answers to return
  uint32_t unhealthy_threshold = 2;  // consecutive failed checks to stop calls (NOT_SERVING: at once)

  bool operator==(const HealthCheck&) const = default;
};

// Passive outlier detection: an endpoint whose calls fail this many times in
// a row (UNAVAILABLE, connect failure, reset) gets no calls for a while,
// doubling with each ejection; never more than half a cluster is ejected.
struct OutlierDetection {
  uint32_t consecutive_failures = 5;  // 0 = off
  std::chrono::milliseconds base_ejection{30000};
  std::chrono::milliseconds max_ejection{300000};

  bool operator==(const OutlierDetection&) const = default;
};

// How requests reach the pods of a cluster (grpc-ingress.io/backend-protocol,
// else the Service port's appProtocol).
enum class UpstreamProtocol {
  kAuto,   // HTTP/2 for gRPC calls, HTTP/1.1 for the rest
  kH2,     // every request over HTTP/2 (prior knowledge in cleartext, ALPN h2 on TLS)
  kHttp1,  // every request over HTTP/1.1; gRPC calls are refused (no trailers)
};
const char* to_string(UpstreamProtocol protocol);

// TLS towards the pods of a cluster (GRPCS, HTTPS, appProtocol kubernetes.io/h2
// or https). PEMs are checked by the controller.
struct UpstreamTls {
  bool enabled = false;
  std::string sni;                         // server name sent; verified when ca_pem is set
  std::vector<std::string> verify_names;   // names the pod's certificate may carry (sni first)
  std::string ca_pem;                      // roots the pod is verified against; "" = not verified
  std::string cert_pem, key_pem;           // our client certificate (mTLS); "" = none
  std::string secrets;                     // the Secrets these came from, for logs
  // Why the Secrets cannot be used; when set, every call of the cluster fails with it.
  std::string problem;

  bool operator==(const UpstreamTls&) const = default;
};

// The endpoints of one Service port.
struct Cluster {
  std::string name;  // "namespace/service:port", unique in a table
  std::string service_namespace;
  std::string service;
  std::string port;  // as the Ingress names it: a number or a port name
  LoadBalancePolicy lb_policy = LoadBalancePolicy::kLeastRequest;
  std::string hash_header;  // lower-case request header hashed by kRingHash
  std::vector<Endpoint> endpoints;  // ready first; sorted, no duplicates
  HealthCheck health_check;
  OutlierDetection outlier_detection;
  // Circuit limits per endpoint: streams running on one pod (0 = no limit)
  // and streams waiting for a connection to it. Over them a call goes to
  // another endpoint, or fails with RESOURCE_EXHAUSTED.
  uint32_t max_streams_per_endpoint = 0;
  uint32_t max_pending_per_endpoint = 1024;
  UpstreamProtocol protocol = UpstreamProtocol::kAuto;
  bool grpc_only = false;        // plain HTTP requests are refused (415)
  std::string protocol_source;   // what chose the protocol, for error messages
  UpstreamTls tls;

  bool operator==(const Cluster&) const = default;
};

// gRPC status codes, by the names grpc-ingress.io/retry-on uses.
std::optional<int> grpc_code_from_name(std::string_view name);

// Which failed calls are tried again on another endpoint (per Ingress).
struct RetryPolicy {
  uint32_t retries = 2;  // extra attempts after the first
  // Bit n set: a trailers-only answer with grpc-status n is retried. Calls
  // that never reached a pod (connect failure, REFUSED_STREAM, GOAWAY) are
  // always retried; UNAVAILABLE before any response header needs bit 14.
  uint32_t retry_on = 1u << 14;

  bool retries_status(int grpc_status) const {
    return grpc_status > 0 && grpc_status < 32 && (retry_on & (1u << grpc_status)) != 0;
  }
  bool operator==(const RetryPolicy&) const = default;
};

// ingress-nginx's canary: a second Ingress for the same host and path that
// takes some calls. Header first (value "always"/"never", or the exact
// canary-by-header-value), then cookie, then weight.
struct Canary {
  uint32_t cluster = 0;
  std::string header;        // lower-case; empty = none
  std::string header_value;  // empty: "always" / "never"
  std::string cookie;
  uint32_t weight = 0;        // of weight_total
  uint32_t weight_total = 100;
  std::string ingress_namespace;
  std::string ingress_name;

  bool operator==(const Canary&) const = default;
};

enum class PathType { kExact, kPrefix, kRegex };

// A slot that names no cluster: a Gateway API backendRef that cannot be used
// (not permitted, not a Service). Calls sent there fail (UNAVAILABLE / 500).
inline constexpr uint32_t kNoCluster = UINT32_MAX;

// An RE2 regular expression (linear time, whatever the input), compiled once
// by the translator and shared by the tables that use it. Equal when both
// are set or both not: the pattern beside it is compared as text.
struct Regex {
  std::shared_ptr<const re2::RE2> compiled;

  // Empty, and a reason, when `pattern` does not compile.
  static Regex compile(const std::string& pattern, std::string* problem);
  bool full_match(std::string_view text) const;  // the whole text
  explicit operator bool() const { return compiled != nullptr; }
  bool operator==(const Regex& other) const { return (compiled != nullptr) == (other.compiled != nullptr); }
};

// A condition on a request header or query parameter (Gateway API matches).
struct ValueCondition {
  std::string name;   // headers: lower-case; query parameters: as written
  std::string value;  // the exact value, or the pattern of `regex`
  Regex regex;        // set: the whole value must match it

  bool matches(std::string_view actual) const { return regex ? regex.full_match(actual) : actual == value; }
  bool operator==(const ValueCondition&) const = default;
};

// RequestHeaderModifier / ResponseHeaderModifier: names lower-case.
struct HeaderEdits {
  std::vector<std::pair<std::string, std::string>> set;
  std::vector<std::pair<std::string, std::string>> add;
  std::vector<std::string> remove;

  bool empty() const { return set.empty() && add.empty() && remove.empty(); }
  bool operator==(const HeaderEdits&) const = default;
};

// One of several backends of a route, taking `weight` of its calls.
struct WeightedCluster {
  uint32_t cluster = kNoCluster;
  uint32_t weight = 1;
  std::string problem;  // with kNoCluster: why calls sent here fail

  bool operator==(const WeightedCluster&) const = default;
};

// How a redirect or rewrite changes the path: the whole path, or the part
// the route's Prefix path matched.
struct PathChange {
  enum class Type { kNone, kFull, kPrefix } type = Type::kNone;
  std::string value;

  // The new path for `path` (no query) matched by a route with `prefix`.
  std::string apply(std::string_view path, std::string_view prefix) const;
  bool operator==(const PathChange&) const = default;
};

// HTTPRoute RequestRedirect: answered here with a redirect.
struct Redirect {
  std::string scheme;    // "" = the request's
  std::string hostname;  // "" = the request's
  uint32_t port = 0;     // 0: the scheme's default when `scheme` is set, else the request's
  PathChange path;
  int status = 302;

  bool operator==(const Redirect&) const = default;
};

// HTTPRoute URLRewrite: what the pod sees.
struct Rewrite {
  std::string hostname;  // "" = unchanged
  PathChange path;

  bool operator==(const Rewrite&) const = default;
};

// The Gateway API filters of a route, apart: most routes have none and pay a pointer.
struct RouteFilters {
  HeaderEdits request_headers, response_headers;
  std::optional<Redirect> redirect;  // answered here; the route has no backend
  std::optional<Rewrite> rewrite;

  bool operator==(const RouteFilters&) const = default;
};

// What a Gateway API route asks of a request beyond its path, apart:
// most routes ask nothing and pay a pointer.
struct RouteConditions {
  Regex path_regex;                     // with PathType::kRegex
  std::string method;                   // "" = any
  std::vector<ValueCondition> headers;  // every one must hold
  std::vector<ValueCondition> query;    // every one must hold

  bool operator==(const RouteConditions&) const = default;
};

// A shared, immutable value that compares by value (the same object without a look inside).
template <typename T>
struct SharedValue {
  std::shared_ptr<const T> value;

  explicit operator bool() const { return value != nullptr; }
  const T& operator*() const { return *value; }
  const T* operator->() const { return value.get(); }
  bool operator==(const SharedValue& other) const {
    return value == other.value || (value && other.value && *value == *other.value);
  }
};

// What made a route; ingress_namespace/name name that object.
enum class RouteKind : uint8_t { kIngress, kGRPCRoute, kHTTPRoute };
const char* to_string(RouteKind kind);

// Which of our ports a route serves (a Gateway listener's protocol).
inline constexpr uint8_t kCleartextPort = 1;
inline constexpr uint8_t kTlsPort = 2;

// host + path (+ method, headers, query) match -> cluster.
struct Route {
  PathType path_type = PathType::kPrefix;
  std::string path;  // "/" or starting with "/"; Prefix paths without trailing '/'; kRegex: the pattern
  uint32_t cluster = 0;  // index into RouteTable::clusters; kNoCluster: see `backends`
  std::string ingress_namespace;
  std::string ingress_name;
  RetryPolicy retry;
  std::chrono::milliseconds max_timeout{0};  // caps the call's deadline; 0 = none
  uint32_t max_message_bytes = 0;            // per gRPC message, either way; 0 = no limit
  std::optional<Canary> canary;
  // An HTTP health bridge (grpc-ingress.io/http-health-path): a GET of this
  // Exact path is answered here, 200 while every one of these clusters has an
  // endpoint that passes gRPC health checks, else 503. Never proxied.
  std::vector<uint32_t> health_of_clusters;
  bool health_bridge = false;
  bool grpc_web = true;            // translate gRPC-Web calls (grpc-ingress.io/grpc-web)
  std::string cors_allow_origin;   // "*" or a comma-separated list; "" = no CORS answers
  // Cleartext requests get a redirect to TLS (annotation ssl-redirect on an
  // Ingress that lists this host in spec.tls): 308, or gRPC status 7.
  bool ssl_redirect = false;

  // Gateway API routes (Ingress routes leave these as they are).
  RouteKind kind = RouteKind::kIngress;
  SharedValue<RouteConditions> conditions;  // none: the path decides
  uint8_t ports = kCleartextPort | kTlsPort;
  // A "*." host covers any number of labels (Gateway API), not exactly one (Ingress).
  bool deep_wildcard = false;
  // More than one: each call picks one by weight; `cluster` is the first usable.
  std::vector<WeightedCluster> backends;
  SharedValue<RouteFilters> filters;  // none: no filter
  SharedValue<AccessPolicy> access;   // none: everyone, unlimited (docs/edge-access.md)

  bool operator==(const Route&) const = default;
};

// What a route is matched against; `headers` offers find(name) -> const std::string_view*.
struct RequestFacts {
  std::string_view authority;  // may carry a port
  std::string_view path;       // may carry a query
  std::string_view method;
  bool tls = false;  // arrived on the TLS port
};

// The routes of one host, in precedence order: longest path first, Exact
// before Prefix at equal length.
struct VirtualHost {
  std::string host;  // "" = every host, "a.example.com", "*.example.com"
  std::vector<Route> routes;

  // Into precedence order; the builder calls it once.
  void sort_routes();

  bool operator==(const VirtualHost&) const = default;
};

// A snapshot's parts are immutable and shared: the next snapshot keeps the
// very objects (pointer-equal) of every cluster and host that did not change,
// so building, publishing and applying a table cost what changed.
using ClusterPtr = std::shared_ptr<const Cluster>;
using VirtualHostPtr = std::shared_ptr<const VirtualHost>;

// Hosts by name. Copies share one map until a copy is changed (copy on
// write): a snapshot whose hosts did not change costs nothing to copy,
// compare or free. Published snapshots are never changed.
class VirtualHosts {
 public:
  using Map = std::map<std::string, VirtualHostPtr>;
  using const_iterator = Map::const_iterator;

  const_iterator begin() const { return map_->cbegin(); }
  const_iterator end() const { return map_->cend(); }
  const_iterator find(const std::string& host) const { return map_->find(host); }
  size_t count(const std::string& host) const { return map_->count(host); }
  const VirtualHostPtr& at(const std::string& host) const { return map_->at(host); }
  size_t size() const { return map_->size(); }
  bool empty() const { return map_->empty(); }
  // The same map, shared: equal without a look inside.
  bool shares(const VirtualHosts& other) const { return map_ == other.map_; }

  VirtualHostPtr& operator[](const std::string& host) { return edit()[host]; }
  size_t erase(const std::string& host) { return edit().erase(host); }

 private:
  Map& edit() {
    if (map_.use_count() > 1) map_ = std::make_shared<Map>(*map_);
    return *map_;
  }

  std::shared_ptr<Map> map_ = std::make_shared<Map>();
};

struct RouteTable {
  uint64_t version = 0;  // increases with every publish; not part of equality
  // By slot (Route::cluster). A cluster keeps its slot from table to table
  // while any route uses it; a slot no route uses is empty (nullptr).
  std::vector<ClusterPtr> clusters;
  VirtualHosts exact_hosts;               // key: lower-case host
  VirtualHosts wildcard_hosts;            // key: "*.example.com"
  VirtualHostPtr any_host;                // rules without a host; nullptr = none
  std::optional<Route> default_route;     // Ingress defaultBackend
  TlsSettings tls;                        // certificates for the TLS port
  // Hosts ("" = the host-less rules) whose route set is not the one of table
  // `base_version` (the table published before this one), when the builder
  // knows: a holder of per-host state then looks at those only. 0: unknown.
  uint64_t base_version = 0;
  std::vector<std::string> changed_hosts;
  // With base_version: the cluster slots whose object is not that table's
  // (emptied ones included), sorted; diff_clusters then looks at those only.
  std::vector<uint32_t> changed_clusters;

  // The route for a request, or nullptr (no route: gRPC status 12 / HTTP 404).
  // `authority` may carry a port; `path` may carry a query. The exact host's
  // rules if it has any, else its one-label wildcard's, else (Gateway API
  // routes only) a wildcard's of more labels, longest first, else the
  // host-less rules; then the default backend.
  template <typename Headers>
  const Route* match(const RequestFacts& request, const Headers& headers) const {
    HostMatch host = find_host(request.authority);
    auto [path, query] = split_query(request.path);
    auto scan = [&](const VirtualHost& vhost, bool deep) -> const Route* {
      for (const Route& route : vhost.routes) {
        if (route_matches(route, deep, path, query, request) && headers_match(route, headers)) return &route;
      }
      return nullptr;
    };
    if (host.vhost) {
      if (const Route* route = scan(*host.vhost, host.deep)) return route;
      // An Ingress wildcard does not cover this host: the host-less rules do.
      if (host.deep && any_host) {
        if (const Route* route = scan(*any_host, false)) return route;
      }
    }
    return default_route ? &*default_route : nullptr;
  }
  // Without headers, method or port (tests, tools): routes that need them do not match.
  const Route* match(std::string_view authority, std::string_view path) const;

  const Cluster& cluster_of(const Route& route) const { return *clusters[route.cluster]; }
  // The route set of `host` ("" = the host-less rules; "*.example.com"), or nullptr.
  const VirtualHost* host_routes(const std::string& host) const;

  // Same routing, ignoring version. Shared parts compare by pointer first.
  bool same_routing(const RouteTable& other) const;

  // Calls fn(slot, cluster) for every cluster in use.
  template <typename Fn>
  void for_each_cluster(Fn&& fn) const {
    for (size_t slot = 0; slot < clusters.size(); ++slot) {
      if (clusters[slot]) fn(static_cast<uint32_t>(slot), *clusters[slot]);
    }
  }
  // Calls fn(vhost) for every host with routes, the host-less rules last.
  template <typename Fn>
  void for_each_host(Fn&& fn) const {
    for (const auto& [_, vhost] : exact_hosts) fn(*vhost);
    for (const auto& [_, vhost] : wildcard_hosts) fn(*vhost);
    if (any_host) fn(*any_host);
  }
  size_t cluster_count() const;
  size_t route_count() const;  // the default route included
  size_t endpoint_count() const;

  std::string to_json() const;  // for /debug/routes

 private:
  struct HostMatch {
    const VirtualHost* vhost = nullptr;
    bool deep = false;  // found by a wildcard more than one label up: only deep_wildcard routes
  };
  HostMatch find_host(std::string_view authority) const;
  static bool route_matches(const Route& route, bool deep, std::string_view path, std::string_view query,
                            const RequestFacts& request);
  template <typename Headers>
  static bool headers_match(const Route& route, const Headers& headers) {
    if (!route.conditions) return true;
    for (const ValueCondition& condition : route.conditions->headers) {
      const std::string_view* value = headers.find(condition.name);
      if (!value || !condition.matches(*value)) return false;
    }
    return true;
  }
};

// How `after`'s clusters differ from `before`'s, by slot: what a holder of
// per-cluster state must redo when `after` replaces `before`.
struct ClusterDiff {
  std::vector<uint32_t> changed;  // slots of `after` whose cluster object is not `before`'s there
  std::vector<uint32_t> emptied;  // slots that had a cluster in `before` and have none in `after`
  std::vector<std::string> gone;  // names of `before`'s clusters that `after` has no more
};
ClusterDiff diff_clusters(const RouteTable* before, const RouteTable& after);

// Calls fn(before_host, after_host) for every host whose route set is not the
// same object in both tables (either may be nullptr: added or removed).
template <typename Fn>
void for_each_changed_host(const RouteTable* before, const RouteTable& after, Fn&& fn) {
  if (before && after.base_version != 0 && after.base_version == before->version) {
    for (const std::string& host : after.changed_hosts) {
      const VirtualHost* old_host = before->host_routes(host);
      const VirtualHost* new_host = after.host_routes(host);
      if (old_host != new_host) fn(old_host, new_host);
    }
    return;
  }
  const VirtualHosts none;
  auto walk = [&](const VirtualHosts& old_hosts, const VirtualHosts& new_hosts) {
    if (old_hosts.shares(new_hosts)) return;
    auto o = old_hosts.begin();
    auto n = new_hosts.begin();
    while (o != old_hosts.end() || n != new_hosts.end()) {
      if (n == new_hosts.end() || (o != old_hosts.end() && o->first < n->first)) {
        fn(o->second.get(), nullptr);
        ++o;
      } else if (o == old_hosts.end() || n->first < o->first) {
        fn(nullptr, n->second.get());
        ++n;
      } else {
        if (o->second != n->second) fn(o->second.get(), n->second.get());
        ++o;
        ++n;
      }
    }
  };
  walk(before ? before->exact_hosts : none, after.exact_hosts);
  walk(before ? before->wildcard_hosts : none, after.wildcard_hosts);
  const VirtualHost* old_any = before ? before->any_host.get() : nullptr;
  if (old_any != after.any_host.get()) fn(old_any, after.any_host.get());
}

// Does `path` (no query) match route path `rule` of `type`? Prefix matches
// element by element on '/': "/foo" matches "/foo", "/foo/", "/foo/bar", not "/foobar".
bool path_matches(PathType type, std::string_view rule, std::string_view path);

}  // namespace grpc_ingress
