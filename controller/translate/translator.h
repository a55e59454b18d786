#pragma once

#include "common/route_table.h"
#include "controller/translate/annotations.h"
#include "controller/translate/cluster_builder.h"
#include "controller/translate/gateway_status.h"
#include "controller/translate/gateway_translator.h"
#include "controller/translate/rejection.h"
#include "controller/translate/store.h"
#include "controller/translate/tls_translator.h"

#include <memory>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace grpc_ingress {

struct TranslatorOptions {
  std::string ingress_class = "grpc";
  std::string controller_name = "grpc-ingress.io/controller";
  std::string watch_namespace{};  // empty = all
  // Also serve Ingresses that name no class at all (ingress-nginx's flag);
  // else only when our IngressClass is the cluster's default.
  bool watch_ingress_without_class = false;
  TlsTranslatorOptions tls{};     // certificates, default certificate, redirect port
  GatewayTranslatorOptions gateway{};
  AnnotationOptions annotations{};  // unsupported security annotations, limit status
};

struct Translation {
  RouteTable table;  // version 0: the publisher numbers what it publishes
  std::vector<Rejection> rejections;  // in a stable order, without duplicates
  // The Ingresses of our class in the watched namespaces, routed or not, in key
  // order: the ones whose status the leader writes. Shared with the next
  // translations while it does not change.
  std::shared_ptr<const std::vector<ObjectKey>> served_ingresses = std::make_shared<std::vector<ObjectKey>>();
  // The status of the Gateway API objects of our classes (the leader writes
  // it); nullptr when the Gateway API is off.
  std::shared_ptr<const GatewayApiStatus> gateway_status;
  // How much was redone, for the log and the scale benchmark.
  bool endpoints_only = false;  // only the clusters of changed Services or slices were rebuilt
  size_t clusters_changed = 0;  // cluster objects that are not the previous table's
  std::vector<uint32_t> changed_clusters;  // their slots (emptied ones included), sorted
  size_t hosts_changed = 0;     // host route sets that are not the previous table's
  size_t ingresses_merged = 0;  // Ingresses of ours merged again
  // The hosts whose route set changed ("" = host-less rules), when known
  // without a look at every host (not after a full merge).
  std::optional<std::vector<std::string>> changed_hosts;
};

// Store -> RouteTable, by the networking.k8s.io/v1 Ingress rules: class
// selection, host and path matching, merging (the oldest Ingress wins a
// conflict), Service port resolution and endpoint selection. Deterministic:
// the same arguments give the same translation; `tls` carries what it keeps
// from the translations before (the running certificates, remembered checks).
Translation translate(const Store& store, const TranslatorOptions& options, const TlsHistory& tls = {});

// What merging one of our Ingresses made, kept for the next translation.
struct MergedIngress {
  IngressAge age;
  std::set<std::string> hosts;  // the route sets its rules can reach ("" = host-less rules)
  std::vector<uint32_t> slots;  // the clusters it named
  std::vector<Rejection> rejections;
  bool default_backend = false;
  bool tls = false;
  IngressTlsOptions tls_options;  // redirect and client certificates of its hosts
};

// The same translation, made again and again: it keeps what it built, so
// the next redoes only what the store's changes touch. A change of
// EndpointSlices or Services rebuilds the clusters of those Services and
// nothing else. A change of Ingresses merges again only the Ingresses that
// share a host with them (the closure), and rebuilds only their hosts and
// the clusters whose uses changed. Anything else (IngressClasses, Secrets,
// a relist, a default backend) merges every Ingress again, still keeping
// each cluster whose Service, slices and policy did not change. Either way
// the table shares (pointer-equal) every cluster and host route set that is
// equal to the previous one's. Controller thread.
class Translator {
 public:
  explicit Translator(TranslatorOptions options) : options_(std::move(options)) {}

  // `changes`: what changed since the previous call (Store::take_changes).
  Translation translate(const Store& store, const StoreChanges& changes, const TlsHistory& tls = {});

  const TranslatorOptions& options() const { return options_; }

 private:
  // What the last translation built.
  struct Kept {
    RouteTable table;
    BuiltClusters clusters;
    std::map<ObjectKey, MergedIngress> ingresses;          // ours, merged
    std::map<std::string, std::set<ObjectKey>> by_host;  // which of them reach each host
    std::vector<Rejection> ingress_rejections;  // theirs, oldest Ingress first
    std::vector<Rejection> tls_rejections;
    // What the Gateway API objects made at the last full merge; a merge of
    // some Ingresses puts their routes back on the hosts it rebuilds.
    GatewayTranslation gateway;
    TlsSettings gateway_tls;
    std::shared_ptr<const std::vector<ObjectKey>> served_ingresses = std::make_shared<std::vector<ObjectKey>>();
  };
  // The Ingresses to merge again and the hosts they reach; nullopt: all.
  struct Scope {
    std::set<ObjectKey> ingresses;
    std::set<std::string> hosts;
  };

  std::optional<Scope> scope_of(const Store& store, const StoreChanges& changes) const;
  Translation merge(const Store& store, const StoreChanges* changes, const TlsHistory& tls,
                    const std::optional<Scope>& scope);
  Translation endpoints_changed(const Store& store, const StoreChanges& changes);
  // A Service a Gateway API route names came or went: its status changes.
  bool touches_gateway_backends(const StoreChanges& changes) const;
  // The translation's rejections: invalid objects, Ingresses (oldest first), clusters, TLS.
  std::vector<Rejection> rejections(const Store& store) const;

  TranslatorOptions options_;
  std::optional<Kept> kept_;
};

}  // namespace grpc_ingress
