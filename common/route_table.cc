#include "common/route_table.h"

#include "common/text.h"

#include <nlohmann/json.hpp>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <unordered_set>

namespace grpc_ingress {

const char* to_string(LoadBalancePolicy policy) {
  switch (policy) {
    case LoadBalancePolicy::kLeastRequest: return "least_request";
    case LoadBalancePolicy::kRoundRobin: return "round_robin";
    case LoadBalancePolicy::kEwma: return "ewma";
    case LoadBalancePolicy::kRingHash: return "ring_hash";
  }
  return "least_request";
}

const char* to_string(UpstreamProtocol protocol) {
  switch (protocol) {
    case UpstreamProtocol::kAuto: return "auto";
    case UpstreamProtocol::kH2: return "h2";
    case UpstreamProtocol::kHttp1: return "http/1.1";
  }
  return "auto";
}

const char* to_string(RouteKind kind) {
  switch (kind) {
    case RouteKind::kIngress: return "Ingress";
    case RouteKind::kGRPCRoute: return "GRPCRoute";
    case RouteKind::kHTTPRoute: return "HTTPRoute";
  }
  return "Ingress";
}

std::optional<int> grpc_code_from_name(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "ok", "cancelled", "unknown", "invalid_argument", "deadline_exceeded", "not_found",
      "already_exists", "permission_denied", "resource_exhausted", "failed_precondition",
      "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss",
      "unauthenticated"};
  std::string key(name);
  for (char& c : key) c = c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (size_t code = 0; code < std::size(kNames); ++code) {
    if (key == kNames[code] || key == std::to_string(code)) return static_cast<int>(code);
  }
  return std::nullopt;
}

bool path_matches(PathType type, std::string_view rule, std::string_view path) {
  if (type == PathType::kExact) return path == rule;
  if (rule.empty() || rule == "/") return true;
  if (rule.back() == '/') rule.remove_suffix(1);  // "/foo/" matches like "/foo"
  if (!path.starts_with(rule)) return false;
  return path.size() == rule.size() || path[rule.size()] == '/';
}

Regex Regex::compile(const std::string& pattern, std::string* problem) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(1 << 20);  // a hostile pattern cannot take more than this
  auto compiled = std::make_shared<const RE2>(pattern, options);
  if (!compiled->ok()) {
    if (problem) *problem = "regular expression '" + pattern + "' is invalid: " + compiled->error();
    return {};
  }
  return {std::move(compiled)};
}

bool Regex::full_match(std::string_view text) const {
  return compiled && RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *compiled);
}

std::string PathChange::apply(std::string_view path, std::string_view prefix) const {
  switch (type) {
    case Type::kNone:
      return std::string(path);
    case Type::kFull:
      return value;
    case Type::kPrefix: {
      // "/foo" replaced by "/bar": "/foo/x" -> "/bar/x"; by "/": "/foo/x" -> "/x".
      if (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
      std::string_view rest = prefix == "/" ? path : path.substr(std::min(prefix.size(), path.size()));
      std::string out = value;
      if (!out.empty() && out.back() == '/' && rest.starts_with('/')) out.pop_back();
      if (out.empty() && !rest.starts_with('/')) out = "/";
      if (!out.empty() && out.back() != '/' && !rest.empty() && !rest.starts_with('/')) out += '/';
      out += rest;
      return out.empty() ? "/" : out;
    }
  }
  return std::string(path);
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!out.empty() && out.back() == '.') out.pop_back();  // "a.example.com." is the same host
  return out;
}

// Exact paths first, then regular expressions, then prefixes; the longer
// first within each (for Ingress: the longest match wins, Exact beating
// Prefix); then a method match, more header matches, more query matches
// (Gateway API); equal ones keep the order they were added in.
bool precedes(const Route& a, const Route& b) {
  auto rank = [](PathType type) { return type == PathType::kExact ? 0 : type == PathType::kRegex ? 1 : 2; };
  if (rank(a.path_type) != rank(b.path_type)) return rank(a.path_type) < rank(b.path_type);
  if (a.path.size() != b.path.size()) return a.path.size() > b.path.size();
  static const RouteConditions kNone;
  const RouteConditions& x = a.conditions ? *a.conditions : kNone;
  const RouteConditions& y = b.conditions ? *b.conditions : kNone;
  if (x.method.empty() != y.method.empty()) return !x.method.empty();
  if (x.headers.size() != y.headers.size()) return x.headers.size() > y.headers.size();
  return x.query.size() > y.query.size();
}

