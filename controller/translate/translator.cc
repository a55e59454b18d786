#include "controller/translate/translator.h"

#include "common/text.h"

#include "controller/translate/annotations.h"
#include "controller/translate/cluster_builder.h"
#include "controller/translate/k8s_names.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <tuple>

namespace grpc_ingress {
namespace {

// Sorted, as RouteTable::changed_clusters is (each slot is named once).
void settle_changed_clusters(Translation& out) {
  std::sort(out.changed_clusters.begin(), out.changed_clusters.end());
  out.clusters_changed = out.changed_clusters.size();
}

constexpr const char* kClassAnnotation = "kubernetes.io/ingress.class";
constexpr const char* kDefaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class";

bool is_our_ingress(const Ingress& ingress, const Store& store, const TranslatorOptions& options) {
  const auto& classes = store.ingress_classes();
  auto class_controller = [&](const std::string& name) -> std::optional<std::string> {
    auto it = classes.find({"", name});
    if (it == classes.end()) return std::nullopt;
    return it->second.controller;
  };
  if (!ingress.ingress_class_name.empty()) {
    auto controller = class_controller(ingress.ingress_class_name);
    if (ingress.ingress_class_name == options.ingress_class) {
      // Our class name works without an IngressClass object, but not if one
      // exists that hands the name to another controller.
      return !controller || *controller == options.controller_name;
    }
    return controller && *controller == options.controller_name;
  }
  const auto& annotations = ingress.metadata.annotations;
  if (auto legacy = annotations.find(kClassAnnotation); legacy != annotations.end()) {
    return legacy->second == options.ingress_class;
  }
  if (options.watch_ingress_without_class) return true;  // --watch-ingress-without-class
  return std::any_of(classes.begin(), classes.end(), [&](const auto& entry) {
    const IngressClass& ingress_class = entry.second;
    auto is_default = ingress_class.metadata.annotations.find(kDefaultClassAnnotation);
    return ingress_class.controller == options.controller_name &&
           is_default != ingress_class.metadata.annotations.end() && is_default->second == "true";
  });
}

// The API's host rules: a DNS name, or "*." and one; never an IP address.
std::optional<std::string> host_problem(const std::string& host) {
  if (is_ip_address(host)) return "an IP address is not allowed; use a DNS name";
  std::string_view name = host;
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (!is_dns_subdomain(name)) {
    return "not a valid DNS name (a wildcard may only be a leading '*.' label)";
  }
  return std::nullopt;
}

std::optional<std::string> backend_problem(const IngressBackend& backend) {
  if (!backend.resource_kind.empty()) {
    return "resource backend " + backend.resource_kind + "/" + backend.resource_name +
           " is not supported; only Service backends can be routed";
  }
  if (backend.service_name.empty()) return "backend names no service";
  if (!is_dns_subdomain(backend.service_name)) {
    return "backend service name '" + backend.service_name + "' is not a valid name";
  }
  const PortRef& port = backend.service_port;
  if (port.number == 0 && port.name.empty()) return "backend service port needs a number or a name";
  if (port.number != 0 && !port.name.empty()) {
    return "backend service port has both a number and a name; give one";
  }
  return std::nullopt;
}

std::string_view path_type_name(PathType type) {
  return type == PathType::kExact ? "Exact" : "Prefix";
}

// A route's path as the table keeps it, or why the path cannot be routed.
struct NormalizedPath {
  PathType type = PathType::kPrefix;
  std::string path;
  std::string problem;
};

NormalizedPath normalize_path(const IngressPath& path) {
  NormalizedPath out;
  if (!path.path_type) {
    out.problem = "pathType is required (Exact, Prefix or ImplementationSpecific)";
    return out;
  }
  out.type = *path.path_type == IngressPathType::kExact ? PathType::kExact : PathType::kPrefix;
  out.path = path.path;
  // The API allows an empty ImplementationSpecific path; it means every path.
  if (out.path.empty() && *path.path_type == IngressPathType::kImplementationSpecific) {
    out.path = "/";
  }
  if (!out.path.starts_with('/')) {
    out.problem = "path '" + path.path + "' must start with '/'";
    return out;
  }
  for (char c : out.path) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f || c == '?' || c == '#') {
      out.problem = "path '" + path.path + "' may not contain spaces, control characters, '?' or '#'";
      return out;
    }
  }
  if (out.type == PathType::kPrefix) {
    while (out.path.size() > 1 && out.path.back() == '/') out.path.pop_back();
  }
  return out;
}

