#include "dataplane/router.h"

#include "dataplane/client_certificate_headers.h"
#include "dataplane/route_filters.h"
#include "dataplane/tls_redirect.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <unordered_set>

namespace grpc_ingress {
namespace {

// The value of cookie `name` in the request's cookie headers, or "".
std::string_view find_cookie(const ProxyStream& stream, std::string_view name) {
  for (const Header& header : stream.request_headers) {
    if (header.name != "cookie") continue;
    std::string_view rest = header.value;
    while (!rest.empty()) {
      auto end = rest.find(';');
      std::string_view pair = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      auto eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    }
  }
  return {};
}

// `text` with everything but unreserved characters percent-encoded (a query value).
std::string url_escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<int> grpc_status_of(const HeaderList& headers) {
  for (const Header& header : headers) {
    if (header.name != "grpc-status") continue;
    int status = -1;
    auto [end, ec] = std::from_chars(header.value.data(), header.value.data() + header.value.size(), status);
    if (ec == std::errc()) return status;
  }
  return std::nullopt;
}

}  // namespace

Router::Router(boost::asio::io_context& io, ConnectionSource& pool, WorkerStats& stats, EndpointStates& states,
               std::chrono::milliseconds stream_idle_timeout, uint64_t seed)
    : io_(io),
      pool_(pool),
      stats_(stats),
      endpoint_states_(states),
      stream_idle_timeout_(stream_idle_timeout),
      seed_(seed),
      random_(seed),
      unrouted_stats_(stats.route("", "", "")) {}

void Router::set_table(std::shared_ptr<const RouteTable> table, const std::vector<PodAddress>& gone_pods) {
  const RouteTable* before = applied_ ? applied_->table.get() : nullptr;
  ClusterDiff diff = diff_clusters(before, *table);
  auto applied = std::make_shared<AppliedTable>();
  if (applied_) applied->clusters = applied_->clusters;
  applied->clusters.resize(table->clusters.size());
  cluster_stats_.resize(table->clusters.size(), nullptr);
  cluster_states_.resize(table->clusters.size(), nullptr);

  for (uint32_t slot : diff.emptied) {
    if (slot < applied->clusters.size()) {
      applied->clusters[slot] = nullptr;
      cluster_stats_[slot] = nullptr;
      cluster_states_[slot] = nullptr;
    }
  }
  for (uint32_t slot : diff.changed) {
    const Cluster& cluster = *table->clusters[slot];
    ClusterState& state = clusters_[cluster.name];
    if (!state.balancer || state.policy != cluster.lb_policy) {
      state.policy = cluster.lb_policy;
      state.balancer = make_load_balancer(cluster.lb_policy, seed_ + slot);
    }
    // A cluster this worker had calls for is resolved now; one it never
    // served waits for its first call (resolved()): in a large table most
    // clusters see no call on a given worker, and then cost it nothing.
    bool in_use = applied->clusters[slot] != nullptr;
    applied->clusters[slot] = in_use ? resolve(cluster) : nullptr;
    cluster_stats_[slot] = stats_.cluster(cluster);
    cluster_states_[slot] = &state;
  }
  for (const std::string& name : diff.gone) {
    clusters_.erase(name);
    stats_.forget_endpoints(name);
  }
  for_each_changed_host(before, *table,
                        [&](const VirtualHost* old_host, const VirtualHost*) { forget_routes(old_host); });
  // The default route is a value of its table: looked up again with every table.
  if (before && before->default_route) route_stats_.erase(&*before->default_route);

  applied->table = std::move(table);
  table_ = std::shared_ptr<const RouteTable>(applied, applied->table.get());
  applied_ = std::move(applied);
  pool_.forget_pods(gone_pods);
}

std::shared_ptr<const Router::AppliedCluster> Router::resolve(const Cluster& cluster) {
  auto resolved = std::make_shared<AppliedCluster>();
  resolved->endpoint_stats = stats_.endpoints(cluster);
  resolved->states = endpoint_states_.resolve(cluster);
  return resolved;
}

const Router::AppliedCluster& Router::resolved(uint32_t slot) {
  auto& applied = applied_->clusters[slot];
  if (!applied) applied = resolve(*applied_->table->clusters[slot]);
  return *applied;
}

void Router::forget_routes(const VirtualHost* before) {
  if (before) {
    for (const Route& route : before->routes) route_stats_.erase(&route);
  }
}

RouteStats& Router::route_stats(const Route& route) {
  auto it = route_stats_.find(&route);
  if (it != route_stats_.end()) return *it->second;
  // The route's first call on this worker since its host changed; most routes
  // of a large table never get one here, and then cost this worker nothing.
  const std::string& service = route.cluster == kNoCluster ? route.ingress_name : table_->cluster_of(route).service;
  RouteStats* stats = stats_.route(route.ingress_namespace, route.ingress_name, service);
  route_stats_.emplace(&route, stats);
  return *stats;
}

void Router::dispatch(const std::shared_ptr<ProxyStream>& stream) {
  if (!table_) {
    stream->fail(GrpcStatus::kUnavailable, "grpc-ingress has no routing table yet");
    return;
  }
  apply_client_identity(*stream, identity_);  // before access control judges the client
  stream->table = table_;
  stream->route = table_->match(
      {.authority = stream->authority, .path = stream->path, .method = stream->method, .tls = stream->downstream_tls},
      stream->request_headers);
  stream->route_stats = stream->route ? &route_stats(*stream->route) : unrouted_stats_;
  if (!stream->route) {
    spdlog::debug("{} no route for host '{}' path '{}'", stream->log_prefix(), stream->authority,
                  stream->path);
    stream->fail(GrpcStatus::kUnimplemented,
                 fmt::format("no route for host '{}' path '{}'", stream->authority, stream->path));
    return;
  }
  if (!web_and_cors(stream)) return;
  if (stream->route->health_bridge) {
    answer_health_bridge(stream);
    return;
  }
  if (stream->route->ssl_redirect && !stream->downstream_tls) {
    answer_tls_redirect(*stream, table_->tls.redirect_port, stats_);
    return;
  }
  // Before auth-url: its service sees our ssl-client-* headers, never a client's.
  set_client_certificate_headers(*stream);
  if (const AccessPolicy* access = stream->route->access.value.get()) {
    if (!access_.admit(*stream, *access)) return;
    if (access->external_auth) {
      authorize(stream, *access->external_auth);
      return;
    }
  }
  proceed(stream);
}

void Router::authorize(const std::shared_ptr<ProxyStream>& stream, const ExternalAuth& auth) {
  // Only the auth service may set these for the pod: a client's own copies go.
  for (const std::string& name : auth.response_headers) stream->request_headers.remove(name);
  // `auth` lives in the stream's table, which the stream holds; the stream may
  // end (or the table change) before the answer: it is then dropped.
  std::weak_ptr<ProxyStream> weak = stream;
  auth_.check(*stream, auth, [this, weak, &auth](AuthAnswer answer) {
    auto stream = weak.lock();
    if (!stream || stream->closed || stream->response_started || stream->response.ended) return;
    auth_answered(stream, auth, std::move(answer));
  });
}

void Router::auth_answered(const std::shared_ptr<ProxyStream>& stream, const ExternalAuth& auth, AuthAnswer answer) {
  switch (answer.kind) {
    case AuthAnswer::Kind::kAllowed:
      spdlog::debug("{} auth-url {} allowed {} {}{}", stream->log_prefix(), auth.url, stream->method, stream->path,
                    answer.cached ? " (cached)" : "");
      for (const Header& header : answer.upstream_headers) stream->request_headers.remove(header.name);
      for (const Header& header : answer.upstream_headers) stream->request_headers.push_back(header);
      proceed(stream);
      return;
    case AuthAnswer::Kind::kUnauthenticated: {
      bump(stats_.access_refused[kRefusedExternalAuth]);
      spdlog::debug("{} auth-url {} refused {} {}: 401{}", stream->log_prefix(), auth.url, stream->method,
                    stream->path, answer.cached ? " (cached)" : "");
      if (stream->grpc) {
        stream->fail(GrpcStatus::kUnauthenticated, "the auth service (auth-url) answered 401 Unauthorized");
        return;
      }
      if (!auth.signin.empty()) {  // as ingress-nginx: to the sign-in page, back here after
        std::string location = auth.signin;
        if (location.find("rd=") == std::string::npos) {
          location += location.find('?') == std::string::npos ? "?rd=" : "&rd=";
          location += url_escape(ExternalAuthClient::original_url(*stream));
        }
        stream->respond(302, "sign in at " + location + "\n", {{"location", location}});
        return;
      }
      HeaderList headers;
      if (!answer.www_authenticate.empty()) headers.push_back({"www-authenticate", answer.www_authenticate});
      stream->respond(401, "401 Unauthorized (auth-url)\n", std::move(headers));
      return;
    }
    case AuthAnswer::Kind::kForbidden:
      bump(stats_.access_refused[kRefusedExternalAuth]);
      spdlog::debug("{} auth-url {} refused {} {}: 403{}", stream->log_prefix(), auth.url, stream->method,
                    stream->path, answer.cached ? " (cached)" : "");
      stream->fail(GrpcStatus::kPermissionDenied, "the auth service (auth-url) answered 403 Forbidden", 403);
      return;
    case AuthAnswer::Kind::kFailed:
      break;
  }
  // Fail closed, as ingress-nginx (500); the worker logs the cause at warn, rate-limited.
  bump(stats_.access_refused[kRefusedAuthFailure]);
  spdlog::debug("{} auth-url {} could not decide {} {}: {}", stream->log_prefix(), auth.url, stream->method,
                stream->path, answer.failure);
  stream->fail(GrpcStatus::kUnavailable, "external authorization failed: auth-url " + auth.url + " " + answer.failure,
               500);
}

void Router::proceed(const std::shared_ptr<ProxyStream>& stream) {
  const Route& route = *stream->route;
  const RouteFilters* filters = route.filters.value.get();
  if (filters && filters->redirect) {
    answer_redirect(*stream, route);
    return;
  }
  stream->cluster = choose_cluster(*stream);
  if (stream->cluster == kNoCluster) {
    fail_unusable_backend(stream);
    return;
  }
  if (filters) {
    if (!filters->request_headers.empty()) edit_headers(stream->request_headers, filters->request_headers);
    if (filters->rewrite) rewrite_request(*stream, route);
  }
  if (!protocol_fits(stream)) return;
  stream->max_message_bytes = stream->route->max_message_bytes;
  // auth-url answers later: the running table may have changed meanwhile.
  if (on_running_table(*stream)) cluster_states_[stream->cluster]->budget.on_request();
  start_deadline(stream);
  watch_idle(stream, stream_idle_timeout_);
  forward(stream, "");
}

bool Router::web_and_cors(const std::shared_ptr<ProxyStream>& stream) {
  const Route& route = *stream->route;
  if (!route.cors_allow_origin.empty()) {
    if (const std::string_view* origin = stream->request_headers.find("origin")) {
      if (route.cors_allow_origin == "*") {
        stream->cors_origin = "*";
      } else {
        std::string_view list = route.cors_allow_origin;
        while (!list.empty() && stream->cors_origin.empty()) {
          auto comma = list.find(',');
          std::string_view item = list.substr(0, comma);
          while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
          while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
          if (item == *origin) stream->cors_origin = *origin;
          list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        }
      }
    }
    if (stream->method == "OPTIONS" && !stream->cors_origin.empty()) {  // a browser's preflight
      const std::string_view* asked = stream->request_headers.find("access-control-request-headers");
      HeaderList headers = {
          {"access-control-allow-origin", stream->cors_origin},
          {"access-control-allow-methods", "POST, GET, OPTIONS"},
          {"access-control-allow-headers",
           asked ? *asked : "content-type,x-grpc-web,x-user-agent,grpc-timeout,authorization"},
          {"access-control-max-age", "86400"}};
      if (stream->cors_origin != "*") headers.push_back({"vary", "origin"});
      stream->respond(204, "", std::move(headers));
      return false;
    }
  }
  const std::string_view* content_type = stream->request_headers.find("content-type");
  GrpcWebMode mode = content_type ? grpc_web_mode(*content_type) : GrpcWebMode::kNone;
  if (mode == GrpcWebMode::kNone) return true;
  if (!route.grpc_web) {
    stream->respond(415, "gRPC-Web is turned off for this route (grpc-ingress.io/grpc-web: \"false\")\n");
    return false;
  }
  // The pod gets ordinary gRPC; the browser gets gRPC-Web back.
  stream->grpc_web = mode;
  stream->grpc = true;
  bool has_te = false;
  HeaderList& headers = stream->request_headers;
  for (size_t i = 0; i < headers.size(); ++i) {
    if (headers[i].name == "content-type") headers.set_value(i, "application/grpc");
    if (headers[i].name == "te") {
      headers.set_value(i, "trailers");
      has_te = true;
    }
  }
  if (!has_te) stream->request_headers.push_back({"te", "trailers"});
  return true;
}

void Router::fail_unusable_backend(const std::shared_ptr<ProxyStream>& stream) {
  const Route& route = *stream->route;
  std::string_view problem = "the route has no usable backend";
  for (const WeightedCluster& backend : route.backends) {
    if (backend.cluster == kNoCluster && !backend.problem.empty()) {
      problem = backend.problem;
      break;
    }
  }
  std::string message = std::string(to_string(route.kind)) + " " + route.ingress_namespace + "/" +
                        route.ingress_name + ": " + std::string(problem);
  // Gateway API: an unusable backend answers 500 to HTTP, UNAVAILABLE to gRPC.
  if (stream->grpc) {
    stream->fail(GrpcStatus::kUnavailable, message);
  } else {
    stream->respond(500, message + "\n");
  }
}

uint32_t Router::choose_cluster(const ProxyStream& stream) {
  const Route& route = *stream.route;
  if (route.backends.size() > 1) {
    // Gateway API weights: each call picks a backend in proportion.
    uint64_t total = 0;
    for (const WeightedCluster& backend : route.backends) total += backend.weight;
    if (total == 0) return route.cluster;
    uint64_t pick = std::uniform_int_distribution<uint64_t>(0, total - 1)(random_);
    for (const WeightedCluster& backend : route.backends) {
      if (pick < backend.weight) return backend.cluster;
      pick -= backend.weight;
    }
    return route.cluster;
  }
  if (!route.canary) return route.cluster;
  const Canary& canary = *route.canary;
  // ingress-nginx's order: header, then cookie, then weight.
  if (!canary.header.empty()) {
    if (const std::string_view* value = stream.request_headers.find(canary.header)) {
      if (!canary.header_value.empty()) {
        if (*value == canary.header_value) return canary.cluster;
      } else if (*value == "always") {
        return canary.cluster;
      } else if (*value == "never") {
        return route.cluster;
      }
    }
  }
  if (!canary.cookie.empty()) {
    std::string_view value = find_cookie(stream, canary.cookie);
    if (value == "always") return canary.cluster;
    if (value == "never") return route.cluster;
  }
  if (canary.weight > 0 &&
      std::uniform_int_distribution<uint32_t>(0, canary.weight_total - 1)(random_) < canary.weight) {
    return canary.cluster;
  }
  return route.cluster;
}

bool Router::protocol_fits(const std::shared_ptr<ProxyStream>& stream) {
  // The stream's table: after an auth-url answer it may not be the running one.
  const Cluster& cluster = *stream->table->clusters[stream->cluster];
  if (stream->grpc && cluster.protocol == UpstreamProtocol::kHttp1) {
    stream->fail(GrpcStatus::kUnimplemented,
                 "backend " + cluster.name + " speaks HTTP/1.1 (" + cluster.protocol_source +
                     "), which cannot carry gRPC; gRPC needs grpc-ingress.io/backend-protocol GRPC, GRPCS or H2C");
    return false;
  }
  if (!stream->grpc && cluster.grpc_only) {
    stream->respond(415, "backend " + cluster.name + " serves gRPC only (" + cluster.protocol_source +
                             "); send application/grpc or application/grpc-web requests\n");
    return false;
  }
  return true;
}

void Router::answer_health_bridge(const std::shared_ptr<ProxyStream>& stream) {
  if (stream->grpc) {
    stream->fail(GrpcStatus::kUnimplemented, fmt::format("{} is an HTTP health path, not a gRPC method", stream->path));
    return;
  }
  const Route& route = *stream->route;
  for (uint32_t index : route.health_of_clusters) {
    const auto& states = resolved(index).states;
    bool healthy = std::any_of(states.begin(), states.end(), [](const auto& state) {
      return state->health.load(std::memory_order_relaxed) == EndpointState::kHealthy;
    });
    if (!healthy) {
      stream->respond(503, "no endpoint of " + table_->clusters[index]->name + " passes its gRPC health check\n");
      return;
    }
  }
  stream->respond(200, "ok\n");
}

void Router::watch_idle(const std::shared_ptr<ProxyStream>& stream, std::chrono::milliseconds wait) {
  if (!stream->idle_timer) stream->idle_timer.emplace(io_);
  stream->idle_timer->expires_after(wait);
  std::weak_ptr<ProxyStream> weak = stream;
  stream->idle_timer->async_wait(recycled([this, weak](boost::system::error_code ec) {
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
  }));
}

void Router::start_deadline(const std::shared_ptr<ProxyStream>& stream) {
  if (!stream->grpc) return;
  std::optional<std::chrono::nanoseconds> timeout;
  std::optional<size_t> timeout_header;
  const HeaderList& headers = stream->request_headers;
  for (size_t i = 0; i < headers.size(); ++i) {
    if (headers[i].name != "grpc-timeout") continue;
    timeout_header = i;
    timeout = parse_grpc_timeout(headers[i].value);
    if (!timeout) spdlog::debug("{} ignoring malformed grpc-timeout '{}'", stream->log_prefix(), headers[i].value);
    break;
  }
  // grpc-ingress.io/max-timeout caps the client's deadline, and gives one to
  // calls that have none; the pod is told the deadline it really has.
  auto cap = stream->route->max_timeout;
  if (cap.count() > 0 && (!timeout || *timeout > cap)) {
    timeout = cap;
    std::string value = std::to_string(cap.count()) + "m";
    if (timeout_header) {
      stream->request_headers.set_value(*timeout_header, value);
    } else {
      stream->request_headers.push_back({"grpc-timeout", value});
    }
  }
  if (!timeout) return;
  stream->deadline_timer.emplace(io_);
  stream->deadline_timer->expires_after(*timeout);
  std::weak_ptr<ProxyStream> weak = stream;
  stream->deadline_timer->async_wait(recycled([weak](boost::system::error_code ec) {
    auto stream = weak.lock();
    if (ec || !stream || stream->closed) return;
    spdlog::debug("{} deadline exceeded", stream->log_prefix());
    stream->cancel_upstream();
    stream->fail(GrpcStatus::kDeadlineExceeded, "deadline exceeded at grpc-ingress");
  }));
}

const std::vector<std::shared_ptr<EndpointState>>* Router::states_of(const ProxyStream& stream) {
  return on_running_table(stream) ? &resolved(stream.cluster).states : nullptr;
}

void Router::forward(const std::shared_ptr<ProxyStream>& stream, const std::string& last_failure) {
  const Cluster& cluster = *stream->table->clusters[stream->cluster];
  const bool current = on_running_table(*stream);  // stats are resolved for the running table only
  if (current) stream->cluster_stats = cluster_stats_[stream->cluster];
  if (cluster.endpoints.empty()) {
    stream->fail(GrpcStatus::kUnavailable, "no ready endpoints for service " + cluster.name);
    return;
  }
  // The running table's clusters got their balancer when it was applied; an
  // attempt on an older snapshot (the table changed under a retry) uses its
  // cluster's if it is still in the table, else a stand-in, so a cluster
  // already let go is not brought back.
  ClusterState* kept = nullptr;
  if (current) {
    kept = cluster_states_[stream->cluster];
  } else if (auto it = clusters_.find(cluster.name); it != clusters_.end()) {
    kept = &it->second;
  }
  ClusterState& state = kept ? *kept : stale_cluster_;
  if (!state.balancer || state.policy != cluster.lb_policy) {
    state.policy = cluster.lb_policy;
    state.balancer = make_load_balancer(cluster.lb_policy, seed_);
  }
  const AppliedCluster* applied = current ? &resolved(stream->cluster) : nullptr;
  PickContext context = pick_context(*stream);
  if (applied) context.stats = &applied->endpoint_stats;
  if (cluster.lb_policy == LoadBalancePolicy::kRingHash) {
    if (const std::string_view* key = stream->request_headers.find(cluster.hash_header)) context.hash_key = *key;
  }
  const Endpoint* endpoint = state.balancer->pick(cluster, context);
  if (!endpoint) {
    bool full = false;
    for (size_t i = 0; i < cluster.endpoints.size() && !full; ++i) full = context.at_limit(i);
    if (full) {
      if (stream->cluster_stats) bump(stream->cluster_stats->over_limit);
      stream->fail(GrpcStatus::kResourceExhausted,
                   "every endpoint of service " + cluster.name +
                       " is at its limit (grpc-ingress.io/max-streams-per-endpoint, max-pending-per-endpoint)");
    } else if (!last_failure.empty()) {
      stream->fail(GrpcStatus::kUnavailable, last_failure);
    } else {
      stream->fail(GrpcStatus::kUnavailable,
                   "no healthy endpoint left for service " + cluster.name +
                       " (failing gRPC health checks or ejected after failures)");
    }
    return;
  }
  size_t index = static_cast<size_t>(endpoint - cluster.endpoints.data());
  stream->tried_endpoints.push_back(static_cast<uint32_t>(index));
  // Resolved for the running table only: an attempt on an older snapshot
  // (a retry across a table change) goes uncounted per pod and unlimited.
  stream->begin_attempt(endpoint, applied ? applied->endpoint_stats[index].get() : nullptr,
                        applied ? applied->states[index].get() : nullptr,
                        cluster.max_streams_per_endpoint > 0);
  UpstreamKind kind{.http1 = cluster.protocol == UpstreamProtocol::kHttp1 ||
                             (cluster.protocol == UpstreamProtocol::kAuto && !stream->grpc),
                    .tls = cluster.tls.enabled ? &cluster.tls : nullptr};
  auto connection = pool_.connection_for(*endpoint, kind);
  if (!connection) {
    spdlog::warn("{} {}: upstream TLS of {}: {}", stream->log_prefix(), stream->path, cluster.name,
                 connection.error().message);
    stream->fail(GrpcStatus::kUnavailable, "upstream TLS of " + cluster.name + ": " + connection.error().message);
    return;
  }
  if (!*connection) {
    stream->fail(GrpcStatus::kUnavailable, "grpc-ingress is shutting down");
    return;
  }
  (*connection)->submit(*stream);
}

PickContext Router::pick_context(const ProxyStream& stream) {
  const Cluster& cluster = *stream.table->clusters[stream.cluster];
  PickContext context{{stream.tried_endpoints.data(), stream.tried_endpoints.size()}};
  context.states = states_of(stream);
  context.max_streams = cluster.max_streams_per_endpoint;
  context.max_pending = cluster.max_pending_per_endpoint;
  context.now = std::chrono::steady_clock::now();
  return context;
}

bool Router::has_untried_endpoint(const ProxyStream& stream) {
  const Cluster& cluster = *stream.table->clusters[stream.cluster];
  PickContext context = pick_context(stream);
  for (size_t i = 0; i < cluster.endpoints.size(); ++i) {
    if (context.usable(i)) return true;
  }
  return false;
}

bool Router::may_retry(ProxyStream& stream, bool transparent) {
  if (stream.closed || !stream.replayable || !stream.route) return false;
  // Every pod tried (or none usable): the caller gets the last answer, and no budget is spent.
  if (!has_untried_endpoint(stream)) return false;
  if (transparent) return stream.tried_endpoints.size() < kTransparentAttempts;
  if (stream.retries >= stream.route->retry.retries) return false;
  if (on_running_table(stream) && !cluster_states_[stream.cluster]->budget.try_spend()) {
    if (stream.cluster_stats) bump(stream.cluster_stats->retries_over_budget);
    spdlog::debug("{} retry budget of {} spent; not retrying", stream.log_prefix(),
                  table_->clusters[stream.cluster]->name);
    return false;
  }
  ++stream.retries;
  return true;
}

void Router::retry(const std::shared_ptr<ProxyStream>& stream, std::string reason) {
  spdlog::debug("{} {}; trying another pod", stream->log_prefix(), reason);
  if (stream->cluster_stats) bump(stream->cluster_stats->retries);
  stream->response.clear();
  stream->request_body.prepend(stream->request_replay.view());
  stream->request_replay.clear();
  // The next pod gets what is left of the deadline.
  if (stream->deadline_timer) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(stream->deadline_timer->expiry() -
                                                                      std::chrono::steady_clock::now());
    HeaderList& headers = stream->request_headers;
    for (size_t i = 0; i < headers.size(); ++i) {
      if (headers[i].name == "grpc-timeout") {
        headers.set_value(i, std::to_string(std::max<int64_t>(1, left.count())) + "m");
      }
    }
  }
  // On the next turn of the loop, not inside the failed connection's
  // callback: the pool is not re-entered from a connection's own stack.
  boost::asio::post(io_, recycled([this, weak = std::weak_ptr<ProxyStream>(stream), reason = std::move(reason)] {
    auto stream = weak.lock();
    if (!stream || stream->closed || stream->response.ended) return;
    forward(stream, reason);
  }));
}

