#include "controller/translator.h"

#include "controller/cluster_builder.h"
#include "controller/k8s_names.h"

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
// Ours first; ingress-nginx's has the same meaning, so its Ingresses work unchanged.
constexpr const char* kLoadBalanceAnnotations[] = {"grpc-ingress.io/load-balance",
                                                   "nginx.ingress.kubernetes.io/load-balance"};

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

std::string lower_case(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
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
  IngressMerger(const Store& store, std::vector<Rejection>& rejections)
      : rejections_(rejections), clusters_(store, rejections) {}

  void add(const Ingress& ingress) {
    const ObjectMeta& meta = ingress.metadata;
    BalancePolicy policy = load_balance_policy(meta);
    if (ingress.default_backend) add_default_backend(meta, *ingress.default_backend, policy);
    for (size_t r = 0; r < ingress.rules.size(); ++r) {
      const IngressRule& rule = ingress.rules[r];
      std::string where = "rules[" + std::to_string(r) + "]";
      std::string host = lower_case(rule.host);
      if (!host.empty()) {
        if (auto problem = host_problem(host)) {
          reject(meta, where + ": host '" + rule.host + "': " + *problem + "; rule skipped");
          continue;
        }
      }
      for (size_t p = 0; p < rule.paths.size(); ++p) {
        add_path(meta, host, rule.paths[p], where + ".paths[" + std::to_string(p) + "]", policy);
      }
    }
  }

  RouteTable take_table() {
    table_.clusters = clusters_.take_clusters();
    table_.sort_routes();
    return std::move(table_);
  }

 private:
  using ClaimKey = std::tuple<std::string, PathType, std::string>;  // host, type, path

  void add_path(const ObjectMeta& meta, const std::string& host, const IngressPath& path,
                const std::string& where, const BalancePolicy& policy) {
    NormalizedPath normalized = normalize_path(path);
    if (!normalized.problem.empty()) {
      reject(meta, where + ": " + normalized.problem + "; path skipped");
      return;
    }
    if (auto problem = backend_problem(path.backend)) {
      reject(meta, where + ": " + *problem + "; path skipped");
      return;
    }
    ClaimKey claim{host, normalized.type, normalized.path};
    auto [owner, inserted] = claims_.emplace(claim, meta.key());
    if (!inserted) {
      std::string by = owner->second == meta.key() ? "an earlier path of this Ingress"
                                                    : "the older Ingress " + owner->second.to_string();
      reject(meta, where + ": " + std::string(path_type_name(normalized.type)) + " path " +
                       normalized.path + " on host '" + (host.empty() ? "*" : host) +
                       "' is already routed by " + by + "; path skipped");
      return;
    }
    uint32_t cluster = clusters_.cluster_for(meta, path.backend.service_name,
                                             path.backend.service_port, policy);
    Route route{normalized.type, normalized.path, cluster, meta.namespace_name, meta.name};
    vhost_for(host).routes.push_back(std::move(route));
  }

  void add_default_backend(const ObjectMeta& meta, const IngressBackend& backend,
                           const BalancePolicy& policy) {
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
        clusters_.cluster_for(meta, backend.service_name, backend.service_port, policy);
    table_.default_route = Route{PathType::kPrefix, "/", cluster, meta.namespace_name, meta.name};
  }

  VirtualHost& vhost_for(const std::string& host) {
    if (host.empty()) return table_.any_host;
    auto& hosts = host.starts_with("*.") ? table_.wildcard_hosts : table_.exact_hosts;
    VirtualHost& vhost = hosts[host];
    vhost.host = host;
    return vhost;
  }

  // grpc-ingress.io/load-balance (or ingress-nginx's load-balance) names the
  // policy; grpc-ingress.io/hash-by (or ingress-nginx's upstream-hash-by with
  // $http_<header>) picks ring_hash on a request header.
  BalancePolicy load_balance_policy(const ObjectMeta& meta) {
    BalancePolicy result;
    static const std::map<std::string, LoadBalancePolicy> kPolicies = {
        {"least_request", LoadBalancePolicy::kLeastRequest},
        {"round_robin", LoadBalancePolicy::kRoundRobin},
        {"ewma", LoadBalancePolicy::kEwma},
        {"ring_hash", LoadBalancePolicy::kRingHash}};
    for (const char* annotation : kLoadBalanceAnnotations) {
      auto it = meta.annotations.find(annotation);
      if (it == meta.annotations.end()) continue;
      auto known = kPolicies.find(it->second);
      if (known == kPolicies.end()) {
        reject(meta, std::string("annotation ") + annotation + ": '" + it->second +
                         "' is not a known policy (least_request, round_robin, ewma, ring_hash); "
                         "using least_request");
      } else {
        result.policy = known->second;
      }
      break;
    }
    std::string header;
    if (auto it = meta.annotations.find("grpc-ingress.io/hash-by"); it != meta.annotations.end()) {
      header = lower_case(it->second);
    } else if (auto it = meta.annotations.find("nginx.ingress.kubernetes.io/upstream-hash-by");
               it != meta.annotations.end()) {
      // nginx names a request header as $http_<name with '_' for '-'>.
      if (it->second.starts_with("$http_") && it->second.size() > 6) {
        header = lower_case(it->second.substr(6));
        std::replace(header.begin(), header.end(), '_', '-');
      } else {
        reject(meta, "annotation nginx.ingress.kubernetes.io/upstream-hash-by: '" + it->second +
                         "' is not supported (only $http_<header>); not hashing");
      }
    }
    if (!header.empty()) {
      bool valid = std::all_of(header.begin(), header.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      });
      if (!valid) {
        reject(meta, "hash-by header '" + header + "' is not a valid header name; not hashing");
      } else if (result.policy != LoadBalancePolicy::kLeastRequest &&
                 result.policy != LoadBalancePolicy::kRingHash) {
        reject(meta, std::string("hash-by conflicts with load-balance ") + to_string(result.policy) +
                         "; using " + to_string(result.policy));
      } else {
        result.policy = LoadBalancePolicy::kRingHash;
        result.hash_header = header;
      }
    }
    if (result.policy == LoadBalancePolicy::kRingHash && result.hash_header.empty()) {
      reject(meta, "load-balance ring_hash needs grpc-ingress.io/hash-by: <header>; using least_request");
      result.policy = LoadBalancePolicy::kLeastRequest;
    }
    return result;
  }

  void reject(const ObjectMeta& meta, std::string reason) {
    rejections_.push_back({"Ingress", meta.namespace_name, meta.name, std::move(reason)});
  }

  std::vector<Rejection>& rejections_;
  ClusterBuilder clusters_;
  RouteTable table_;
  std::map<ClaimKey, ObjectKey> claims_;
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