// Translates the Ingresses that are ours, oldest first, so that the first to
// claim a host + path (or the default backend) keeps it.
class IngressMerger {
 public:
  explicit IngressMerger(ClusterBuilder& clusters) : clusters_(clusters) {}

  // An Ingress whose annotations refuse it (an unsupported security
  // annotation, a bad value of one, a typo of ours): it routes nothing.
  void refuse(const Ingress& ingress, const IngressOptions& options) {
    const ObjectMeta& meta = ingress.metadata;
    for (const std::string& refusal : options.refusals) reject(meta, refusal);
    for (const std::string& problem : options.problems) reject(meta, problem);
    merged_[meta.key()];  // merged, with nothing routed
  }

  // A main (not canary) Ingress: its rules claim host + path.
  void add(const Ingress& ingress, const IngressOptions& options) {
    const ObjectMeta& meta = ingress.metadata;
    for (const std::string& problem : options.problems) reject(meta, problem);
    // One policy object for every route of the Ingress (the default route
    // and the health bridge too); none when the annotations ask nothing.
    access_ = {};
    if (options.access != AccessPolicy{}) access_.value = std::make_shared<const AccessPolicy>(options.access);
    std::vector<uint32_t> clusters;  // this Ingress's backends, for its health bridge
    std::set<std::string> hosts;
    if (ingress.default_backend) add_default_backend(meta, *ingress.default_backend, options, clusters);
    for_each_path(ingress, [&](const std::string& host, const IngressPath& path, const std::string& where) {
      hosts.insert(host);
      add_path(meta, host, path, where, options, clusters);
    });
    if (!options.http_health_path.empty()) add_health_bridge(meta, options, hosts, clusters);
  }

  // A canary Ingress: each of its paths joins the main Ingress's route for the
  // same host and path, as ingress-nginx does; it claims nothing itself.
  void add_canary(const Ingress& ingress, const IngressOptions& options) {
    const ObjectMeta& meta = ingress.metadata;
    for (const std::string& problem : options.problems) reject(meta, problem);
    if (ingress.default_backend) reject(meta, "defaultBackend of a canary Ingress is ignored");
    // As ingress-nginx: the canary's calls pass the main Ingress's policy (the route's).
    if (options.access != AccessPolicy{}) {
      reject(meta, "access annotations (source ranges, client certificates, rate limits, auth-url) of a canary "
                   "Ingress are ignored: its calls pass the main Ingress's");
    }
    for_each_path(ingress, [&](const std::string& host, const IngressPath& path, const std::string& where) {
      auto usable = usable_path(meta, path, where);
      if (!usable) return;
      const NormalizedPath& normalized = *usable;
      auto main = routes_by_claim_.find({host, normalized.type, normalized.path});
      if (main == routes_by_claim_.end()) {
        reject(meta, where + ": canary for " + std::string(path_type_name(normalized.type)) + " path " +
                         normalized.path + " on host '" + (host.empty() ? "*" : host) +
                         "' has no main Ingress with the same host and path; ignored");
        return;
      }
      Route& route = main->second.first->routes[main->second.second];
      if (route.canary) {
        reject(meta, where + ": the route already has the canary " + route.canary->ingress_namespace + "/" +
                         route.canary->ingress_name + "; ignored");
        return;
      }
      const CanaryPolicy& policy = *options.canary;
      Canary canary;
      canary.cluster = cluster_for(meta, path.backend, options.cluster);
      canary.header = policy.header;
      canary.header_value = policy.header_value;
      canary.cookie = policy.cookie;
      canary.weight = policy.weight;
      canary.weight_total = policy.weight_total;
      canary.ingress_namespace = meta.namespace_name;
      canary.ingress_name = meta.name;
      route.canary = std::move(canary);
    });
  }

