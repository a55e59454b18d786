#include "controller/translate/gateway_translator.h"

#include "common/text.h"
#include "controller/translate/annotations.h"

#include <re2/re2.h>

#include <algorithm>
#include <optional>
#include <tuple>
#include <variant>

namespace grpc_ingress {
namespace {

constexpr const char* kListenersNotValid = "ListenersNotValid";

Condition condition(const char* type, bool status, const char* reason, std::string message, int64_t generation) {
  return {type, status, reason, std::move(message), generation};
}

// "*.example.com" covers "a.example.com" and "a.b.example.com", not "example.com".
bool covers(std::string_view wildcard, std::string_view host) {
  if (!wildcard.starts_with("*.")) return false;
  std::string_view suffix = wildcard.substr(1);  // ".example.com"
  if (host.starts_with("*.")) host.remove_prefix(1);  // a wildcard covers a narrower wildcard
  return host.size() > suffix.size() && host.ends_with(suffix);
}

// The spec's default kinds for a protocol we serve.
std::vector<RouteGroupKind> kinds_for_protocol() {
  return {{std::string(kGatewayGroup), "HTTPRoute"}, {std::string(kGatewayGroup), "GRPCRoute"}};
}

// What one listener of one of our Gateways turned out to be.
struct ListenerInfo {
  const GatewayListener* spec = nullptr;
  uint8_t ports = 0;     // which of our ports serve it
  bool usable = false;   // accepted, not conflicted, references resolved
  std::vector<RouteGroupKind> kinds;  // supportedKinds
  int32_t attached = 0;
  std::vector<Condition> conditions;
};

struct GatewayInfo {
  const Gateway* gateway = nullptr;
  std::vector<ListenerInfo> listeners;
};

// Routes of both kinds, in the order ties are settled: oldest, then namespace/name.
struct RouteRef {
  std::chrono::sys_seconds created;
  ObjectKey key;
  std::string_view kind;
  std::variant<const GRPCRoute*, const HTTPRoute*> route;
};

class GatewayBuilder {
 public:
  GatewayBuilder(const Store& store, const GatewayTranslatorOptions& options, const std::string& watch_namespace,
                 ClusterBuilder& clusters, CertificateChecks& checks, TlsSettings& tls)
      : store_(store),
        options_(options),
        watch_namespace_(watch_namespace),
        clusters_(clusters),
        checks_(checks),
        tls_(tls),
        status_(std::make_shared<GatewayApiStatus>()) {}

  GatewayTranslation build() {
    for (const auto& [key, gateway_class] : store_.gateway_classes()) {
      if (gateway_class.controller_name != options_.controller_name) continue;
      our_classes_.insert(key.name);
      status_->gateway_classes[key] = condition("Accepted", true, "Accepted", "handled by grpc-ingress",
                                                gateway_class.metadata.generation);
    }
    for (const auto& [key, gateway] : store_.gateways()) {
      if (!watched(key.namespace_name) || !our_classes_.count(gateway.gateway_class_name)) continue;
      gateways_[key] = settle_gateway(gateway);
    }
    std::vector<RouteRef> routes;
    for (const auto& [key, route] : store_.grpc_routes()) {
      if (watched(key.namespace_name)) routes.push_back({route.metadata.creation_timestamp, key, "GRPCRoute", &route});
    }
    for (const auto& [key, route] : store_.http_routes()) {
      if (watched(key.namespace_name)) routes.push_back({route.metadata.creation_timestamp, key, "HTTPRoute", &route});
    }
    std::sort(routes.begin(), routes.end(), [](const RouteRef& a, const RouteRef& b) {
      return std::tie(a.created, a.key, a.kind) < std::tie(b.created, b.key, b.kind);
    });
    for (const RouteRef& ref : routes) {
      std::visit([&](const auto* route) { add_route(*route, ref.kind); }, ref.route);
    }
    for (auto& [key, info] : gateways_) status_->gateways[key] = gateway_status(info);
    out_.status = std::move(status_);
    return std::move(out_);
  }

 private:
  bool watched(const std::string& namespace_name) const {
    return watch_namespace_.empty() || namespace_name == watch_namespace_;
  }