Translation translate(const Store& store, const TranslatorOptions& options) {
  Translation out;
  for (const auto& [key, invalid] : store.invalid_objects()) {
    if (!in_watched_namespace(key.second.namespace_name, options)) continue;
    out.rejections.push_back({std::string(kind_name(invalid.kind)), invalid.key.namespace_name,
                              invalid.key.name, invalid.reason});
  }

  std::vector<const Ingress*> ours;
  for (const auto& [key, ingress] : store.ingresses()) {
    if (!in_watched_namespace(key.namespace_name, options)) continue;
    if (!is_our_ingress(ingress, store, options)) {
      spdlog::debug("translator: Ingress {} belongs to another class; skipped", key.to_string());
      continue;
    }
    ours.push_back(&ingress);
  }
  std::sort(ours.begin(), ours.end(), [](const Ingress* a, const Ingress* b) {
    return std::tie(a->metadata.creation_timestamp, a->metadata.namespace_name, a->metadata.name) <
           std::tie(b->metadata.creation_timestamp, b->metadata.namespace_name, b->metadata.name);
  });

  IngressMerger merger(store, out.rejections);
  for (const Ingress* ingress : ours) merger.add(*ingress);
  out.table = merger.take_table();
  dedupe(out.rejections);
  return out;
}

}  // namespace grpc_ingress
