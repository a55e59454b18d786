#pragma once

#include "common/route_table.h"
#include "dataplane/access_control.h"
#include "dataplane/endpoint_state.h"
#include "dataplane/external_auth.h"
#include "dataplane/forwarded_headers.h"
#include "dataplane/proxy_stream.h"
#include "dataplane/retry_budget.h"
#include "dataplane/stats.h"
#include "dataplane/upstream/load_balancer.h"
#include "dataplane/upstream/upstream_pool.h"

#include <boost/asio/io_context.hpp>

#include <memory>
#include <random>
#include <string>
#include <unordered_map>

namespace grpc_ingress {

// Routes each request (authority + path) to a cluster (or its canary),
// balances it over the endpoints that are healthy, not ejected and below their
// limits, and hands it to an upstream connection. Retries safely: calls a pod
// never saw, and (within the route's retries and the cluster's budget) calls
// that failed with a retry-on status before any response. Feeds outlier
// detection with every outcome. One per worker; worker thread only.
class Router {
 public:
  // Pods tried for a call no pod has seen, whatever the retry policy.
  static constexpr uint32_t kTransparentAttempts = 3;

  // `stats` (the worker's) and `states` (the data plane's) must outlive the router.
  Router(boost::asio::io_context& io, ConnectionSource& pool, WorkerStats& stats, EndpointStates& states,
         std::chrono::milliseconds stream_idle_timeout, uint64_t seed);

  // What this worker resolved for one cluster of the running table. A
  // cluster object that stays in the next table keeps it (the same object).
  struct AppliedCluster {
    std::vector<std::shared_ptr<EndpointStats>> endpoint_stats;  // by endpoint
    std::vector<std::shared_ptr<EndpointState>> states;          // by endpoint
  };

  // Installs a new snapshot in time proportional to what changed: only
  // clusters and hosts that are not the running table's objects are resolved
  // again; balancer state, stats and pod connections of the others stay.
  // `gone_pods` are the pods no cluster of `table` has any more (PodUses):
  // their connections drain.
  void set_table(std::shared_ptr<const RouteTable> table, const std::vector<PodAddress>& gone_pods = {});
  const std::shared_ptr<const RouteTable>& table() const { return table_; }
  const ExternalAuthClient& auth_client() const { return auth_; }
  // What was resolved for the cluster in `slot` of the running table
  // (nullptr: none, or no call since the cluster changed).
  const AppliedCluster* applied_cluster(uint32_t slot) const {
    return applied_ && slot < applied_->clusters.size() ? applied_->clusters[slot].get() : nullptr;
  }

  // The request headers are complete: route, balance, forward.
  void dispatch(const std::shared_ptr<ProxyStream>& stream);
  // Who may name the client (docs/edge-access.md "Client identity"); set before the first request.
  void set_client_identity(ClientIdentityOptions options) { identity_ = std::move(options); }

  // UpstreamHandlers: an upstream could not serve `stream`.
  void upstream_failed(const std::shared_ptr<ProxyStream>& stream, const std::string& reason,
                       UpstreamFailure failure);
  // UpstreamHandlers: the pod answered; false if the answer is retried instead.
  bool upstream_answered(const std::shared_ptr<ProxyStream>& stream);

 private:
  // Balancer and retry budget of one cluster, kept across tables by name.
  struct ClusterState {
    LoadBalancePolicy policy = LoadBalancePolicy::kLeastRequest;
    std::unique_ptr<LoadBalancer> balancer;
    RetryBudget budget;
  };

  // After the access checks (and auth-url's answer): filters, balance, forward.
  void proceed(const std::shared_ptr<ProxyStream>& stream);
  // auth-url: asks the auth service, then proceeds or answers.
  void authorize(const std::shared_ptr<ProxyStream>& stream, const ExternalAuth& auth);
  void auth_answered(const std::shared_ptr<ProxyStream>& stream, const ExternalAuth& auth, AuthAnswer answer);

