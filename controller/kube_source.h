#pragma once

#include "common/metrics.h"
#include "controller/kube_api.h"
#include "controller/kube_client.h"
#include "controller/kube_informer.h"
#include "controller/translate/store.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <set>

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
  // Read the Gateway API kinds where their CRDs are installed (--gateway-api=auto).
  bool gateway_api = true;
  // How often the API's discovery is asked again whether the CRDs came (or went).
  std::chrono::milliseconds gateway_discovery_interval{30'000};
};

// The Kubernetes API as a source: one Informer per kind the translator reads
// (Ingress, IngressClass, Service, EndpointSlice, TLS Secret, Namespace),
// each feeding the store. The Gateway API kinds are read where the API
// serves them: discovery (GET /apis/gateway.networking.k8s.io/VERSION) says
// which, at start and again every interval, so CRDs installed later are
// picked up without a restart; a kind not served counts as listed and empty.
// The store is synced once every kind has been listed; after that, API
// trouble only delays changes: the store keeps what it had, so routing stays
// as it was.
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

  // Gateway API kinds the API serves now; false until the first discovery.
  bool gateway_api_served(ObjectKind kind) const { return gateway_informers_.count(kind) > 0; }

 private:
  std::shared_ptr<Informer> make_informer(ResourceType resource);
  void discover_gateway_api();
  // `served`: group-version path -> resource plurals its discovery lists (absent: 404).
  void apply_discovery(const std::map<std::string, std::set<std::string>>& served);
  void schedule_discovery(std::chrono::milliseconds delay);

  boost::asio::io_context& io_;
  KubeApi& api_;
  Store& store_;
  const KubeSourceOptions options_;
  std::shared_ptr<RestartCounts> restarts_;  // shared with informers, which may outlive a stop
  std::vector<std::shared_ptr<Informer>> informers_;
  std::map<ObjectKind, std::shared_ptr<Informer>> gateway_informers_;
  bool gateway_absent_logged_ = false;
  bool discovered_ = false;
  boost::asio::steady_timer discovery_timer_;
  // Callbacks of discovery requests hold it weakly: none runs after stop().
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// grpc_ingress_kube_requests_total, grpc_ingress_kube_watch_restarts_total and
// grpc_ingress_kube_watch_open: the API source's health on /metrics.
void write_kube_metrics(MetricsWriter& out, const KubeClient& client, const KubeSource& source);

}  // namespace grpc_ingress
