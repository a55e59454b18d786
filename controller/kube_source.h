#pragma once

#include "common/metrics.h"
#include "controller/kube_api.h"
#include "controller/kube_client.h"
#include "controller/kube_informer.h"
#include "controller/translate/store.h"

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace grpc_ingress {

struct KubeSourceOptions {
  std::string watch_namespace;  // empty: every namespace (IngressClasses are cluster-scoped either way)
  InformerOptions informer{};
};

// The Kubernetes API as a source: one Informer per kind the translator reads
// (Ingress, IngressClass, Service, EndpointSlice, TLS Secret), each feeding
// the store. The store is synced once every kind has been listed; after that,
// API trouble only delays changes: the store keeps what it had, so routing
// stays as it was.
//
// Controller thread only; `api` and `store` must outlive it.
class KubeSource {
 public:
  KubeSource(boost::asio::io_context& io, KubeApi& api, Store& store, KubeSourceOptions options);
  ~KubeSource();
  KubeSource(const KubeSource&) = delete;
  KubeSource& operator=(const KubeSource&) = delete;

  void start();
  // No store change after this returns. Called by the destructor.
  void stop();

  // Watch restarts by (resource, reason), for /metrics.
  using RestartCounts = std::map<std::pair<std::string, std::string>, uint64_t>;
  const RestartCounts& watch_restarts() const { return *restarts_; }
  // Resources ("ingresses", ...) whose watch is open now.
  std::vector<std::pair<std::string, bool>> watching() const;

 private:
  std::shared_ptr<RestartCounts> restarts_;  // shared with informers, which may outlive a stop
  std::vector<std::shared_ptr<Informer>> informers_;
};

// grpc_ingress_kube_requests_total, grpc_ingress_kube_watch_restarts_total and
// grpc_ingress_kube_watch_open: the API source's health on /metrics.
void write_kube_metrics(MetricsWriter& out, const KubeClient& client, const KubeSource& source);

}  // namespace grpc_ingress