  // The routes `meta` gave `host` answer cleartext requests with a redirect.
  void mark_redirect(const ObjectMeta& meta, const std::string& host) {
    auto& hosts = host.starts_with("*.") ? wildcard_hosts_ : exact_hosts_;
    auto vhost = hosts.find(host);
    if (vhost == hosts.end()) return;
    for (Route& route : vhost->second.routes) {
      if (route.ingress_namespace == meta.namespace_name && route.ingress_name == meta.name) route.ssl_redirect = true;
    }
  }

  // What each Ingress merged made: its rejections and the clusters it named.
  std::map<ObjectKey, MergedIngress> take_merged() { return std::move(merged_); }
  std::optional<Route> take_default_route() { return std::move(default_route_); }

  // Puts the route set built for `host` (or none) into `table`: the object
  // `previous` has when equal (else counted in `hosts_changed`).
  void place_host(const std::string& host, RouteTable& table, const RouteTable* previous, size_t& hosts_changed) {
    VirtualHost* built = nullptr;
    if (host.empty()) {
      if (any_host_) built = &*any_host_;
    } else {
      auto& hosts = host.starts_with("*.") ? wildcard_hosts_ : exact_hosts_;
      if (auto it = hosts.find(host); it != hosts.end()) built = &it->second;
    }
    const VirtualHostPtr* before = nullptr;
    if (previous) {
      if (host.empty()) {
        before = &previous->any_host;
      } else {
        const VirtualHosts& hosts = host.starts_with("*.") ? previous->wildcard_hosts : previous->exact_hosts;
        if (auto it = hosts.find(host); it != hosts.end()) before = &it->second;
      }
    }
    VirtualHostPtr placed;
    if (built) {
      built->sort_routes();
      if (before && *before && **before == *built) {
        placed = *before;
      } else {
        placed = std::make_shared<const VirtualHost>(std::move(*built));
      }
    }
    if (placed != (before ? *before : nullptr)) ++hosts_changed;
    if (host.empty()) {
      table.any_host = std::move(placed);
    } else {
      // Written only when it differs: a write copies a map the table still shares.
      VirtualHosts& hosts = host.starts_with("*.") ? table.wildcard_hosts : table.exact_hosts;
      auto it = hosts.find(host);
      bool present = it != hosts.end();
      if (placed) {
        if (!present || it->second != placed) hosts[host] = std::move(placed);
      } else if (present) {
        hosts.erase(host);
      }
    }
  }

  // Gateway API routes for `host`, after the Ingresses' (the route sets
  // order them; equal ones keep the Ingress first).
  void add_routes(const std::string& host, const std::vector<Route>& routes) {
    VirtualHost& vhost = vhost_for(host);
    vhost.routes.insert(vhost.routes.end(), routes.begin(), routes.end());
  }

  // Every host this merge built routes for.
  std::vector<std::string> built_hosts() const {
    std::vector<std::string> out;
    for (const auto& [host, _] : exact_hosts_) out.push_back(host);
    for (const auto& [host, _] : wildcard_hosts_) out.push_back(host);
    if (any_host_) out.push_back("");
    return out;
  }

 private:
  using ClaimKey = std::tuple<std::string, PathType, std::string>;  // host, type, path

  // Calls fn(host, path, "rules[r].paths[p]") for each path of a rule whose host is valid.
  template <typename Fn>
  void for_each_path(const Ingress& ingress, Fn&& fn) {
    for (size_t r = 0; r < ingress.rules.size(); ++r) {
      const IngressRule& rule = ingress.rules[r];
      std::string where = "rules[" + std::to_string(r) + "]";
      std::string host = lower_case(rule.host);
      if (!host.empty()) {
        if (auto problem = host_problem(host)) {
          reject(ingress.metadata, where + ": host '" + rule.host + "': " + *problem + "; rule skipped");
          continue;
        }
      }
      for (size_t p = 0; p < rule.paths.size(); ++p) {
        fn(host, rule.paths[p], where + ".paths[" + std::to_string(p) + "]");
      }
    }
  }