  // May objects of `from_kind` in `from_namespace` refer to `to_kind` `to_name` in `to_namespace`?
  bool permitted(std::string_view from_kind, const std::string& from_namespace, std::string_view to_group,
                 std::string_view to_kind, const std::string& to_namespace, const std::string& to_name) const {
    if (from_namespace == to_namespace) return true;
    for (const auto& [key, grant] : store_.reference_grants()) {
      if (key.namespace_name != to_namespace) continue;
      bool from = std::any_of(grant.from.begin(), grant.from.end(), [&](const ReferenceGrantFrom& entry) {
        return entry.group == kGatewayGroup && entry.kind == from_kind && entry.namespace_name == from_namespace;
      });
      bool to = std::any_of(grant.to.begin(), grant.to.end(), [&](const ReferenceGrantTo& entry) {
        return entry.group == to_group && entry.kind == to_kind && (entry.name.empty() || entry.name == to_name);
      });
      if (from && to) return true;
    }
    return false;
  }

  GatewayInfo settle_gateway(const Gateway& gateway) {
    GatewayInfo info{&gateway, {}};
    const int64_t generation = gateway.metadata.generation;
    // Listeners sharing a port must agree on the protocol and differ in hostname.
    std::map<int32_t, std::set<std::string>> protocols_by_port;
    std::map<std::pair<int32_t, std::string>, int> hostnames_by_port;
    for (const GatewayListener& listener : gateway.listeners) {
      protocols_by_port[listener.port].insert(listener.protocol);
      ++hostnames_by_port[{listener.port, lower_case(listener.hostname)}];
    }
    for (const GatewayListener& listener : gateway.listeners) {
      ListenerInfo entry;
      entry.spec = &listener;
      const std::string where = "listener " + listener.name;
      bool accepted = true, resolved = true;
      const char* accepted_reason = "Accepted";
      const char* resolved_reason = "ResolvedRefs";
      std::string accepted_message = "served by grpc-ingress", resolved_message = "all references resolved";
      if (listener.protocol == "HTTP" || listener.protocol == "HTTPS") {
        bool tls = listener.protocol == "HTTPS";
        int32_t ours = tls ? options_.https_listener_port : options_.http_listener_port;
        if (listener.port != ours) {
          accepted = false;
          accepted_reason = "PortUnavailable";
          accepted_message = listener.protocol + " listeners are served on port " + std::to_string(ours) +
                             " (--gateway-" + (tls ? "https" : "http") + "-port), not " + std::to_string(listener.port);
        }
        entry.ports = tls ? kTlsPort : kCleartextPort;
      } else {
        accepted = false;
        accepted_reason = "UnsupportedProtocol";
        accepted_message = "protocol " + listener.protocol + " is not supported; use HTTP or HTTPS";
      }
      // allowedRoutes.kinds: the ones we can serve; any other is an error.
      std::vector<RouteGroupKind> supported = kinds_for_protocol();
      if (listener.route_kinds.empty()) {
        entry.kinds = supported;
      } else {
        for (const RouteGroupKind& kind : listener.route_kinds) {
          if (std::find(supported.begin(), supported.end(), kind) != supported.end()) {
            entry.kinds.push_back(kind);
          } else {
            resolved = false;
            resolved_reason = "InvalidRouteKinds";
            resolved_message = "route kind " + kind.group + "/" + kind.kind + " is not supported";
          }
        }
      }
      if (accepted && listener.protocol == "HTTPS") {
        if (listener.tls_mode != "Terminate") {
          accepted = false;
          accepted_reason = "UnsupportedValue";
          accepted_message = "tls.mode " + listener.tls_mode + " is not supported; use Terminate";
        } else if (auto problem = load_listener_certificate(gateway, listener)) {
          resolved = false;
          resolved_reason = problem->first;
          resolved_message = problem->second;
        }
      }
      bool protocol_conflict = protocols_by_port[listener.port].size() > 1;
      bool hostname_conflict = hostnames_by_port[{listener.port, lower_case(listener.hostname)}] > 1;
      bool conflicted = protocol_conflict || hostname_conflict;
      entry.usable = accepted && resolved && !conflicted;
      entry.conditions = {
          condition("Accepted", accepted, accepted_reason, accepted_message, generation),
          condition("Programmed", entry.usable, entry.usable ? "Programmed" : "Invalid",
                    entry.usable ? "routes attached here are served" : "the listener is not served", generation),
          condition("ResolvedRefs", resolved, resolved_reason, resolved_message, generation),
          condition("Conflicted", conflicted,
                    protocol_conflict ? "ProtocolConflict" : hostname_conflict ? "HostnameConflict" : "NoConflicts",
                    conflicted ? "another listener of this Gateway has the same port and " +
                                     std::string(protocol_conflict ? "a different protocol" : "hostname")
                               : "no conflicts",
                    generation)};
      if (!entry.usable) {
        reject("Gateway", gateway.metadata, where + ": " +
                                                (!accepted ? accepted_message
                                                 : !resolved ? resolved_message
                                                             : entry.conditions.back().message));
      }
      info.listeners.push_back(std::move(entry));
    }
    return info;
  }

