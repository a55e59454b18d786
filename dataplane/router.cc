#include "dataplane/router.h"

#include <spdlog/spdlog.h>

#include <unordered_set>

namespace grpc_ingress {

Router::Router(boost::asio::io_context& io, UpstreamPool& pool, WorkerStats& stats,
               std::chrono::milliseconds stream_idle_timeout, uint64_t seed)
    : io_(io),
      pool_(pool),
      stats_(stats),
      stream_idle_timeout_(stream_idle_timeout),
      seed_(seed), unrouted_stats_(stats.route("", "", "")) {}

void Router::set_table(std::shared_ptr<const RouteTable> table) {
  std::unordered_map<std::string, std::unique_ptr<LoadBalancer>> balancers;
  std::unordered_set<std::string> addresses;
  for (const Cluster& cluster : table->clusters) {
    auto it = balancers_.find(cluster.name);
    balancers[cluster.name] = it != balancers_.end()
                                  ? std::move(it->second)
                                  : make_load_balancer(cluster.lb_policy, seed_ + balancers.size());
    for (const Endpoint& endpoint : cluster.endpoints) addresses.insert(endpoint.address());
  }
  balancers_ = std::move(balancers);

  route_stats_.clear();
  auto resolve_routes = [&](const VirtualHost& vhost) {
    for (const Route& route : vhost.routes) {
      route_stats_[&route] =
          stats_.route(route.ingress_namespace, route.ingress_name, table->cluster_of(route).service);
    }
  };
  for (const auto& [_, vhost] : table->exact_hosts) resolve_routes(vhost);
  for (const auto& [_, vhost] : table->wildcard_hosts) resolve_routes(vhost);
  resolve_routes(table->any_host);
  if (table->default_route) {
    const Route& route = *table->default_route;
    route_stats_[&route] =
        stats_.route(route.ingress_namespace, route.ingress_name, table->cluster_of(route).service);
  }
  stats_.retain_endpoints(*table);
  cluster_stats_.clear();
  endpoint_stats_.clear();
  for (const Cluster& cluster : table->clusters) {
    cluster_stats_.push_back(stats_.cluster(cluster));
    auto& per_endpoint = endpoint_stats_.emplace_back();
    for (const Endpoint& endpoint : cluster.endpoints) per_endpoint.push_back(stats_.endpoint(cluster, endpoint));
  }

  table_ = std::move(table);
  pool_.retain_only(addresses);
}

void Router::dispatch(const std::shared_ptr<ProxyStream>& stream) {
  if (!table_) {
    stream->fail(GrpcStatus::kUnavailable, "grpc-ingress has no routing table yet");
    return;
  }
  stream->table = table_;
  stream->route = table_->match(stream->authority, stream->path);
  // find, not operator[]: the request path must not insert into the map.
  auto stats = stream->route ? route_stats_.find(stream->route) : route_stats_.end();
  stream->route_stats = stats != route_stats_.end() ? stats->second : unrouted_stats_;
  if (!stream->route) {
    spdlog::debug("{} no route for host '{}' path '{}'", stream->log_prefix(), stream->authority,
                  stream->path);
    stream->fail(GrpcStatus::kUnimplemented,
                 "no route for host '" + stream->authority + "' path '" + stream->path + "'");
    return;
  }
  start_deadline(stream);
  watch_idle(stream, stream_idle_timeout_);
  forward(stream, "");
}

void Router::watch_idle(const std::shared_ptr<ProxyStream>& stream, std::chrono::milliseconds wait) {
  if (!stream->idle_timer) stream->idle_timer.emplace(io_);
  stream->idle_timer->expires_after(wait);
  std::weak_ptr<ProxyStream> weak = stream;
  stream->idle_timer->async_wait([this, weak](boost::system::error_code ec) {
    auto stream = weak.lock();
    if (ec || !stream || stream->closed) return;
    // One timer per stream, re-armed for the remainder instead of on every frame.
    auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                      stream->last_activity);
    if (idle < stream_idle_timeout_) {
      watch_idle(stream, stream_idle_timeout_ - idle);
      return;
    }
    spdlog::info("{} {} idle for {} ms; ending it", stream->log_prefix(), stream->path, idle.count());
    stream->cancel_upstream();
    stream->fail(GrpcStatus::kUnavailable,
                 "stream idle for " + std::to_string(idle.count()) + " ms (--stream-idle-timeout)");
  });
}