  // The path as routed, or nullopt after reporting why it cannot be.
  std::optional<NormalizedPath> usable_path(const ObjectMeta& meta, const IngressPath& path,
                                            const std::string& where) {
    NormalizedPath normalized = normalize_path(path);
    std::optional<std::string> problem;
    if (!normalized.problem.empty()) {
      problem = normalized.problem;
    } else {
      problem = backend_problem(path.backend);
    }
    if (!problem) return normalized;
    reject(meta, where + ": " + *problem + "; path skipped");
    return std::nullopt;
  }

  // Claims host + type + path for `meta`, or says who has it.
  std::optional<std::string> claim(const ObjectMeta& meta, const ClaimKey& key) {
    auto [owner, inserted] = claims_.emplace(key, meta.key());
    if (inserted) return std::nullopt;
    return owner->second == meta.key() ? "an earlier path of this Ingress"
                                       : "the older Ingress " + owner->second.to_string();
  }

  Route make_route(const ObjectMeta& meta, PathType type, std::string path, uint32_t cluster,
                   const IngressOptions& options) {
    Route route{type, std::move(path), cluster, meta.namespace_name, meta.name};
    route.retry = options.retry;
    route.max_timeout = options.max_timeout;
    route.max_message_bytes = options.max_message_bytes;
    route.grpc_web = options.grpc_web;
    route.cors_allow_origin = options.cors_allow_origin;
    route.access = access_;
    return route;
  }

  void add_path(const ObjectMeta& meta, const std::string& host, const IngressPath& path,
                const std::string& where, const IngressOptions& options, std::vector<uint32_t>& clusters) {
    auto usable = usable_path(meta, path, where);
    if (!usable) return;
    const NormalizedPath& normalized = *usable;
    ClaimKey key{host, normalized.type, normalized.path};
    if (auto by = claim(meta, key)) {
      reject(meta, where + ": " + std::string(path_type_name(normalized.type)) + " path " +
                       normalized.path + " on host '" + (host.empty() ? "*" : host) +
                       "' is already routed by " + *by + "; path skipped");
      return;
    }
    uint32_t cluster = cluster_for(meta, path.backend, options.cluster);
    clusters.push_back(cluster);
    VirtualHost& vhost = vhost_for(host);
    routes_by_claim_[key] = {&vhost, vhost.routes.size()};
    vhost.routes.push_back(make_route(meta, normalized.type, normalized.path, cluster, options));
  }

  void add_default_backend(const ObjectMeta& meta, const IngressBackend& backend,
                           const IngressOptions& options, std::vector<uint32_t>& clusters) {
    if (default_owner_) {
      reject(meta, "defaultBackend ignored: the older Ingress " + default_owner_->to_string() +
                       " already sets the default backend");
      return;
    }
    if (auto problem = backend_problem(backend)) {
      reject(meta, "defaultBackend: " + *problem + "; ignored");
      return;
    }
    default_owner_ = meta.key();
    uint32_t cluster = cluster_for(meta, backend, options.cluster);
    clusters.push_back(cluster);
    default_route_ = make_route(meta, PathType::kPrefix, "/", cluster, options);
  }

  // grpc-ingress.io/http-health-path: an Exact route on each of the Ingress's
  // hosts (every host if it has host-less rules or none) answered from the
  // gRPC health of its backends.
  void add_health_bridge(const ObjectMeta& meta, const IngressOptions& options, std::set<std::string> hosts,
                         std::vector<uint32_t> clusters) {
    std::sort(clusters.begin(), clusters.end());
    clusters.erase(std::unique(clusters.begin(), clusters.end()), clusters.end());
    if (clusters.empty()) {
      reject(meta, "http-health-path " + options.http_health_path + ": the Ingress has no backend; ignored");
      return;
    }
    if (hosts.empty()) hosts.insert("");
    for (const std::string& host : hosts) {
      if (auto by = claim(meta, {host, PathType::kExact, options.http_health_path})) {
        reject(meta, "http-health-path " + options.http_health_path + " on host '" + (host.empty() ? "*" : host) +
                         "' is already routed by " + *by + "; no health bridge there");
        continue;
      }
      Route route = make_route(meta, PathType::kExact, options.http_health_path, clusters.front(), options);
      route.health_bridge = true;
      route.health_of_clusters = clusters;
      vhost_for(host).routes.push_back(std::move(route));
    }
  }

