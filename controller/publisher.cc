#include "controller/publisher.h"

#include <spdlog/spdlog.h>

namespace grpc_ingress {

Publisher::Publisher(boost::asio::io_context& io, Store& store, TableSink& sink, TranslatorOptions options,
                     std::chrono::milliseconds debounce)
    : io_(io),
      store_(store),
      sink_(sink),
      options_(std::move(options)),
      debounce_(debounce),
      timer_(io) {}

void Publisher::start() {
  store_.set_on_change([this] { schedule(); });
  schedule();
}

std::vector<Rejection> Publisher::rejections() const {
  std::lock_guard lock(mutex_);
  return rejections_;
}

std::shared_ptr<const RouteTable> Publisher::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void Publisher::schedule() {
  if (scheduled_) return;
  scheduled_ = true;
  timer_.expires_after(debounce_);
  timer_.async_wait([this](boost::system::error_code ec) {
    scheduled_ = false;
    if (!ec) rebuild();
  });
}

void Publisher::rebuild() {
  if (!store_.synced()) {
    spdlog::debug("store not synced yet; the first table waits");
    return;
  }
  auto started = std::chrono::steady_clock::now();
  auto running = current();
  // A Secret that stops loading keeps the certificate the running table has.
  Translation translation =
      translate(store_, options_, {.last_good = running ? &running->tls : nullptr, .checks = &certificate_checks_});
  report(translation.rejections);
  if (on_translated_) on_translated_(translation);

  if (running && running->same_routing(translation.table)) {
    spdlog::debug("objects changed, routing did not; nothing to publish");
    return;
  }
  auto table = std::make_shared<RouteTable>(std::move(translation.table));
  table->version = next_version_++;

  size_t routes = table->any_host.routes.size() + (table->default_route ? 1 : 0);
  for (const auto& [_, vhost] : table->exact_hosts) routes += vhost.routes.size();
  for (const auto& [_, vhost] : table->wildcard_hosts) routes += vhost.routes.size();
  size_t endpoints = 0;
  for (const Cluster& cluster : table->clusters) endpoints += cluster.endpoints.size();
  auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  spdlog::info("publishing routing table v{}: {} route(s), {} service port(s), {} endpoint(s) (built in {} us)",
               table->version, routes, table->clusters.size(), endpoints, took.count());

  {
    std::lock_guard lock(mutex_);
    current_ = table;
  }
  std::shared_ptr<const RouteTable> snapshot = table;
  uint64_t version = table->version;
  sink_.publish(snapshot, [this, version, started] {
    last_apply_duration_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    last_applied_ = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (!ready_.exchange(true)) spdlog::info("routing table v{} serves on every worker: ready", version);
  });
}

void Publisher::report(const std::vector<Rejection>& rejections) {
  std::set<std::string> now;
  for (const Rejection& r : rejections) {
    std::string line = r.kind + " " + (r.namespace_name.empty() ? "" : r.namespace_name + "/") + r.name +
                       ": " + r.reason;
    if (!reported_.count(line)) spdlog::warn("rejected {}", line);
    now.insert(std::move(line));
  }
  reported_ = std::move(now);
  std::lock_guard lock(mutex_);
  rejections_ = rejections;
}

}  // namespace grpc_ingress