void Router::upstream_failed(const std::shared_ptr<ProxyStream>& stream, const std::string& reason,
                             UpstreamFailure failure) {
  if (stream->closed || stream->response_started) return;
  if (failure == UpstreamFailure::kStale && stream->replayable && !stream->tried_endpoints.empty()) {
    // The pod never read it: the same pod may take it on a fresh connection.
    // Bounded: a new connection is never stale, only each kept-alive one once.
    stream->tried_endpoints.pop_back();
    retry(stream, reason);
    return;
  }
  if (failure != UpstreamFailure::kRefused && failure != UpstreamFailure::kStale) record_outcome(*stream, true);
  bool transparent = failure != UpstreamFailure::kReset;
  bool retryable = transparent || (stream->route && stream->route->retry.retries_status(14));
  if (retryable && may_retry(*stream, transparent)) {
    retry(stream, reason);
    return;
  }
  spdlog::info("{} {} {}: {}", stream->log_prefix(), stream->method, stream->path, reason);
  // A pod that took the request and broke off (reset, lost, a malformed answer) is a
  // bad gateway to plain HTTP, as nginx says; one never reached is unavailable (503).
  stream->fail(GrpcStatus::kUnavailable, reason, failure == UpstreamFailure::kReset ? 502 : 0);
}