  VirtualHost& vhost_for(const std::string& host) {
    if (host.empty()) {
      if (!any_host_) any_host_.emplace();
      return *any_host_;
    }
    auto& hosts = host.starts_with("*.") ? wildcard_hosts_ : exact_hosts_;
    VirtualHost& vhost = hosts[host];
    vhost.host = host;
    return vhost;
  }

  void reject(const ObjectMeta& meta, std::string reason) {
    merged_[meta.key()].rejections.push_back({"Ingress", meta.namespace_name, meta.name, std::move(reason)});
  }

  uint32_t cluster_for(const ObjectMeta& meta, const IngressBackend& backend, const ClusterPolicy& policy) {
    uint32_t slot = clusters_.cluster_for(IngressAge::of(meta), backend.service_name, backend.service_port, policy);
    merged_[meta.key()].slots.push_back(slot);
    return slot;
  }

  ClusterBuilder& clusters_;
  std::map<ObjectKey, MergedIngress> merged_;
  // The routes while they are built; shared once done (place_host).
  std::map<std::string, VirtualHost> exact_hosts_;
  std::map<std::string, VirtualHost> wildcard_hosts_;
  std::optional<VirtualHost> any_host_;
  std::optional<Route> default_route_;
  std::map<ClaimKey, ObjectKey> claims_;
  // Where each claimed path's route is, for canaries (map nodes do not move).
  std::map<ClaimKey, std::pair<VirtualHost*, size_t>> routes_by_claim_;
  std::optional<ObjectKey> default_owner_;
  SharedValue<AccessPolicy> access_;  // of the Ingress add() is merging
};

bool in_watched_namespace(const std::string& namespace_name, const TranslatorOptions& options) {
  return options.watch_namespace.empty() || namespace_name.empty() ||
         namespace_name == options.watch_namespace;
}

void dedupe(std::vector<Rejection>& rejections) {
  std::set<std::tuple<std::string, std::string, std::string, std::string>> seen;
  std::erase_if(rejections, [&](const Rejection& r) {
    return !seen.emplace(r.kind, r.namespace_name, r.name, r.reason).second;
  });
}


// The route sets an Ingress's rules can reach (more is harmless: a host with
// nothing built for it stays as the other Ingresses make it).
std::set<std::string> hosts_of(const Ingress& ingress) {
  std::set<std::string> hosts;
  for (const IngressRule& rule : ingress.rules) hosts.insert(lower_case(rule.host));
  if (hosts.empty()) hosts.insert("");  // a health bridge of an Ingress without rules
  return hosts;
}

// Oldest first, as IngressAge orders them (without copying the names).
bool older(const Ingress* a, const Ingress* b) {
  return std::tie(a->metadata.creation_timestamp, a->metadata.namespace_name, a->metadata.name) <
         std::tie(b->metadata.creation_timestamp, b->metadata.namespace_name, b->metadata.name);
}

// More Ingresses than this to merge again: merging them all is as cheap.
constexpr size_t kMaxScope = 256;

}  // namespace

Translation translate(const Store& store, const TranslatorOptions& options, const TlsHistory& tls) {
  return Translator(options).translate(store, StoreChanges{.everything = true}, tls);
}

Translation Translator::translate(const Store& store, const StoreChanges& changes, const TlsHistory& tls) {
  if (!kept_) return merge(store, nullptr, tls, std::nullopt);
  if (changes.endpoints_only() && !touches_gateway_backends(changes)) return endpoints_changed(store, changes);
  return merge(store, &changes, tls, scope_of(store, changes));
}

