#include "dataplane/health_checker.h"

#include "dataplane/grpc.h"
#include "dataplane/proxy_stream.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <random>

namespace grpc_ingress {

struct HealthChecker::Target {
  std::string cluster;
  Endpoint endpoint;
  HealthCheck config;
  UpstreamTls tls;  // the cluster's: checks go over TLS when its calls do
  std::shared_ptr<EndpointState> state;
  uint32_t successes = 0;  // in a row
  uint32_t failures = 0;   // in a row
  bool stopped = false;
  boost::asio::steady_timer timer;

  Target(boost::asio::io_context& io) : timer(io) {}

  // One check's result; `not_serving`: the pod said so itself.
  void record(bool ok, bool not_serving, const std::string& detail) {
    if (stopped) return;
    uint8_t before = state->health.load(std::memory_order_relaxed);
    if (ok) {
      failures = 0;
      if (++successes >= config.healthy_threshold) state->health.store(EndpointState::kHealthy);
    } else {
      successes = 0;
      if (++failures >= config.unhealthy_threshold || not_serving) state->health.store(EndpointState::kUnhealthy);
    }
    uint8_t after = state->health.load(std::memory_order_relaxed);
    if (after == before) return;
    if (after == EndpointState::kHealthy) {
      spdlog::info("health check: {} ({}) of {} is SERVING", endpoint.address(), endpoint.pod, cluster);
    } else if (after == EndpointState::kUnhealthy) {
      spdlog::warn("health check: {} ({}) of {} gets no new calls: {}", endpoint.address(), endpoint.pod, cluster,
                   detail);
    }
  }
};

namespace {

// The client side of one Check call: reads the pod's answer off the stream
// the upstream connection fills, as a downstream session would.
class HealthProbe : public DownstreamSide, public std::enable_shared_from_this<HealthProbe> {
 public:
  HealthProbe(boost::asio::io_context& io, std::shared_ptr<HealthChecker::Target> target)
      : target_(std::move(target)), timeout_(io) {}

  void start(UpstreamPool& pool) {
    const HealthChecker::Target& target = *target_;
    stream_ = ProxyStream::make(0, 0, weak_from_this());
    stream_->method = "POST";
    stream_->scheme = "http";
    stream_->authority = stream_->keep(target.endpoint.address());
    stream_->path = "/grpc.health.v1.Health/Check";
    stream_->grpc = true;
    std::string timeout = std::to_string(target.config.timeout.count()) + "m";
    stream_->request_headers = {{"content-type", "application/grpc"},
                                {"te", "trailers"},
                                {"grpc-timeout", timeout},
                                {"user-agent", "grpc-ingress-health-check"}};
    std::string body = encode_health_check_request(target.config.service);
    stream_->request_body.append(reinterpret_cast<const uint8_t*>(body.data()), body.size());
    stream_->request_ended = true;
    stream_->replayable = false;
    timeout_.expires_after(target.config.timeout);
    timeout_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->done_) return;
      self->stream_->cancel_upstream();
      self->finish(false, false, "no answer within " + std::to_string(self->target_->config.timeout.count()) + " ms");
    });
    // gRPC is HTTP/2 whatever the cluster's plain HTTP requests use.
    auto connection = pool.connection_for(
        target.endpoint, {.http1 = false, .tls = target.tls.enabled ? &target.tls : nullptr, .tls_in_table = false});
    if (!connection) {
      finish(false, false, connection.error().message);
      return;
    }
    if (!*connection) {
      finish(false, false, "shutting down");
      return;
    }
    (*connection)->submit(*stream_);
  }

  void response_headers_ready(ProxyStream& stream) override {
    stream.response_started = true;  // as a downstream session would: what follows is body and trailers
    if (stream.response.status != 200) {
      finish(false, false, "HTTP status " + std::to_string(stream.response.status));
    } else if (stream.response.trailers_only) {
      evaluate(stream.response.headers);
    }
  }

  void response_data_ready(ProxyStream& stream) override {
    uint8_t buffer[1024];
    while (size_t n = stream.response.body.read(buffer, sizeof(buffer))) {
      if (body_.size() < 4096) body_.append(reinterpret_cast<const char*>(buffer), n);
      if (UpstreamSide* upstream = stream.upstream()) upstream->response_body_consumed(stream, n);
    }
    if (stream.response.ended) evaluate(stream.response.trailers);
  }

  void request_body_consumed(ProxyStream&, size_t) override {}
  void reset(ProxyStream&, uint32_t h2_error_code) override {
    finish(false, false, "stream reset (HTTP/2 error " + std::to_string(h2_error_code) + ")");
  }

 private:
  void evaluate(const HeaderList& trailers) {
    std::string status = "missing", message;
    for (const Header& header : trailers) {
      if (header.name == "grpc-status") status = header.value;
      if (header.name == "grpc-message") message = header.value;
    }
    if (status != "0") {
      finish(false, false, "grpc-status " + status + (message.empty() ? "" : " (" + message + ")"));
      return;
    }
    auto serving = decode_health_check_response(body_);
    if (!serving) {
      finish(false, false, "malformed HealthCheckResponse");
    } else if (*serving != 1) {
      static const char* const kNames[] = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};
      finish(false, *serving == 2,
             std::string("status ") + (*serving >= 0 && *serving < 4 ? kNames[*serving] : "unknown"));
    } else {
      finish(true, false, "");
    }
  }

  void finish(bool ok, bool not_serving, const std::string& detail) {
    if (done_) return;
    done_ = true;
    timeout_.cancel();
    stream_->closed = true;
    target_->record(ok, not_serving, detail);
  }

  std::shared_ptr<HealthChecker::Target> target_;
  boost::asio::steady_timer timeout_;
  std::shared_ptr<ProxyStream> stream_;
  std::string body_;
  bool done_ = false;
};

}  // namespace