bool Router::upstream_answered(const std::shared_ptr<ProxyStream>& stream) {
  if (!stream->route) return true;  // a health check: nothing to record
  std::optional<int> status = stream->response.trailers_only && stream->grpc ? grpc_status_of(stream->response.headers)
                                                                    : std::nullopt;
  record_outcome(*stream, status == static_cast<int>(GrpcStatus::kUnavailable));
  if (!status || !stream->route->retry.retries_status(*status) || stream->closed) return true;
  if (!may_retry(*stream, false)) return true;
  std::string reason = "pod " + stream->attempt.endpoint->address() + " answered grpc-status " + std::to_string(*status);
  stream->cancel_upstream();
  retry(stream, std::move(reason));
  return false;
}

void Router::record_outcome(ProxyStream& stream, bool failed) {
  EndpointState* state = stream.attempt.state;
  if (!state || !stream.table) return;
  const Cluster& cluster = *stream.table->clusters[stream.cluster];
  const OutlierDetection& detection = cluster.outlier_detection;
  if (!failed) {
    // Read before writing: a line every worker reads stays shared while calls succeed.
    if (state->consecutive_failures.load(std::memory_order_relaxed)) {
      state->consecutive_failures.store(0, std::memory_order_relaxed);
    }
    if (state->ejections.load(std::memory_order_relaxed) && !state->ejected(std::chrono::steady_clock::now())) {
      state->ejections.store(0, std::memory_order_relaxed);  // back in good standing: the back-off resets
    }
    return;
  }
  if (detection.consecutive_failures == 0) return;
  uint32_t failures = state->consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
  if (failures < detection.consecutive_failures) return;
  auto now = std::chrono::steady_clock::now();
  const auto* states = states_of(stream);
  if (!states || state->ejected(now)) return;
  // Never eject more than half of the cluster: the rest must carry the load.
  size_t ejected = std::count_if(states->begin(), states->end(), [&](const auto& s) { return s->ejected(now); });
  if ((ejected + 1) * 2 > states->size()) {
    spdlog::debug("{} {} keeps failing, but half of {} is ejected already", stream.log_prefix(),
                  stream.attempt.endpoint->address(), cluster.name);
    return;
  }
  uint32_t ejections = state->ejections.fetch_add(1, std::memory_order_relaxed);
  auto duration = detection.base_ejection * (uint64_t{1} << std::min<uint32_t>(ejections, 16));
  duration = std::min<std::chrono::milliseconds>(duration, detection.max_ejection);
  state->ejected_until.store((now + duration).time_since_epoch().count(), std::memory_order_relaxed);
  state->consecutive_failures.store(0, std::memory_order_relaxed);
  if (stream.cluster_stats) bump(stream.cluster_stats->outlier_ejections);
  spdlog::warn("endpoint {} ({}) of {} ejected for {} ms after {} failures in a row", stream.attempt.endpoint->address(),
               stream.attempt.endpoint->pod, cluster.name, duration.count(), failures);
}

}  // namespace grpc_ingress
