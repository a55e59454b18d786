#pragma once

#include "common/route_table.h"
#include "dataplane/proxy_stream.h"
#include "dataplane/stats.h"
#include "dataplane/upstream/load_balancer.h"
#include "dataplane/upstream/upstream_pool.h"

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <unordered_map>

namespace grpc_ingress {

// Routes each request (authority + path) to a cluster, balances it over the
// cluster's endpoints and hands it to an upstream connection; retries a pod
// that never saw the request on another pod. One per worker; worker thread only.
class Router {
 public:
  static constexpr int kMaxAttempts = 3;  // pods tried per request before UNAVAILABLE

  // `stats` (the worker's) must outlive the router.
  Router(boost::asio::io_context& io, UpstreamPool& pool, WorkerStats& stats,
         std::chrono::milliseconds stream_idle_timeout, uint64_t seed);

  // Installs a new snapshot; balancer state of clusters that stay is kept.
  void set_table(std::shared_ptr<const RouteTable> table);
  const std::shared_ptr<const RouteTable>& table() const { return table_; }

  // The request headers are complete: route, balance, forward.
  void dispatch(const std::shared_ptr<ProxyStream>& stream);

  // An upstream could not serve `stream`; `retryable`: the pod never saw it.
  void upstream_failed(const std::shared_ptr<ProxyStream>& stream, const std::string& reason,
                       bool retryable);

 private:
  void forward(const std::shared_ptr<ProxyStream>& stream, const std::string& last_failure);
  void start_deadline(const std::shared_ptr<ProxyStream>& stream);
  void watch_idle(const std::shared_ptr<ProxyStream>& stream, std::chrono::milliseconds wait);

  boost::asio::io_context& io_;
  UpstreamPool& pool_;
  WorkerStats& stats_;
  std::chrono::milliseconds stream_idle_timeout_;
  uint64_t seed_;
  std::shared_ptr<const RouteTable> table_;
  std::unordered_map<std::string, std::unique_ptr<LoadBalancer>> balancers_;  // by cluster name

  // Stats resolved when the table is applied, so a request only follows pointers.
  RouteStats* unrouted_stats_;
  std::unordered_map<const Route*, RouteStats*> route_stats_;
  std::vector<ClusterStats*> cluster_stats_;                            // by cluster index
  std::vector<std::vector<std::shared_ptr<EndpointStats>>> endpoint_stats_;  // [cluster][endpoint]
};

}  // namespace grpc_ingress
