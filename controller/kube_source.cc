#include "controller/kube_source.h"

namespace grpc_ingress {

KubeSource::KubeSource(boost::asio::io_context& io, KubeApi& api, Store& store, KubeSourceOptions options)
    : restarts_(std::make_shared<RestartCounts>()) {
  auto count = [restarts = restarts_](const std::string& resource, RestartReason reason) {
    ++(*restarts)[{resource, std::string(restart_reason_name(reason))}];
  };
  for (ResourceType resource : {ingresses_resource(), ingress_classes_resource(), services_resource(),
                                endpoint_slices_resource(), certificate_secrets_resource()}) {
    ObjectKind kind = resource.kind;
    InformerSink sink{
        .replace = [&store, kind](std::vector<Object> objects) { store.replace_kind(kind, std::move(objects)); },
        .upsert = [&store](Object object) { store.upsert(std::move(object)); },
        .remove = [&store, kind](ObjectKey key) { store.remove(kind, key); },
    };
    informers_.push_back(std::make_shared<Informer>(io, api, std::move(resource), options.watch_namespace,
                                                    std::move(sink), options.informer, count));
  }
}

KubeSource::~KubeSource() { stop(); }

void KubeSource::start() {
  for (auto& informer : informers_) informer->start();
}

void KubeSource::stop() {
  for (auto& informer : informers_) informer->stop();
}

std::vector<std::pair<std::string, bool>> KubeSource::watching() const {
  std::vector<std::pair<std::string, bool>> out;
  for (const auto& informer : informers_) out.emplace_back(informer->resource().plural, informer->watching());
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