  // Puts the listener's certificate into the TLS settings; the reason and
  // message of why it cannot, if it cannot.
  std::optional<std::pair<const char*, std::string>> load_listener_certificate(const Gateway& gateway,
                                                                              const GatewayListener& listener) {
    if (listener.certificate_refs.empty()) {
      return std::pair{"InvalidCertificateRef", std::string("an HTTPS listener needs tls.certificateRefs")};
    }
    std::optional<std::pair<const char*, std::string>> problem;
    for (const ObjectReference& ref : listener.certificate_refs) {
      std::string namespace_name = ref.namespace_name.empty() ? gateway.metadata.namespace_name : ref.namespace_name;
      ObjectKey key{namespace_name, ref.name};
      if (!ref.group.empty() || (ref.kind != "Secret" && !ref.kind.empty())) {
        problem = {"InvalidCertificateRef", "certificateRef " + ref.kind + " " + ref.name + " is not a Secret"};
        continue;
      }
      if (!permitted("Gateway", gateway.metadata.namespace_name, "", "Secret", namespace_name, ref.name)) {
        problem = {"RefNotPermitted", "Secret " + key.to_string() + " is in another namespace and no ReferenceGrant there allows it"};
        continue;
      }
      auto certificate = load_certificate_secret(store_, key, checks_);
      if (!certificate) {
        problem = {"InvalidCertificateRef", "Secret " + key.to_string() + ": " + certificate.error().message};
        continue;
      }
      std::string host = lower_case(listener.hostname);
      if (host.empty()) {
        if (!tls_.default_certificate) tls_.default_certificate = *certificate;
      } else if (!tls_.certificates.count(host)) {
        tls_.certificates[host] = *certificate;
      }
      return std::nullopt;
    }
    return problem;
  }

  GatewayStatus gateway_status(const GatewayInfo& info) const {
    const Gateway& gateway = *info.gateway;
    const int64_t generation = gateway.metadata.generation;
    GatewayStatus status;
    bool any_accepted = false, any_usable = false;
    for (const ListenerInfo& listener : info.listeners) {
      any_accepted = any_accepted || listener.conditions.front().status;
      any_usable = any_usable || listener.usable;
      status.listeners.push_back({listener.spec->name, listener.kinds, listener.attached, listener.conditions});
    }
    status.conditions = {
        any_accepted ? condition("Accepted", true, "Accepted", "handled by grpc-ingress", generation)
                     : condition("Accepted", false, kListenersNotValid, "no listener can be served", generation),
        any_usable ? condition("Programmed", true, "Programmed", "served by grpc-ingress", generation)
                   : condition("Programmed", false, "Invalid", "no listener is served", generation)};
    return status;
  }

  // One parentRef of a route, settled: its status entry, and where the
  // route is served (host -> ports) when it attached.
  struct Attachment {
    RouteParentStatus status;
    std::map<std::string, uint8_t> hosts;
    bool attached = false;
  };