  // The cluster for this call: the route's, its canary's, or a weighted
  // backend's (kNoCluster: one that cannot be used).
  uint32_t choose_cluster(const ProxyStream& stream);
  void fail_unusable_backend(const std::shared_ptr<ProxyStream>& stream);
  // gRPC-Web into gRPC for the pod, CORS origin and preflight answers; false
  // when the request was answered here.
  bool web_and_cors(const std::shared_ptr<ProxyStream>& stream);
  void answer_health_bridge(const std::shared_ptr<ProxyStream>& stream);
  // Refuses what the cluster's pods cannot speak: gRPC to HTTP/1.1 pods
  // (UNIMPLEMENTED), plain HTTP to gRPC-only ones (415). false when refused.
  bool protocol_fits(const std::shared_ptr<ProxyStream>& stream);
  void forward(const std::shared_ptr<ProxyStream>& stream, const std::string& last_failure);
  // Another attempt for `stream`, begun on the next turn of the loop.
  void retry(const std::shared_ptr<ProxyStream>& stream, std::string reason);
  bool may_retry(ProxyStream& stream, bool transparent);
  // What the balancer may pick from for `stream` (its tried endpoints excluded).
  PickContext pick_context(const ProxyStream& stream);
  bool has_untried_endpoint(const ProxyStream& stream);
  void start_deadline(const std::shared_ptr<ProxyStream>& stream);
  void watch_idle(const std::shared_ptr<ProxyStream>& stream, std::chrono::milliseconds wait);
  void record_outcome(ProxyStream& stream, bool failed);
  // The stats of the routes of a host that changed are looked up again at their next call.
  void forget_routes(const VirtualHost* before);
  RouteStats& route_stats(const Route& route);
  // `stream` began on the table this worker runs, as applied now: the same
  // holder, not only the same snapshot, since its attempts point into it.
  bool on_running_table(const ProxyStream& stream) const {
    return !stream.table.owner_before(table_) && !table_.owner_before(stream.table);
  }
  // The shared endpoint states of `stream`'s cluster, when it routes on the running table.
  const std::vector<std::shared_ptr<EndpointState>>* states_of(const ProxyStream& stream);
  // Per-endpoint stats and shared states of `cluster`, from the maps.
  std::shared_ptr<const AppliedCluster> resolve(const Cluster& cluster);
  // What is resolved for `slot` of the running table; resolved now at its first call.
  const AppliedCluster& resolved(uint32_t slot);

  boost::asio::io_context& io_;
  ConnectionSource& pool_;
  WorkerStats& stats_;
  AccessControl access_{stats_};
  // Its answers call back into this router; it never answers after it is
  // destroyed (with the router), so they may.
  ExternalAuthClient auth_{io_};
  ClientIdentityOptions identity_;
  EndpointStates& endpoint_states_;
  std::chrono::milliseconds stream_idle_timeout_;
  uint64_t seed_;
  std::mt19937_64 random_;
  // The running table as this worker applied it: the snapshot and what was
  // resolved for it. `table_` shares its count, so the count every stream
  // copies is this worker's alone (the snapshot's own is shared by all).
  struct AppliedTable {
    std::shared_ptr<const RouteTable> table;
    std::vector<std::shared_ptr<const AppliedCluster>> clusters;  // by slot
  };
  std::shared_ptr<AppliedTable> applied_;
  std::shared_ptr<const RouteTable> table_;  // applied_->table, counted with applied_
  std::unordered_map<std::string, ClusterState> clusters_;  // by cluster name
  ClusterState stale_cluster_;  // for attempts on a cluster the running table no longer has

  // Stats resolved when the table is applied (routes: at their first call), so
  // a request only follows pointers.
  RouteStats* unrouted_stats_;
  std::unordered_map<const Route*, RouteStats*> route_stats_;
  std::vector<ClusterStats*> cluster_stats_;   // by slot
  std::vector<ClusterState*> cluster_states_;  // by slot
};

}  // namespace grpc_ingress