// The value of query parameter `name` (first occurrence), as sent.
std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  return std::nullopt;
}

struct NoHeaders {
  const std::string_view* find(std::string_view) const { return nullptr; }
};

nlohmann::json route_json(const RouteTable& table, const Route& route) {
  auto cluster_name = [&](uint32_t slot) -> std::string {
    return slot < table.clusters.size() && table.clusters[slot] ? table.clusters[slot]->name : "(none)";
  };
  const char* type = route.path_type == PathType::kExact ? "Exact" : route.path_type == PathType::kRegex ? "RegularExpression" : "Prefix";
  nlohmann::json out = {{"path", route.path},
                        {"pathType", type},
                        {"cluster", cluster_name(route.cluster)},
                        {route.kind == RouteKind::kIngress ? "ingress" : "route", route.ingress_namespace + "/" + route.ingress_name},
                        {"retries", route.retry.retries},
                        {"retryOn", route.retry.retry_on}};
  if (route.max_timeout.count() > 0) out["maxTimeoutMs"] = route.max_timeout.count();
  if (route.max_message_bytes > 0) out["maxMessageBytes"] = route.max_message_bytes;
  out["grpcWeb"] = route.grpc_web;
  if (!route.cors_allow_origin.empty()) out["corsAllowOrigin"] = route.cors_allow_origin;
  if (route.canary) {
    const Canary& canary = *route.canary;
    out["canary"] = {{"cluster", cluster_name(canary.cluster)},
                     {"header", canary.header},
                     {"headerValue", canary.header_value},
                     {"cookie", canary.cookie},
                     {"weight", canary.weight},
                     {"weightTotal", canary.weight_total},
                     {"ingress", canary.ingress_namespace + "/" + canary.ingress_name}};
  }
  if (route.ssl_redirect) out["sslRedirect"] = true;
  if (route.kind != RouteKind::kIngress) out["kind"] = to_string(route.kind);
  auto conditions = [](const std::vector<ValueCondition>& list) {
    nlohmann::json out = nlohmann::json::array();
    for (const ValueCondition& c : list) {
      out.push_back({{"name", c.name}, {"value", c.value}, {"type", c.regex ? "RegularExpression" : "Exact"}});
    }
    return out;
  };
  if (route.conditions) {
    if (!route.conditions->method.empty()) out["method"] = route.conditions->method;
    if (!route.conditions->headers.empty()) out["headers"] = conditions(route.conditions->headers);
    if (!route.conditions->query.empty()) out["queryParams"] = conditions(route.conditions->query);
  }
  if (route.ports != (kCleartextPort | kTlsPort)) out["ports"] = route.ports == kTlsPort ? "tls" : "cleartext";
  if (!route.backends.empty()) {
    nlohmann::json backends = nlohmann::json::array();
    for (const WeightedCluster& backend : route.backends) {
      nlohmann::json entry = {{"cluster", cluster_name(backend.cluster)}, {"weight", backend.weight}};
      if (!backend.problem.empty()) entry["problem"] = backend.problem;
      backends.push_back(std::move(entry));
    }
    out["backends"] = std::move(backends);
  }
  if (route.filters && route.filters->redirect) out["redirect"] = {{"status", route.filters->redirect->status}};
  if (route.filters && route.filters->rewrite) out["rewrite"] = true;
  if (route.health_bridge) {
    nlohmann::json clusters = nlohmann::json::array();
    for (uint32_t index : route.health_of_clusters) clusters.push_back(cluster_name(index));
    out["healthBridgeOf"] = clusters;
  }
  return out;
}

nlohmann::json vhost_json(const RouteTable& table, const VirtualHost& vhost) {
  nlohmann::json routes = nlohmann::json::array();
  for (const Route& route : vhost.routes) routes.push_back(route_json(table, route));
  return {{"host", vhost.host.empty() ? "*" : vhost.host}, {"routes", routes}};
}

}  // namespace

const Route* RouteTable::match(std::string_view authority, std::string_view path) const {
  return match({.authority = authority, .path = path}, NoHeaders{});
}