  template <typename Match>
  std::optional<Attachment> attach(const GatewayRoute<Match>& route, std::string_view kind, const ParentReference& ref) {
    if (ref.group != kGatewayGroup || ref.kind != "Gateway") return std::nullopt;  // not a parent we serve
    ObjectKey key{ref.namespace_name.empty() ? route.metadata.namespace_name : ref.namespace_name, ref.name};
    auto gateway = gateways_.find(key);
    if (gateway == gateways_.end()) return std::nullopt;  // another controller's, or not there yet
    const int64_t generation = route.metadata.generation;
    Attachment out;
    out.status.parent_ref = ref;
    auto accepted = [&](bool ok, const char* reason, std::string message) {
      out.status.conditions.push_back(condition("Accepted", ok, reason, std::move(message), generation));
    };
    std::vector<ListenerInfo*> candidates;
    for (ListenerInfo& listener : gateway->second.listeners) {
      if (!ref.section_name.empty() && listener.spec->name != ref.section_name) continue;
      if (ref.port != 0 && listener.spec->port != ref.port) continue;
      candidates.push_back(&listener);
    }
    if (candidates.empty()) {
      accepted(false, "NoMatchingParent", "Gateway " + key.to_string() + " has no listener" +
                                              (ref.section_name.empty() ? "" : " named " + ref.section_name) +
                                              (ref.port == 0 ? "" : " on port " + std::to_string(ref.port)));
      return out;
    }
    RouteGroupKind route_kind{std::string(kGatewayGroup), std::string(kind)};
    std::vector<ListenerInfo*> allowed;
    for (ListenerInfo* listener : candidates) {
      if (!listener->usable) continue;
      if (std::find(listener->kinds.begin(), listener->kinds.end(), route_kind) == listener->kinds.end()) continue;
      if (!namespace_allowed(*listener->spec, key.namespace_name, route.metadata.namespace_name)) continue;
      allowed.push_back(listener);
    }
    if (allowed.empty()) {
      accepted(false, "NotAllowedByListeners",
               "no listener of Gateway " + key.to_string() + " that this parentRef selects allows " +
                   std::string(kind) + "s from namespace " + route.metadata.namespace_name);
      return out;
    }
    std::vector<std::string> route_hosts;
    for (const std::string& host : route.hostnames) route_hosts.push_back(lower_case(host));
    for (ListenerInfo* listener : allowed) {
      ++listener->attached;
      for (const std::string& host : intersect_hostnames(lower_case(listener->spec->hostname), route_hosts)) {
        out.hosts[host] |= listener->ports;
      }
    }
    if (out.hosts.empty()) {
      accepted(false, "NoMatchingListenerHostname",
               "no hostname of the route matches a listener hostname of Gateway " + key.to_string());
      return out;
    }
    out.attached = true;
    accepted(true, "Accepted", "attached to Gateway " + key.to_string());
    return out;
  }

  bool namespace_allowed(const GatewayListener& listener, const std::string& gateway_namespace,
                         const std::string& route_namespace) const {
    switch (listener.routes_from) {
      case RoutesFrom::kAll:
        return true;
      case RoutesFrom::kSame:
        return route_namespace == gateway_namespace;
      case RoutesFrom::kSelector: {
        auto it = store_.namespaces().find({"", route_namespace});
        static const std::map<std::string, std::string> kNoLabels;
        const auto& labels = it == store_.namespaces().end() ? kNoLabels : it->second.metadata.labels;
        // Namespaces carry kubernetes.io/metadata.name (set by the API server) even when not read yet.
        if (it == store_.namespaces().end()) {
          std::map<std::string, std::string> implied = {{"kubernetes.io/metadata.name", route_namespace}};
          return listener.routes_selector.matches(implied);
        }
        return listener.routes_selector.matches(labels);
      }
    }
    return false;
  }

  // A backendRef as a weighted cluster, and why it does not resolve (reason, message).
  struct Backend {
    WeightedCluster cluster;
    const char* reason = nullptr;
  };

  Backend resolve_backend(const ObjectMeta& meta, std::string_view kind, const RouteBackend& backend,
                          const ClusterPolicy& policy) {
    const ObjectReference& ref = backend.ref;
    Backend out;
    out.cluster.weight = static_cast<uint32_t>(std::max(0, backend.weight));
    std::string namespace_name = ref.namespace_name.empty() ? meta.namespace_name : ref.namespace_name;
    ObjectKey key{namespace_name, ref.name};
    if (!ref.group.empty() || (ref.kind != "Service" && !ref.kind.empty())) {
      out.reason = "InvalidKind";
      out.cluster.problem = "backendRef " + (ref.group.empty() ? "" : ref.group + "/") + ref.kind + " " + ref.name +
                            " is not a Service";
      return out;
    }
    if (!permitted(kind, meta.namespace_name, "", "Service", namespace_name, ref.name)) {
      out.reason = "RefNotPermitted";
      out.cluster.problem = "backendRef Service " + key.to_string() +
                            " is in another namespace and no ReferenceGrant there allows it";
      return out;
    }
    if (ref.port == 0) {
      out.reason = "UnsupportedValue";
      out.cluster.problem = "backendRef Service " + key.to_string() + " needs a port";
      return out;
    }
    out_.services.insert(key);
    if (!store_.services().count(key)) {
      out.reason = "BackendNotFound";
      out.cluster.problem = "Service " + key.to_string() + " not found";
    }
    // A cluster even for a missing Service: it answers UNAVAILABLE until the Service comes.
    IngressAge user = IngressAge::of(meta, kind == "GRPCRoute" ? RouteKind::kGRPCRoute : RouteKind::kHTTPRoute);
    out.cluster.cluster = clusters_.cluster_for(user, key, PortRef{ref.port, ""}, policy);
    return out;
  }