HealthChecker::HealthChecker(boost::asio::io_context& io, UpstreamPool& pool, EndpointStates& states)
    : io_(io), pool_(pool), states_(states) {}

HealthChecker::~HealthChecker() {
  for (auto& [_, targets] : targets_) {
    for (auto& [_, target] : targets) {
      target->stopped = true;
      target->timer.cancel();
    }
  }
}

void HealthChecker::set_table(const std::shared_ptr<const RouteTable>& table) {
  ClusterDiff diff = diff_clusters(table_.get(), *table);
  for (const std::string& name : diff.gone) {
    if (auto it = targets_.find(name); it != targets_.end()) {
      update(it->second, nullptr);
      targets_.erase(it);
    }
  }
  for (uint32_t slot : diff.changed) {
    const Cluster& cluster = *table->clusters[slot];
    auto& targets = targets_[cluster.name];
    update(targets, &cluster);
    if (targets.empty()) targets_.erase(cluster.name);
  }
  table_ = table;
}

void HealthChecker::update(std::map<std::string, std::shared_ptr<Target>>& targets, const Cluster* cluster) {
  std::map<std::string, std::shared_ptr<Target>> next;
  if (cluster && cluster->health_check.enabled) {
    auto states = states_.resolve(*cluster);
    for (size_t i = 0; i < cluster->endpoints.size(); ++i) {
      const Endpoint& endpoint = cluster->endpoints[i];
      std::string address = endpoint.address();
      auto it = targets.find(address);
      if (it != targets.end() && it->second->config == cluster->health_check && it->second->tls == cluster->tls) {
        next[address] = std::move(it->second);
        targets.erase(it);
        continue;
      }
      auto target = std::make_shared<Target>(io_);
      target->cluster = cluster->name;
      target->endpoint = endpoint;
      target->config = cluster->health_check;
      target->tls = cluster->tls;
      target->state = states[i];
      next[address] = target;
      schedule(target, std::chrono::milliseconds(0));
    }
  }
  // Endpoints no longer checked: stop, and forget what checks said.
  for (auto& [address, target] : targets) {
    target->stopped = true;
    target->timer.cancel();
    if (!next.count(address)) target->state->health.store(EndpointState::kUnknown);
  }
  targets = std::move(next);
}

void HealthChecker::schedule(const std::shared_ptr<Target>& target, std::chrono::milliseconds delay) {
  target->timer.expires_after(delay);
  target->timer.async_wait([this, weak = std::weak_ptr<Target>(target)](boost::system::error_code ec) {
    auto target = weak.lock();
    if (ec || !target || target->stopped) return;
    check(target);
  });
}

void HealthChecker::check(const std::shared_ptr<Target>& target) {
  auto probe = std::make_shared<HealthProbe>(io_, target);
  probe->start(pool_);
  // Spread checks of many endpoints: each interval varies by up to 10%.
  static thread_local std::mt19937 random(std::random_device{}());
  auto interval = target->config.interval;
  auto jitter = std::uniform_int_distribution<int64_t>(0, interval.count() / 10)(random);
  schedule(target, interval + std::chrono::milliseconds(jitter));
}

}  // namespace grpc_ingress
