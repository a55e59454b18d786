#include "controller/kube_source.h"

#include "common/text.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace grpc_ingress {

KubeSource::KubeSource(boost::asio::io_context& io, KubeApi& api, Store& store, KubeSourceOptions options)
    : io_(io),
      api_(api),
      store_(store),
      options_(std::move(options)),
      restarts_(std::make_shared<RestartCounts>()),
      discovery_timer_(io) {
  for (ResourceType resource : {ingresses_resource(), ingress_classes_resource(), services_resource(),
                                endpoint_slices_resource(), certificate_secrets_resource()}) {
    informers_.push_back(make_informer(std::move(resource)));
  }
  // Namespace labels matter only to Gateway listeners' route selectors.
  if (options_.gateway_api) informers_.push_back(make_informer(namespaces_resource()));
}

std::shared_ptr<Informer> KubeSource::make_informer(ResourceType resource) {
  auto count = [restarts = restarts_](const std::string& resource, RestartReason reason) {
    ++(*restarts)[{resource, std::string(restart_reason_name(reason))}];
  };
  ObjectKind kind = resource.kind;
  Store& store = store_;
  InformerSink sink{
      .replace = [&store, kind](std::vector<Object> objects) { store.replace_kind(kind, std::move(objects)); },
      .upsert = [&store](Object object) { store.upsert(std::move(object)); },
      .remove = [&store, kind](ObjectKey key) { store.remove(kind, key); },
  };
  return std::make_shared<Informer>(io_, api_, std::move(resource), options_.watch_namespace, std::move(sink),
                                    options_.informer, count);
}

KubeSource::~KubeSource() { stop(); }

void KubeSource::start() {
  for (auto& informer : informers_) informer->start();
  if (options_.gateway_api) {
    discover_gateway_api();
  } else {
    store_.mark_absent(ObjectKind::kNamespace);
    for (ObjectKind kind : kGatewayApiKinds) store_.mark_absent(kind);
  }
}

void KubeSource::stop() {
  *alive_ = false;
  discovery_timer_.cancel();
  for (auto& informer : informers_) informer->stop();
  for (auto& [_, informer] : gateway_informers_) informer->stop();
}