  template <typename Match>
  void add_route(const GatewayRoute<Match>& route, std::string_view kind) {
    const ObjectMeta& meta = route.metadata;
    const int64_t generation = meta.generation;
    std::vector<Attachment> parents;
    std::map<std::string, uint8_t> hosts;
    for (const ParentReference& ref : route.parent_refs) {
      auto attachment = attach(route, kind, ref);
      if (!attachment) continue;
      for (const auto& [host, ports] : attachment->hosts) hosts[host] |= ports;
      parents.push_back(std::move(*attachment));
    }
    if (parents.empty()) return;  // names none of our Gateways
    auto& statuses = kind == "GRPCRoute" ? status_->grpc_routes[meta.key()] : status_->http_routes[meta.key()];

    const char* resolved_reason = "ResolvedRefs";
    std::string resolved_message = "all backendRefs resolved";
    std::vector<std::string> dropped;  // rules not served, and why
    if (!hosts.empty()) {
      IngressOptions options = read_annotations(meta);
      for (const std::string& problem : options.problems) reject(kind, meta, problem);
      std::vector<Route> rules;
      for (size_t r = 0; r < route.rules.size(); ++r) {
        std::string where = "rules[" + std::to_string(r) + "]";
        std::string problem;
        auto built = build_rule(meta, kind, route.rules[r], options, problem, resolved_reason, resolved_message);
        if (!problem.empty()) {
          dropped.push_back(where + ": " + problem);
          continue;
        }
        rules.insert(rules.end(), built.begin(), built.end());
      }
      for (const auto& [host, ports] : hosts) {
        std::vector<Route>& list = out_.routes_by_host[host];
        for (const Route& rule : rules) {
          list.push_back(rule);
          list.back().ports = ports;
        }
      }
    }
    for (Attachment& parent : parents) {
      auto& conditions = parent.status.conditions;
      if (parent.attached && !dropped.empty()) {
        bool none_left = dropped.size() == route.rules.size();
        std::string message = "not served: " + join(dropped, "; ");
        if (none_left) {
          conditions.front() = condition("Accepted", false, "UnsupportedValue", message, generation);
        } else {
          conditions.push_back(condition("PartiallyInvalid", true, "UnsupportedValue", message, generation));
        }
      }
      conditions.push_back(condition("ResolvedRefs", std::string_view(resolved_reason) == "ResolvedRefs", resolved_reason,
                                     resolved_message, generation));
      for (const Condition& c : conditions) {
        if (!c.status && c.type != "PartiallyInvalid") reject(kind, meta, c.reason + ": " + c.message);
        if (c.status && c.type == "PartiallyInvalid") reject(kind, meta, c.message);
      }
      statuses.push_back(std::move(parent.status));
    }
  }

