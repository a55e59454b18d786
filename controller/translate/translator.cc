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
  IngressMerger(const Store& store, std::vector<Rejection>& rejections, const BuiltClusters* previous,
                const StoreChanges* changes)
      : rejections_(rejections), clusters_(store, previous, changes) {}

  // A main (not canary) Ingress: its rules claim host + path.
  void add(const Ingress& ingress, const IngressOptions& options) {
    const ObjectMeta& meta = ingress.metadata;
    for (const std::string& problem : options.problems) reject(meta, problem);
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
      canary.cluster = clusters_.cluster_for(meta, path.backend.service_name, path.backend.service_port,
                                             options.cluster);
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

  // The table, sharing each host route set equal to `previous`'s (counted
  // in `hosts_changed` when not), and the clusters built.
  RouteTable take_table(const RouteTable* previous, BuiltClusters& built, size_t& hosts_changed) {
    RouteTable table;
    built = clusters_.finish(table.clusters);
    auto share = [&](VirtualHost& vhost, const VirtualHostPtr* before) -> VirtualHostPtr {
      vhost.sort_routes();
      if (before && *before && **before == vhost) return *before;
      ++hosts_changed;
      return std::make_shared<const VirtualHost>(std::move(vhost));
    };
    auto share_all = [&](std::map<std::string, VirtualHost>& hosts, VirtualHosts& out, const VirtualHosts* before) {
      size_t changed_before = hosts_changed;
      for (auto& [name, vhost] : hosts) {
        const VirtualHostPtr* had = nullptr;
        if (before) {
          if (auto it = before->find(name); it != before->end()) had = &it->second;
        }
        out[name] = share(vhost, had);
      }
      // Not one host changed, came or went: the previous map itself.
      if (before && hosts_changed == changed_before && out.size() == before->size()) out = *before;
    };
    share_all(exact_hosts_, table.exact_hosts, previous ? &previous->exact_hosts : nullptr);
    share_all(wildcard_hosts_, table.wildcard_hosts, previous ? &previous->wildcard_hosts : nullptr);
    if (any_host_) table.any_host = share(*any_host_, previous ? &previous->any_host : nullptr);
    table.default_route = std::move(default_route_);
    return table;
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
    uint32_t cluster = clusters_.cluster_for(meta, path.backend.service_name,
                                             path.backend.service_port, options.cluster);
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
    uint32_t cluster =
        clusters_.cluster_for(meta, backend.service_name, backend.service_port, options.cluster);
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
    rejections_.push_back({"Ingress", meta.namespace_name, meta.name, std::move(reason)});
  }

  std::vector<Rejection>& rejections_;
  ClusterBuilder clusters_;
  // The routes while they are built; shared once done (take_table).
  std::map<std::string, VirtualHost> exact_hosts_;
  std::map<std::string, VirtualHost> wildcard_hosts_;
  std::optional<VirtualHost> any_host_;
  std::optional<Route> default_route_;
  std::map<ClaimKey, ObjectKey> claims_;
  // Where each claimed path's route is, for canaries (map nodes do not move).
  std::map<ClaimKey, std::pair<VirtualHost*, size_t>> routes_by_claim_;
  std::optional<ObjectKey> default_owner_;
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

}  // namespace

Translation translate(const Store& store, const TranslatorOptions& options, const TlsHistory& tls) {
  return Translator(options).translate(store, StoreChanges{.everything = true}, tls);
}

Translation Translator::translate(const Store& store, const StoreChanges& changes, const TlsHistory& tls) {
  if (kept_ && changes.endpoints_only()) return endpoints_changed(store, changes);
  return full(store, kept_ ? &changes : nullptr, tls);
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
  dedupe(out);
  return out;
}

Translation Translator::endpoints_changed(const Store& store, const StoreChanges& changes) {
  Translation out;
  out.endpoints_only = true;
  out.clusters_changed = kept_->clusters.rebuild(store, changes.services, kept_->table.clusters);
  out.table = kept_->table;
  out.rejections = rejections(store);
  out.served_ingresses = kept_->served_ingresses;
  return out;
}

Translation Translator::full(const Store& store, const StoreChanges* changes, const TlsHistory& tls) {
  Kept next;
  auto served = std::make_shared<std::vector<ObjectKey>>();
  std::vector<const Ingress*> ours;
  for (const auto& [key, ingress] : store.ingresses()) {
    if (!in_watched_namespace(key.namespace_name, options_)) continue;
    if (!is_our_ingress(ingress, store, options_)) {
      spdlog::debug("translator: Ingress {} belongs to another class; skipped", key.to_string());
      continue;
    }
    ours.push_back(&ingress);
    served->push_back(key);
  }
  std::sort(ours.begin(), ours.end(), [](const Ingress* a, const Ingress* b) {
    return std::tie(a->metadata.creation_timestamp, a->metadata.namespace_name, a->metadata.name) <
           std::tie(b->metadata.creation_timestamp, b->metadata.namespace_name, b->metadata.name);
  });

  IngressMerger merger(store, next.ingress_rejections, kept_ ? &kept_->clusters : nullptr, changes);
  std::vector<std::pair<const Ingress*, IngressOptions>> canaries;
  for (const Ingress* ingress : ours) {
    IngressOptions options = read_annotations(ingress->metadata);
    if (options.canary) {
      canaries.emplace_back(ingress, std::move(options));
    } else {
      merger.add(*ingress, options);
    }
  }
  // After every main Ingress, so a canary finds its route whatever its age.
  for (const auto& [ingress, options] : canaries) merger.add_canary(*ingress, options);
  TlsSettings tls_settings;
  translate_tls(
      store, ours, options_.tls, tls, tls_settings,
      [&](const ObjectMeta& meta, const std::string& host) { merger.mark_redirect(meta, host); },
      next.tls_rejections);

  // The same Ingresses as before: the same list.
  if (kept_ && *kept_->served_ingresses == *served) {
    next.served_ingresses = kept_->served_ingresses;
  } else {
    next.served_ingresses = std::move(served);
  }
  Translation out;
  next.table = merger.take_table(kept_ ? &kept_->table : nullptr, next.clusters, out.hosts_changed);
  next.table.tls = std::move(tls_settings);
  for (uint32_t slot = 0; slot < next.table.clusters.size(); ++slot) {
    const ClusterPtr& cluster = next.table.clusters[slot];
    bool kept = kept_ && slot < kept_->table.clusters.size() && kept_->table.clusters[slot] == cluster;
    if (cluster && !kept) ++out.clusters_changed;
  }
  kept_ = std::move(next);
  out.table = kept_->table;
  out.rejections = rejections(store);
  out.served_ingresses = kept_->served_ingresses;
  return out;
}

}  // namespace grpc_ingress