void KubeSource::discover_gateway_api() {
  // One request per group version; the answers are gathered, then applied together.
  struct Round {
    std::map<std::string, std::set<std::string>> served;
    size_t pending = 0;
    bool failed = false;
  };
  auto round = std::make_shared<Round>();
  std::set<std::string> versions;
  for (const ResourceType& resource : gateway_api_resources()) versions.insert(resource.group_version_path);
  round->pending = versions.size();
  std::weak_ptr<bool> alive = alive_;
  for (const std::string& version : versions) {
    api_.request({.method = "GET", .target = version}, [this, alive, round, version](Result<KubeResponse> response) {
      auto live = alive.lock();
      if (!live || !*live) return;
      if (!response || (response->status != 200 && response->status != 404)) {
        if (!round->failed) {
          spdlog::warn("kube: Gateway API discovery of {} failed ({}); asking again", version,
                       response ? "answered " + std::to_string(response->status) + ": " + status_message(response->body)
                                : response.error().message);
        }
        round->failed = true;
      } else if (response->status == 200) {
        auto body = nlohmann::json::parse(response->body, nullptr, false);
        std::set<std::string>& plurals = round->served[version];
        const nlohmann::json& resources = json_member(body, "resources");  // an APIResourceList
        for (const auto& entry : resources.is_array() ? resources : nlohmann::json::array()) {
          if (std::string name = json_string_at(entry, "name"); !name.empty()) plurals.insert(std::move(name));
        }
      }
      if (--round->pending > 0) return;
      if (round->failed) {
        // Until discovery answers, the Gateway API kinds are not known to be absent: keep trying, briefly.
        schedule_discovery(std::min(options_.gateway_discovery_interval, std::chrono::milliseconds(2'000)));
        return;
      }
      apply_discovery(round->served);
      schedule_discovery(options_.gateway_discovery_interval);
    });
  }
}

void KubeSource::apply_discovery(const std::map<std::string, std::set<std::string>>& served) {
  std::vector<std::string> started, absent, gone;
  for (ResourceType resource : gateway_api_resources()) {
    auto version = served.find(resource.group_version_path);
    bool is_served = version != served.end() && version->second.count(resource.plural) > 0;
    ObjectKind kind = resource.kind;
    auto running = gateway_informers_.find(kind);
    if (is_served && running == gateway_informers_.end()) {
      started.push_back(resource.plural);
      auto informer = make_informer(std::move(resource));
      gateway_informers_.emplace(kind, informer);
      informer->start();
    } else if (!is_served) {
      if (running != gateway_informers_.end()) {  // its CRD was deleted
        running->second->stop();
        gateway_informers_.erase(running);
        gone.push_back(resource.plural);
      }
      absent.push_back(resource.plural);
      store_.mark_absent(kind);
    }
  }
  if (!started.empty()) {
    spdlog::info("kube: the API serves the Gateway API ({}); watching {}", discovered_ ? "CRDs installed" : "at start",
                 join(started, ", "));
  }
  // Said again only after every kind was served once more: CRDs applied one
  // by one (kubectl apply) are seen half installed for a moment.
  if (absent.empty()) gateway_absent_logged_ = false;
  if (!gone.empty()) spdlog::warn("kube: the API no longer serves {}; their objects are dropped", join(gone, ", "));
  if (!absent.empty() && !gateway_absent_logged_) {
    // Said once: a cluster without the CRDs is normal, not an error to repeat every interval.
    spdlog::info("kube: Gateway API CRDs not installed (no {} in gateway.networking.k8s.io); serving Ingress "
                 "only for those, and checking again every {} s",
                 join(absent, ", "), options_.gateway_discovery_interval.count() / 1000);
    gateway_absent_logged_ = true;
  }
  discovered_ = true;
}

void KubeSource::schedule_discovery(std::chrono::milliseconds delay) {
  discovery_timer_.expires_after(delay);
  std::weak_ptr<bool> alive = alive_;
  discovery_timer_.async_wait([this, alive](const boost::system::error_code& error) {
    auto live = alive.lock();
    if (error || !live || !*live) return;
    discover_gateway_api();
  });
}

std::vector<std::pair<std::string, bool>> KubeSource::watching() const {
  std::vector<std::pair<std::string, bool>> out;
  for (const auto& informer : informers_) out.emplace_back(informer->resource().plural, informer->watching());
  for (const auto& [_, informer] : gateway_informers_) out.emplace_back(informer->resource().plural, informer->watching());
  return out;
}

void write_kube_metrics(MetricsWriter& out, const KubeClient& client, const KubeSource& source) {
  out.family("grpc_ingress_kube_requests_total", "counter",
             "Kubernetes API requests (each attempt), by verb (WATCH for watches) and HTTP status (error: no answer).");
  for (const auto& [key, count] : client.requests_total()) {
    out.sample("grpc_ingress_kube_requests_total", {{"verb", key.first}, {"code", key.second}},
               static_cast<double>(count));
  }
  out.family("grpc_ingress_kube_watch_restarts_total", "counter",
             "List/watch restarts by resource and reason (closed, timeout, dropped, expired, error, invalid).");
  for (const auto& [key, count] : source.watch_restarts()) {
    out.sample("grpc_ingress_kube_watch_restarts_total", {{"resource", key.first}, {"reason", key.second}},
               static_cast<double>(count));
  }
  out.family("grpc_ingress_kube_watch_open", "gauge", "1 while the watch of the resource is open.");
  for (const auto& [resource, open] : source.watching()) {
    out.sample("grpc_ingress_kube_watch_open", {{"resource", resource}}, open ? 1 : 0);
  }
}

}  // namespace grpc_ingress