  // The routes of one rule (one per match), or a problem that keeps the rule from being served.
  template <typename Match>
  std::vector<Route> build_rule(const ObjectMeta& meta, std::string_view kind, const RouteRule<Match>& rule,
                                const IngressOptions& options, std::string& problem, const char*& resolved_reason,
                                std::string& resolved_message) {
    Route base;
    base.kind = kind == "GRPCRoute" ? RouteKind::kGRPCRoute : RouteKind::kHTTPRoute;
    RouteFilters filters;
    base.ingress_namespace = meta.namespace_name;
    base.ingress_name = meta.name;
    base.retry = options.retry;
    base.max_timeout = options.max_timeout;
    base.max_message_bytes = options.max_message_bytes;
    base.grpc_web = options.grpc_web;
    base.cors_allow_origin = options.cors_allow_origin;
    base.deep_wildcard = true;
    for (const RouteFilter& filter : rule.filters) {
      if (filter.type == "RequestHeaderModifier" || filter.type == "ResponseHeaderModifier") {
        HeaderEdits& edits = filter.type == "RequestHeaderModifier" ? filters.request_headers : filters.response_headers;
        for (const auto& [name, value] : filter.headers.set) edits.set.emplace_back(lower_case(name), value);
        for (const auto& [name, value] : filter.headers.add) edits.add.emplace_back(lower_case(name), value);
        for (const std::string& name : filter.headers.remove) edits.remove.push_back(lower_case(name));
      } else if (kind == "HTTPRoute" && filter.type == "RequestRedirect") {
        Redirect redirect;
        redirect.scheme = filter.scheme;
        redirect.hostname = filter.hostname;
        redirect.port = static_cast<uint32_t>(std::max(0, filter.port));
        redirect.status = filter.status_code;
        if (filter.path) redirect.path = path_change(*filter.path);
        filters.redirect = std::move(redirect);
      } else if (kind == "HTTPRoute" && filter.type == "URLRewrite") {
        Rewrite rewrite;
        rewrite.hostname = filter.hostname;
        if (filter.path) rewrite.path = path_change(*filter.path);
        filters.rewrite = std::move(rewrite);
      } else {
        problem = "filter " + filter.type + " is not supported";
        return {};
      }
    }
    if (filters.redirect && filters.rewrite) {
      problem = "RequestRedirect and URLRewrite cannot be combined";
      return {};
    }
    if (filters != RouteFilters{}) base.filters.value = std::make_shared<const RouteFilters>(std::move(filters));
    if (!base.filters || !base.filters->redirect) {
      std::vector<WeightedCluster> backends;
      for (const RouteBackend& backend : rule.backends) {
        if (backend.has_filters) {
          problem = "filters on a backendRef are not supported";
          return {};
        }
        Backend resolved = resolve_backend(meta, kind, backend, options.cluster);
        if (resolved.reason && std::string_view(resolved_reason) == "ResolvedRefs") {
          resolved_reason = resolved.reason;
          resolved_message = resolved.cluster.problem;
        }
        if (resolved.cluster.weight > 0) backends.push_back(std::move(resolved.cluster));
      }
      if (backends.empty()) {
        base.cluster = kNoCluster;
        base.backends.push_back({kNoCluster, 1, rule.backends.empty() ? "the rule has no backendRefs"
                                                                      : "every backendRef has weight 0"});
      } else if (backends.size() == 1) {
        base.cluster = backends.front().cluster;
        if (base.cluster == kNoCluster) base.backends = std::move(backends);
      } else {
        auto usable = std::find_if(backends.begin(), backends.end(),
                                   [](const WeightedCluster& b) { return b.cluster != kNoCluster; });
        base.cluster = usable == backends.end() ? kNoCluster : usable->cluster;
        base.backends = std::move(backends);
      }
    } else {
      base.cluster = kNoCluster;
    }
    std::vector<Route> out;
    if (rule.matches.empty()) {
      Match everything{};
      if (!add_match(base, everything, out, problem)) return {};
    }
    for (const Match& match : rule.matches) {
      if (!add_match(base, match, out, problem)) return {};
    }
    return out;
  }

  static PathChange path_change(const PathModifier& modifier) {
    PathChange change;
    change.type = modifier.type == PathModifier::Type::kReplaceFullPath ? PathChange::Type::kFull
                                                                        : PathChange::Type::kPrefix;
    change.value = modifier.value;
    return change;
  }

  static bool conditions(const std::vector<ValueMatch>& matches, bool header, std::vector<ValueCondition>& out,
                         std::string& problem) {
    for (const ValueMatch& match : matches) {
      ValueCondition condition{header ? lower_case(match.name) : match.name, match.value, {}};
      // The spec: of entries with an equivalent name only the first counts.
      if (std::any_of(out.begin(), out.end(), [&](const ValueCondition& c) { return c.name == condition.name; })) {
        continue;
      }
      if (match.type == StringMatchType::kRegularExpression) {
        condition.regex = Regex::compile(match.value, &problem);
        if (!condition.regex) return false;
      }
      out.push_back(std::move(condition));
    }
    return true;
  }