void Router::start_deadline(const std::shared_ptr<ProxyStream>& stream) {
  if (!stream->grpc) return;
  for (const Header& header : stream->request_headers) {
    if (header.name != "grpc-timeout") continue;
    auto timeout = parse_grpc_timeout(header.value);
    if (!timeout) {
      spdlog::debug("{} ignoring malformed grpc-timeout '{}'", stream->log_prefix(), header.value);
      return;
    }
    stream->deadline_timer.emplace(io_);
    stream->deadline_timer->expires_after(*timeout);
    std::weak_ptr<ProxyStream> weak = stream;
    stream->deadline_timer->async_wait([weak](boost::system::error_code ec) {
      auto stream = weak.lock();
      if (ec || !stream || stream->closed) return;
      spdlog::debug("{} deadline exceeded", stream->log_prefix());
      stream->cancel_upstream();
      stream->fail(GrpcStatus::kDeadlineExceeded, "deadline exceeded at grpc-ingress");
    });
    return;
  }
}

void Router::forward(const std::shared_ptr<ProxyStream>& stream, const std::string& last_failure) {
  const Cluster& cluster = stream->table->cluster_of(*stream->route);
  const bool current = stream->table == table_;  // stats are resolved for the running table only
  if (current) stream->cluster_stats = cluster_stats_[stream->route->cluster];
  if (cluster.endpoints.empty()) {
    stream->fail(GrpcStatus::kUnavailable, "no ready endpoints for service " + cluster.name);
    return;
  }
  // A cluster missing from the running table's balancers (the table changed
  // under a retry) gets a fresh balancer for the old snapshot.
  auto& balancer = balancers_[cluster.name];
  if (!balancer) balancer = make_load_balancer(cluster.lb_policy, seed_);
  PickContext context{stream->tried_endpoints};
  if (current) context.stats = &endpoint_stats_[stream->route->cluster];
  if (cluster.lb_policy == LoadBalancePolicy::kRingHash) {
    for (const Header& header : stream->request_headers) {
      if (header.name == cluster.hash_header) {
        context.hash_key = header.value;
        break;
      }
    }
  }
  const Endpoint* endpoint = balancer->pick(cluster, context);
  if (!endpoint) {
    stream->fail(GrpcStatus::kUnavailable, last_failure.empty()
                                               ? "no endpoint left for service " + cluster.name
                                               : last_failure);
    return;
  }
  stream->tried_endpoints.push_back(endpoint->address());
  stream->pod = endpoint->pod;
  stream->endpoint_stats =
      current ? endpoint_stats_[stream->route->cluster][endpoint - cluster.endpoints.data()]
              : stats_.find_endpoint(cluster.name, endpoint->address());
  auto connection = pool_.connection_for(*endpoint);
  if (!connection) {
    stream->fail(GrpcStatus::kUnavailable, "grpc-ingress is shutting down");
    return;
  }
  connection->submit(stream);
}

void Router::upstream_failed(const std::shared_ptr<ProxyStream>& stream, const std::string& reason,
                             bool retryable) {
  if (stream->closed || stream->response_started) return;
  stream->upstream_finished();
  stream->upstream.reset();
  if (retryable && stream->replayable &&
      stream->tried_endpoints.size() < static_cast<size_t>(kMaxAttempts)) {
    spdlog::debug("{} {}; trying another pod", stream->log_prefix(), reason);
    stream->request_body.prepend(stream->request_replay);
    stream->request_replay.clear();
    forward(stream, reason);
    return;
  }
  spdlog::info("{} {} {}: {}", stream->log_prefix(), stream->method, stream->path, reason);
  stream->fail(GrpcStatus::kUnavailable, reason);
}

}  // namespace grpc_ingress