RouteTable::HostMatch RouteTable::find_host(std::string_view authority) const {
  std::string host = lower(split_authority(authority).first);
  // The most specific host that has rules decides, as in ingress-nginx and
  // Envoy: a request for a known host never falls through to another host's rules.
  if (auto it = exact_hosts.find(host); it != exact_hosts.end()) return {it->second.get(), false};
  if (!wildcard_hosts.empty()) {
    bool deep = false;
    for (auto dot = host.find('.'); dot != std::string::npos && dot > 0; dot = host.find('.', dot + 1)) {
      if (auto it = wildcard_hosts.find("*" + host.substr(dot)); it != wildcard_hosts.end()) {
        return {it->second.get(), deep};
      }
      deep = true;
    }
  }
  return {any_host.get(), false};
}

bool RouteTable::route_matches(const Route& route, bool deep, std::string_view path, std::string_view query,
                               const RequestFacts& request) {
  if (deep && !route.deep_wildcard) return false;
  if ((route.ports & (request.tls ? kTlsPort : kCleartextPort)) == 0) return false;
  if (route.path_type == PathType::kRegex) {
    if (!route.conditions || !route.conditions->path_regex.full_match(path)) return false;
  } else if (!path_matches(route.path_type, route.path, path)) {
    return false;
  }
  if (!route.conditions) return true;
  const RouteConditions& conditions = *route.conditions;
  if (!conditions.method.empty() && conditions.method != request.method) return false;
  for (const ValueCondition& condition : conditions.query) {
    auto value = query_value(query, condition.name);
    if (!value || !condition.matches(*value)) return false;
  }
  return true;
}

namespace {

// Equal objects, or both absent; the same object is equal without a look inside.
template <typename T>
bool same_object(const std::shared_ptr<const T>& a, const std::shared_ptr<const T>& b) {
  return a == b || (a && b && *a == *b);
}

bool same_hosts(const VirtualHosts& a, const VirtualHosts& b) {
  return a.shares(b) || std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.first == y.first && same_object(x.second, y.second);
  });
}

}  // namespace

bool RouteTable::same_routing(const RouteTable& other) const {
  return std::equal(clusters.begin(), clusters.end(), other.clusters.begin(), other.clusters.end(),
                    same_object<Cluster>) &&
         same_hosts(exact_hosts, other.exact_hosts) && same_hosts(wildcard_hosts, other.wildcard_hosts) &&
         same_object(any_host, other.any_host) && default_route == other.default_route && tls == other.tls;
}

const VirtualHost* RouteTable::host_routes(const std::string& host) const {
  if (host.empty()) return any_host.get();
  const VirtualHosts& hosts = host.starts_with("*.") ? wildcard_hosts : exact_hosts;
  auto it = hosts.find(host);
  return it == hosts.end() ? nullptr : it->second.get();
}

size_t RouteTable::cluster_count() const {
  return static_cast<size_t>(std::count_if(clusters.begin(), clusters.end(), [](const auto& c) { return c != nullptr; }));
}

size_t RouteTable::route_count() const {
  size_t routes = default_route ? 1 : 0;
  for_each_host([&](const VirtualHost& vhost) { routes += vhost.routes.size(); });
  return routes;
}

size_t RouteTable::endpoint_count() const {
  size_t endpoints = 0;
  for_each_cluster([&](uint32_t, const Cluster& cluster) { endpoints += cluster.endpoints.size(); });
  return endpoints;
}

ClusterDiff diff_clusters(const RouteTable* before, const RouteTable& after) {
  ClusterDiff diff;
  size_t old_size = before ? before->clusters.size() : 0;
  std::vector<const std::string*> dropped;
  // The builder named the slots it changed against `before`: only those are
  // looked at, so a table of 50,000 clusters costs what changed.
  const bool hinted = before && after.base_version != 0 && after.base_version == before->version;
  const size_t slots = hinted ? after.changed_clusters.size() : std::max(old_size, after.clusters.size());
  for (size_t i = 0; i < slots; ++i) {
    size_t slot = hinted ? after.changed_clusters[i] : i;
    const Cluster* old_cluster = slot < old_size ? before->clusters[slot].get() : nullptr;
    const Cluster* new_cluster = slot < after.clusters.size() ? after.clusters[slot].get() : nullptr;
    if (old_cluster == new_cluster) continue;
    if (new_cluster) {
      diff.changed.push_back(static_cast<uint32_t>(slot));
    } else {
      diff.emptied.push_back(static_cast<uint32_t>(slot));
    }
    if (old_cluster && (!new_cluster || new_cluster->name != old_cluster->name)) dropped.push_back(&old_cluster->name);
  }
  // A name dropped from one slot may live on in another changed one (tables
  // not made by one translator need not keep slots).
  if (dropped.empty()) return diff;
  std::unordered_set<std::string_view> changed_names;
  for (uint32_t slot : diff.changed) changed_names.insert(after.clusters[slot]->name);
  for (const std::string* name : dropped) {
    if (!changed_names.count(*name)) diff.gone.push_back(*name);
  }
  return diff;
}