  static bool set_regex_path(Route& route, RouteConditions& conditions, std::string pattern, std::string& problem) {
    route.path_type = PathType::kRegex;
    conditions.path_regex = Regex::compile(pattern, &problem);
    route.path = std::move(pattern);
    return static_cast<bool>(conditions.path_regex);
  }

  // The route with `conditions`, if it has any.
  static void add_with(Route route, RouteConditions conditions, std::vector<Route>& out) {
    if (conditions != RouteConditions{}) route.conditions.value = std::make_shared<const RouteConditions>(std::move(conditions));
    out.push_back(std::move(route));
  }

  static bool add_match(const Route& base, const GrpcRouteMatch& match, std::vector<Route>& out, std::string& problem) {
    Route route = base;
    RouteConditions extra;
    if (match.method_type == StringMatchType::kRegularExpression) {
      std::string service = match.service.empty() ? "[^/]+" : "(?:" + match.service + ")";
      std::string method = match.method.empty() ? "[^/]+" : "(?:" + match.method + ")";
      if (!set_regex_path(route, extra, "/" + service + "/" + method, problem)) return false;
    } else if (!match.service.empty() && !match.method.empty()) {
      route.path_type = PathType::kExact;
      route.path = "/" + match.service + "/" + match.method;
    } else if (!match.service.empty()) {
      route.path_type = PathType::kPrefix;
      route.path = "/" + match.service;
    } else if (!match.method.empty()) {
      if (!set_regex_path(route, extra, "/[^/]+/" + RE2::QuoteMeta(match.method), problem)) return false;
    } else {
      route.path_type = PathType::kPrefix;
      route.path = "/";
    }
    if (!conditions(match.headers, true, extra.headers, problem)) return false;
    add_with(std::move(route), std::move(extra), out);
    return true;
  }

  static bool add_match(const Route& base, const HttpRouteMatch& match, std::vector<Route>& out, std::string& problem) {
    Route route = base;
    RouteConditions extra;
    switch (match.path_type) {
      case StringMatchType::kExact:
        route.path_type = PathType::kExact;
        route.path = match.path;
        break;
      case StringMatchType::kPrefix:
        route.path_type = PathType::kPrefix;
        route.path = match.path;
        while (route.path.size() > 1 && route.path.back() == '/') route.path.pop_back();
        break;
      case StringMatchType::kRegularExpression:
        if (!set_regex_path(route, extra, match.path, problem)) return false;
        break;
    }
    if (route.path_type != PathType::kRegex && !route.path.starts_with('/')) {
      problem = "path '" + match.path + "' must start with '/'";
      return false;
    }
    extra.method = match.method;
    if (!conditions(match.headers, true, extra.headers, problem)) return false;
    if (!conditions(match.query_params, false, extra.query, problem)) return false;
    add_with(std::move(route), std::move(extra), out);
    return true;
  }

  void reject(std::string_view kind, const ObjectMeta& meta, std::string reason) {
    out_.rejections.push_back({std::string(kind), meta.namespace_name, meta.name, std::move(reason)});
  }

  const Store& store_;
  const GatewayTranslatorOptions& options_;
  const std::string& watch_namespace_;
  ClusterBuilder& clusters_;
  CertificateChecks& checks_;
  TlsSettings& tls_;
  std::set<std::string> our_classes_;
  std::map<ObjectKey, GatewayInfo> gateways_;
  std::shared_ptr<GatewayApiStatus> status_;
  GatewayTranslation out_;
};

}  // namespace

std::vector<std::string> intersect_hostnames(const std::string& listener, const std::vector<std::string>& route) {
  std::vector<std::string> out;
  if (route.empty()) return {listener};
  for (const std::string& host : route) {
    std::string match;
    if (listener.empty() || host == listener || covers(listener, host)) {
      match = host;
    } else if (covers(host, listener)) {
      match = listener;
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), match) == out.end()) out.push_back(std::move(match));
  }
  return out;
}

GatewayTranslation translate_gateways(const Store& store, const GatewayTranslatorOptions& options,
                                      const std::string& watch_namespace, ClusterBuilder& clusters,
                                      CertificateChecks& checks, TlsSettings& tls) {
  if (!options.enabled) return {};
  return GatewayBuilder(store, options, watch_namespace, clusters, checks, tls).build();
}

}  // namespace grpc_ingress