bool Translator::touches_gateway_backends(const StoreChanges& changes) const {
  const std::set<ObjectKey>& named = kept_->gateway.services;
  if (named.empty()) return false;
  return std::any_of(changes.objects.begin(), changes.objects.end(), [&](const auto& object) {
    return object.first == ObjectKind::kService && named.count(object.second);
  });
}

std::optional<Translator::Scope> Translator::scope_of(const Store& store, const StoreChanges& changes) const {
  if (changes.everything) return std::nullopt;
  Scope scope;
  std::vector<std::string> pending;  // hosts whose Ingresses are not in the scope yet
  // Adds `key`; false when it has (or had) a default backend, which every Ingress competes for.
  auto take = [&](const ObjectKey& key) {
    if (!scope.ingresses.insert(key).second) return true;
    auto reach = [&](const std::set<std::string>& hosts) {
      for (const std::string& host : hosts) {
        if (scope.hosts.insert(host).second) pending.push_back(host);
      }
    };
    if (auto before = kept_->ingresses.find(key); before != kept_->ingresses.end()) {
      if (before->second.default_backend) return false;
      reach(before->second.hosts);
    }
    if (auto now = store.ingresses().find(key); now != store.ingresses().end()) {
      if (now->second.default_backend) return false;
      reach(hosts_of(now->second));
    }
    return true;
  };
  for (const auto& [kind, key] : changes.objects) {
    if (kind == ObjectKind::kService || kind == ObjectKind::kEndpointSlice) continue;
    if (kind != ObjectKind::kIngress || !take(key)) return std::nullopt;
  }
  // Every Ingress that reaches one of those hosts competes for its paths.
  while (!pending.empty()) {
    std::string host = std::move(pending.back());
    pending.pop_back();
    auto sharing = kept_->by_host.find(host);
    if (sharing == kept_->by_host.end()) continue;
    for (const ObjectKey& key : sharing->second) {
      if (!take(key) || scope.ingresses.size() > kMaxScope) return std::nullopt;
    }
  }
  return scope;
}

std::vector<Rejection> Translator::rejections(const Store& store) const {
  std::vector<Rejection> out;
  for (const auto& [key, invalid] : store.invalid_objects()) {
    if (!in_watched_namespace(key.second.namespace_name, options_)) continue;
    out.push_back({std::string(kind_name(invalid.kind)), invalid.key.namespace_name, invalid.key.name, invalid.reason});
  }
  out.insert(out.end(), kept_->ingress_rejections.begin(), kept_->ingress_rejections.end());
  kept_->clusters.add_rejections(out);
  out.insert(out.end(), kept_->tls_rejections.begin(), kept_->tls_rejections.end());
  out.insert(out.end(), kept_->gateway.rejections.begin(), kept_->gateway.rejections.end());
  dedupe(out);
  return out;
}

Translation Translator::endpoints_changed(const Store& store, const StoreChanges& changes) {
  Translation out;
  out.endpoints_only = true;
  out.changed_hosts.emplace();
  kept_->clusters.rebuild(store, changes.services, kept_->table.clusters, out.changed_clusters);
  settle_changed_clusters(out);
  out.table = kept_->table;
  out.rejections = rejections(store);
  out.served_ingresses = kept_->served_ingresses;
  out.gateway_status = kept_->gateway.status;
  return out;
}