void VirtualHost::sort_routes() { std::stable_sort(routes.begin(), routes.end(), precedes); }

std::string RouteTable::to_json() const {
  nlohmann::json hosts = nlohmann::json::array();
  for_each_host([&](const VirtualHost& vhost) {
    if (!vhost.routes.empty()) hosts.push_back(vhost_json(*this, vhost));
  });

  nlohmann::json clusters_json = nlohmann::json::array();
  for_each_cluster([&](uint32_t, const Cluster& cluster) {
    nlohmann::json endpoints = nlohmann::json::array();
    for (const Endpoint& endpoint : cluster.endpoints) {
      endpoints.push_back(
          {{"address", endpoint.address()}, {"pod", endpoint.pod}, {"ready", endpoint.ready}});
    }
    clusters_json.push_back({{"name", cluster.name},
                             {"namespace", cluster.service_namespace},
                             {"service", cluster.service},
                             {"port", cluster.port},
                             {"loadBalance", to_string(cluster.lb_policy)},
                             {"hashBy", cluster.hash_header},
                             {"healthCheck",
                              cluster.health_check.enabled
                                  ? nlohmann::json{{"service", cluster.health_check.service},
                                                   {"intervalMs", cluster.health_check.interval.count()},
                                                   {"timeoutMs", cluster.health_check.timeout.count()},
                                                   {"healthyThreshold", cluster.health_check.healthy_threshold},
                                                   {"unhealthyThreshold", cluster.health_check.unhealthy_threshold}}
                                  : nlohmann::json(nullptr)},
                             {"outlierConsecutiveFailures", cluster.outlier_detection.consecutive_failures},
                             {"maxStreamsPerEndpoint", cluster.max_streams_per_endpoint},
                             {"maxPendingPerEndpoint", cluster.max_pending_per_endpoint},
                             {"protocol", to_string(cluster.protocol)},
                             {"grpcOnly", cluster.grpc_only},
                             {"protocolFrom", cluster.protocol_source},
                             // Which Secrets, never the key material.
                             {"tls", cluster.tls.enabled
                                         ? nlohmann::json{{"sni", cluster.tls.sni},
                                                          {"verified", !cluster.tls.ca_pem.empty()},
                                                          {"clientCertificate", !cluster.tls.cert_pem.empty()},
                                                          {"secrets", cluster.tls.secrets},
                                                          {"problem", cluster.tls.problem}}
                                         : nlohmann::json(nullptr)},
                             {"endpoints", endpoints}});
  });
  nlohmann::json out = {{"version", version}, {"hosts", hosts}, {"clusters", clusters_json}};
  out["defaultBackend"] =
      default_route ? route_json(*this, *default_route) : nlohmann::json(nullptr);
  // Which Secret serves each TLS host; never the key material.
  nlohmann::json certificates = nlohmann::json::object();
  for (const auto& [host, certificate] : tls.certificates) certificates[host] = certificate.secret;
  // Which CA Secret verifies each host's client certificates ("usable": false = every certificate fails).
  nlohmann::json authorities = nlohmann::json::object();
  for (const auto& [host, authority] : tls.client_authorities) {
    constexpr const char* kModes[] = {"off", "on", "optional", "optional_no_ca"};
    authorities[host] = {{"secret", authority.secret},
                         {"verifyClient", kModes[static_cast<size_t>(authority.mode)]},
                         {"verifyDepth", authority.verify_depth},
                         {"usable", !authority.ca_pem.empty()}};
  }
  out["tls"] = {{"certificates", certificates},
                {"clientAuthorities", authorities},
                {"defaultCertificate", tls.default_certificate ? tls.default_certificate->secret : "self-signed"}};
  return out.dump(2);
}

}  // namespace grpc_ingress
