#include "controller/publisher.h"

#include "common/log.h"

#include <spdlog/spdlog.h>

namespace grpc_ingress {

Publisher::Publisher(boost::asio::io_context& io, Store& store, TableSink& sink, TranslatorOptions options,
                     std::chrono::milliseconds debounce)
    : io_(io),
      store_(store),
      sink_(sink),
      translator_(std::move(options)),
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

namespace {
const ComponentLog kLog{"publisher"};
}  // namespace

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
  Translation translation = translator_.translate(
      store_, store_.take_changes(), {.last_good = running ? &running->tls : nullptr, .checks = &certificate_checks_});
  auto translated = std::chrono::steady_clock::now();
  // The translator shares every part that did not change: routing changed
  // exactly when it says a cluster or host did (or the default route or TLS).
  bool changed = !running || translation.clusters_changed > 0 || translation.hosts_changed > 0 ||
                 running->default_route != translation.table.default_route || running->tls != translation.table.tls;
  if (changed) {
    if (running && translation.changed_hosts) {
      translation.table.base_version = running->version;
      translation.table.changed_hosts = std::move(*translation.changed_hosts);
      translation.table.changed_clusters = translation.changed_clusters;
    }
    publish(std::make_shared<RouteTable>(std::move(translation.table)), translation, started, translated);
  } else {
    spdlog::debug("objects changed, routing did not; nothing to publish");
  }
  // After the hand-over, so that a change reaches the workers first.
  report(translation.rejections);
  if (on_translated_) on_translated_(translation);
}

void Publisher::publish(std::shared_ptr<RouteTable> table, const Translation& translation, Clock::time_point started,
                        Clock::time_point translated) {
  table->version = next_version_++;
  auto micros = [](auto duration) { return std::chrono::duration_cast<std::chrono::microseconds>(duration).count(); };
  auto now = Clock::now();
  if (translation.endpoints_only) {
    kLog.info({.reason = "ConfigPublished"},
              "publishing routing table v{}: endpoints of {} service port(s) changed (built in {} us: "
                 "translate {} us, compare {} us)",
                 table->version, translation.clusters_changed, micros(now - started), micros(translated - started),
                 micros(now - translated));
  } else {
    kLog.info({.reason = "ConfigPublished"},
              "publishing routing table v{}: {} route(s), {} service port(s), {} endpoint(s); {} Ingress(es) "
                 "merged, {} service port(s) and {} host(s) changed (built in {} us: translate {} us, compare {} us)",
                 table->version, table->route_count(), table->cluster_count(), table->endpoint_count(),
                 translation.ingresses_merged, translation.clusters_changed, translation.hosts_changed, micros(now - started),
                 micros(translated - started), micros(now - translated));
  }
  {
    std::lock_guard lock(mutex_);
    current_ = table;
  }
  uint64_t version = table->version;
  sink_.publish(std::move(table), [this, version, started, handed = Clock::now(), micros] {
    auto applied = Clock::now();
    last_apply_duration_ = std::chrono::duration<double>(applied - started).count();
    last_applied_ = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    kLog.debug({.reason = "ConfigApplied"},
               "routing table v{} serves on every worker, {} us after it was handed over ({} us after its build began)",
               version, micros(applied - handed), micros(applied - started));
    if (!ready_.exchange(true)) {
      kLog.info({.reason = "ConfigApplied"}, "routing table v{} serves on every worker: ready", version);
    }
  });
}

void Publisher::report(const std::vector<Rejection>& rejections) {
  std::set<std::string> now;
  for (const Rejection& r : rejections) {
    std::string object = (r.namespace_name.empty() ? "" : r.namespace_name + "/") + r.name;
    std::string line = r.kind + " " + object + ": " + r.reason;
    if (!reported_.count(line)) {
      kLog.warn({.kind = r.kind, .object = object, .reason = r.reason}, "rejected {}", line);
    }
    now.insert(std::move(line));
  }
  reported_ = std::move(now);
  std::lock_guard lock(mutex_);
  rejections_ = rejections;
}

}  // namespace grpc_ingress