Translation Translator::merge(const Store& store, const StoreChanges* changes, const TlsHistory& tls,
                              const std::optional<Scope>& scope) {
  if (!kept_) kept_.emplace();
  Kept& kept = *kept_;
  ClusterBuilder clusters(store, kept.clusters, changes);
  // Forget what the Ingresses merged again made before.
  auto forget = [&](const ObjectKey& key) {
    auto it = kept.ingresses.find(key);
    if (it == kept.ingresses.end()) return;
    clusters.forget_uses(key, it->second.slots);
    for (const std::string& host : it->second.hosts) {
      auto sharing = kept.by_host.find(host);
      sharing->second.erase(key);
      if (sharing->second.empty()) kept.by_host.erase(sharing);
    }
    kept.ingresses.erase(it);
  };
  std::vector<const Ingress*> ours;
  auto consider = [&](const ObjectKey& key, const Ingress& ingress) {
    if (!in_watched_namespace(key.namespace_name, options_)) return;
    if (!is_our_ingress(ingress, store, options_)) {
      spdlog::debug("translator: Ingress {} belongs to another class; skipped", key.to_string());
      return;
    }
    ours.push_back(&ingress);
  };
  if (scope) {
    for (const ObjectKey& key : scope->ingresses) {
      forget(key);
      if (auto it = store.ingresses().find(key); it != store.ingresses().end()) consider(key, it->second);
    }
  } else {
    clusters.forget_all_uses();
    kept.ingresses.clear();
    kept.by_host.clear();
    for (const auto& [key, ingress] : store.ingresses()) consider(key, ingress);
  }
  std::sort(ours.begin(), ours.end(), older);

  IngressMerger merger(clusters);
  std::vector<std::pair<const Ingress*, IngressOptions>> canaries;
  std::set<ObjectKey> refused;  // routed nothing, serve no certificate
  std::map<ObjectKey, IngressTlsOptions> tls_options;  // kept with each merged Ingress for translate_tls
  for (const Ingress* ingress : ours) {
    IngressOptions options = read_annotations(ingress->metadata, options_.annotations);
    if (options.refused()) {
      merger.refuse(*ingress, options);
      refused.insert(ingress->metadata.key());
      continue;
    }
    tls_options[ingress->metadata.key()] = tls_options_of(ingress->metadata, options);
    if (options.canary) {
      canaries.emplace_back(ingress, std::move(options));
    } else {
      merger.add(*ingress, options);
    }
  }
  // After every main Ingress, so a canary finds its route whatever its age.
  for (const auto& [ingress, options] : canaries) merger.add_canary(*ingress, options);

  // What each merged Ingress reaches, for the next scope.
  std::map<ObjectKey, MergedIngress> merged = merger.take_merged();
  for (const Ingress* ingress : ours) {
    MergedIngress& entry = merged[ingress->metadata.key()];
    entry.age = IngressAge::of(ingress->metadata);
    entry.hosts = hosts_of(*ingress);
    entry.default_backend = ingress->default_backend.has_value();
    entry.tls = !ingress->tls.empty() && !refused.count(ingress->metadata.key());
    entry.tls_options = tls_options[ingress->metadata.key()];  // a refused Ingress's: none
  }
  for (auto& [key, entry] : merged) {
    for (const std::string& host : entry.hosts) kept.by_host[host].insert(key);
    kept.ingresses.insert_or_assign(key, std::move(entry));
  }

  // Certificates come from every Ingress of ours with spec.tls, oldest first;
  // the redirects they set mark the routes merged now (the others keep theirs).
  // Client certificates (auth-tls) are asked per host, spec.tls or not.
  std::vector<TlsIngress> with_tls;
  for (const auto& [key, entry] : kept.ingresses) {
    if (!entry.tls && entry.tls_options.client_cert == ClientCertMode::kOff) continue;
    if (auto it = store.ingresses().find(key); it != store.ingresses().end()) {
      with_tls.push_back({&it->second, entry.tls_options});
    }
  }
  std::sort(with_tls.begin(), with_tls.end(),
            [](const TlsIngress& a, const TlsIngress& b) { return older(a.ingress, b.ingress); });
  TlsSettings tls_settings;
  kept.tls_rejections.clear();
  translate_tls(
      store, with_tls, options_.tls, tls, tls_settings,
      [&](const ObjectMeta& meta, const std::string& host) { merger.mark_redirect(meta, host); },
      kept.tls_rejections);

  // Gateway API routes join the hosts: all of them again on a full merge,
  // else those of the hosts this merge rebuilds.
  if (!scope) {
    CertificateChecks own_checks;
    kept.gateway_tls = TlsSettings{};
    kept.gateway = translate_gateways(store, options_.gateway, options_.watch_namespace, clusters,
                                      tls.checks ? *tls.checks : own_checks, kept.gateway_tls);
    for (const auto& [host, routes] : kept.gateway.routes_by_host) merger.add_routes(host, routes);
  } else {
    for (const std::string& host : scope->hosts) {
      auto it = kept.gateway.routes_by_host.find(host);
      if (it != kept.gateway.routes_by_host.end()) merger.add_routes(host, it->second);
    }
  }
  // Listener certificates serve the hosts no Ingress has one for.
  for (const auto& [host, certificate] : kept.gateway_tls.certificates) tls_settings.certificates.emplace(host, certificate);
  if (!tls_settings.default_certificate) tls_settings.default_certificate = kept.gateway_tls.default_certificate;

  Translation out;
  out.ingresses_merged = ours.size();
  RouteTable table;
  if (scope) {
    table = kept.table;  // shares every host outside the scope
    out.changed_hosts.emplace();
    for (const std::string& host : scope->hosts) {
      size_t before = out.hosts_changed;
      merger.place_host(host, table, &kept.table, out.hosts_changed);
      if (out.hosts_changed != before) out.changed_hosts->push_back(host);
    }
  } else {
    for (const std::string& host : merger.built_hosts()) merger.place_host(host, table, &kept.table, out.hosts_changed);
    // Hosts that went count as changed; not one changed: the previous maps themselves.
    auto count_gone = [&](const VirtualHosts& before, const VirtualHosts& now) {
      for (const auto& [host, _] : before) out.hosts_changed += now.count(host) ? 0 : 1;
    };
    count_gone(kept.table.exact_hosts, table.exact_hosts);
    count_gone(kept.table.wildcard_hosts, table.wildcard_hosts);
    if (kept.table.any_host && !table.any_host) ++out.hosts_changed;
    if (out.hosts_changed == 0) {
      table.exact_hosts = kept.table.exact_hosts;
      table.wildcard_hosts = kept.table.wildcard_hosts;
    }
    table.default_route = merger.take_default_route();
  }
  table.tls = std::move(tls_settings);
  table.clusters = kept.table.clusters;
  clusters.finish(table.clusters, out.changed_clusters);
  settle_changed_clusters(out);

  // The same Ingresses served as before: the same list; else the list with
  // the scope's comings and goings (sorted, as kept.ingresses is).
  if (scope) {
    std::shared_ptr<std::vector<ObjectKey>> served;
    for (const ObjectKey& key : scope->ingresses) {
      const std::vector<ObjectKey>& now = served ? *served : *kept.served_ingresses;
      auto at = std::lower_bound(now.begin(), now.end(), key);
      bool listed = at != now.end() && *at == key;
      if (listed == (kept.ingresses.count(key) > 0)) continue;
      if (!served) served = std::make_shared<std::vector<ObjectKey>>(*kept.served_ingresses);
      auto place = std::lower_bound(served->begin(), served->end(), key);
      if (listed) {
        served->erase(place);
      } else {
        served->insert(place, key);
      }
    }
    if (served) kept.served_ingresses = std::move(served);
  } else {
    auto served = std::make_shared<std::vector<ObjectKey>>();
    served->reserve(kept.ingresses.size());
    for (const auto& [key, _] : kept.ingresses) served->push_back(key);
    if (*served != *kept.served_ingresses) kept.served_ingresses = std::move(served);
  }

  std::vector<const MergedIngress*> rejected;
  for (const auto& [_, entry] : kept.ingresses) {
    if (!entry.rejections.empty()) rejected.push_back(&entry);
  }
  std::sort(rejected.begin(), rejected.end(), [](const MergedIngress* a, const MergedIngress* b) { return a->age < b->age; });
  kept.ingress_rejections.clear();
  for (const MergedIngress* entry : rejected) {
    kept.ingress_rejections.insert(kept.ingress_rejections.end(), entry->rejections.begin(), entry->rejections.end());
  }

  kept.table = table;
  out.table = std::move(table);
  out.rejections = rejections(store);
  out.served_ingresses = kept.served_ingresses;
  out.gateway_status = kept.gateway.status;
  return out;
}

}  // namespace grpc_ingress
