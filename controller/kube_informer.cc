#include "controller/kube_informer.h"

#include "common/log.h"
#include "controller/object_decoder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <random>

namespace grpc_ingress {
namespace {

const ComponentLog kLog{"informer"};

using nlohmann::json;
using namespace std::chrono_literals;


}  // namespace

ResourceType ingresses_resource() { return {ObjectKind::kIngress, "/apis/networking.k8s.io/v1", "ingresses"}; }
ResourceType ingress_classes_resource() {
  return {ObjectKind::kIngressClass, "/apis/networking.k8s.io/v1", "ingressclasses"};
}
ResourceType services_resource() { return {ObjectKind::kService, "/api/v1", "services"}; }
ResourceType endpoint_slices_resource() {
  return {ObjectKind::kEndpointSlice, "/apis/discovery.k8s.io/v1", "endpointslices"};
}
ResourceType certificate_secrets_resource() {
  return {ObjectKind::kSecret, "/api/v1", "secrets",
          "type!=kubernetes.io/service-account-token,type!=helm.sh/release.v1,"
          "type!=kubernetes.io/dockerconfigjson,type!=kubernetes.io/dockercfg,type!=bootstrap.kubernetes.io/token"};
}

ResourceType namespaces_resource() { return {ObjectKind::kNamespace, "/api/v1", "namespaces"}; }

std::vector<ResourceType> gateway_api_resources() {
  const std::string v1 = "/apis/gateway.networking.k8s.io/v1";
  return {{ObjectKind::kGatewayClass, v1, "gatewayclasses"},
          {ObjectKind::kGateway, v1, "gateways"},
          {ObjectKind::kGRPCRoute, v1, "grpcroutes"},
          {ObjectKind::kHTTPRoute, v1, "httproutes"},
          {ObjectKind::kReferenceGrant, "/apis/gateway.networking.k8s.io/v1beta1", "referencegrants"}};
}

std::string_view restart_reason_name(RestartReason reason) {
  switch (reason) {
    case RestartReason::kClosed:
      return "closed";
    case RestartReason::kTimeout:
      return "timeout";
    case RestartReason::kDropped:
      return "dropped";
    case RestartReason::kExpired:
      return "expired";
    case RestartReason::kError:
      return "error";
    case RestartReason::kInvalid:
      break;
  }
  return "invalid";
}

std::string url_encode(std::string_view value) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Informer::Informer(boost::asio::io_context& io, KubeApi& api, ResourceType resource, std::string namespace_name,
                   InformerSink sink, InformerOptions options, RestartCounter on_restart)
    : io_(io),
      api_(api),
      resource_(std::move(resource)),
      namespace_name_(is_namespaced(resource_.kind) ? std::move(namespace_name) : std::string()),
      sink_(std::move(sink)),
      options_(options),
      on_restart_(std::move(on_restart)),
      clock_(options.time ? *options.time : steady_time()),
      timer_(clock_.timer(io)),
      random_(options.random_seed ? options.random_seed : std::random_device{}()),
      backoff_(options.backoff, random_()) {}

std::string Informer::path() const {
  std::string out = resource_.group_version_path;
  if (!namespace_name_.empty()) out += "/namespaces/" + namespace_name_;
  return out + "/" + resource_.plural;
}

std::string Informer::selector_query() const {
  return resource_.field_selector.empty() ? "" : "&fieldSelector=" + url_encode(resource_.field_selector);
}

void Informer::start() { list(""); }

void Informer::stop() {
  stopped_ = true;
  timer_->cancel();
  if (watch_) watch_->cancel();
  watch_.reset();
}

void Informer::list(std::string continue_token) {
  if (continue_token.empty()) {
    pending_.clear();
    pages_ = 0;
  }
  // No resourceVersion: a consistent read, served from etcd, like client-go's
  // relist after 410 (a watch-cache read could be older than what we saw).
  std::string target = path() + "?limit=" + std::to_string(options_.page_size) + selector_query();
  if (!continue_token.empty()) target += "&continue=" + url_encode(continue_token);
  auto self = shared_from_this();
  api_.request({.method = "GET", .target = target}, [self](Result<KubeResponse> response) {
    if (self->stopped_) return;
    if (!response) {
      self->restart(RestartReason::kError, "list: " + response.error().message, true, false);
      return;
    }
    self->list_page(std::move(*response));
  });
}

void Informer::list_page(KubeResponse response) {
  if (response.status == 410) {
    // The continue token outlived etcd's compaction: start the list over.
    restart(RestartReason::kExpired, "list continue token expired: " + status_message(response.body), true, false);
    return;
  }
  if (response.status != 200) {
    restart(RestartReason::kError,
            "list answered " + std::to_string(response.status) + ": " + status_message(response.body), true, false);
    return;
  }
  auto body = json::parse(response.body, nullptr, false);
  const json& items = json_member(body, "items");
  if (!body.is_object() || !(items.is_array() || items.is_null())) {
    restart(RestartReason::kError, "list answer is not a " + std::string(kind_name(resource_.kind)) + "List", true, false);
    return;
  }
  for (const json& item : items.is_array() ? items : json::array()) {
    pending_.push_back(decode_object_as(resource_.kind, item));
  }
  ++pages_;
  const json& metadata = json_member(body, "metadata");
  if (std::string next = json_string_at(metadata, "continue"); !next.empty()) {
    list(next);
    return;
  }

  resource_version_ = json_string_at(metadata, "resourceVersion");
  size_t count = pending_.size();
  bool first = !listed_;
  listed_ = true;
  backoff_.reset();
  auto objects = std::move(pending_);
  pending_ = {};
  sink_.replace(std::move(objects));
  if (stopped_) return;
  if (first) {
    kLog.info({.kind = kind_name(resource_.kind), .reason = "Listed"},
              "kube: listed {} {} at resourceVersion {} ({} page(s)); watching", count, resource_.plural,
              resource_version_, pages_);
  } else {
    kLog.info({.kind = kind_name(resource_.kind), .reason = "Relisted"},
              "kube: relisted {} {} at resourceVersion {} ({} page(s)); watching again", count, resource_.plural,
              resource_version_, pages_);
  }
  watch();
}

void Informer::watch() {
  std::uniform_int_distribution<int64_t> seconds(options_.watch_timeout_min.count(),
                                                 std::max(options_.watch_timeout_min, options_.watch_timeout_max).count());
  auto timeout = std::chrono::seconds(seconds(random_));
  std::string target = path() + "?watch=1&allowWatchBookmarks=true&resourceVersion=" +
                       url_encode(resource_version_) + "&timeoutSeconds=" + std::to_string(timeout.count()) +
                       selector_query();
  watch_started_ = clock_.now();
  watch_events_ = 0;
  auto self = shared_from_this();
  watch_ = api_.watch(
      target, std::chrono::duration_cast<std::chrono::milliseconds>(timeout) + options_.watch_deadline_margin,
      [self](json event) {
        if (!self->stopped_) self->on_event(event);
      },
      [self](WatchEnd end) {
        if (!self->stopped_) self->on_watch_end(std::move(end));
      });
}

void Informer::on_event(const json& event) {
  ++watch_events_;
  std::string type = json_string_at(event, "type");
  const json& object = json_member(event, "object");
  if (type == "ERROR") {
    // A Status object: 410 Expired when our resourceVersion left etcd's history.
    const json& code = json_member(object, "code");
    bool expired = code.is_number_integer() && code.get<int64_t>() == 410;
    std::string message = status_message(object.dump());
    if (watch_) watch_->cancel();
    watch_.reset();
    if (expired) {
      // Relist at once, unless watches keep failing that way right after a list.
      bool healthy = clock_.now() - watch_started_ >= options_.healthy_watch;
      restart(RestartReason::kExpired, "watch: " + message, true, healthy);
    } else {
      restart(RestartReason::kError, "watch ERROR event: " + message, false, false);
    }
    return;
  }
  if (!object.is_object() || (type != "ADDED" && type != "MODIFIED" && type != "DELETED" && type != "BOOKMARK")) {
    if (watch_) watch_->cancel();
    watch_.reset();
    restart(RestartReason::kInvalid, "watch event of type '" + type + "' without an object", false, false);
    return;
  }
  const json& metadata = json_member(object, "metadata");
  if (std::string version = json_string_at(metadata, "resourceVersion"); !version.empty()) resource_version_ = version;
  if (type == "BOOKMARK") return;  // only the version moves
  if (type == "DELETED") {
    ObjectKey key{is_namespaced(resource_.kind) ? json_string_at(metadata, "namespace") : "", json_string_at(metadata, "name")};
    spdlog::debug("kube: {} {} deleted", kind_name(resource_.kind), key.to_string());
    sink_.remove(std::move(key));
    return;
  }
  Object decoded = decode_object_as(resource_.kind, object);
  spdlog::debug("kube: {} {} {}", kind_name(resource_.kind), key_of(decoded).to_string(),
                type == "ADDED" ? "added" : "modified");
  sink_.upsert(std::move(decoded));
}

void Informer::on_watch_end(WatchEnd end) {
  watch_.reset();
  bool healthy = clock_.now() - watch_started_ >= options_.healthy_watch;
  if (end.status == 410) {
    restart(RestartReason::kExpired, "watch answered 410: " + status_message(end.body), true, healthy);
  } else if (end.status != 200 && end.status != 0) {
    restart(RestartReason::kError,
            "watch answered " + std::to_string(end.status) + ": " + status_message(end.body), false, false);
  } else if (end.timed_out) {
    restart(RestartReason::kTimeout, "no end from the server within the watch deadline", false, true);
  } else if (end.status == 0) {
    restart(RestartReason::kError, "watch: " + end.error, false, false);
  } else if (!end.error.empty()) {
    restart(RestartReason::kDropped, end.error + " after " + std::to_string(watch_events_) + " event(s)", false, healthy);
  } else {
    restart(RestartReason::kClosed, "the server ended the watch after " + std::to_string(watch_events_) + " event(s)",
            false, healthy);
  }
}

void Informer::restart(RestartReason reason, const std::string& detail, bool relist, bool healthy) {
  if (on_restart_) on_restart_(resource_.plural, reason);
  std::chrono::milliseconds delay = 0ms;
  if (healthy) {
    backoff_.reset();
  } else {
    delay = backoff_.next();
  }
  std::string next = relist ? "listing again" : "watching again from resourceVersion " + resource_version_;
  if (delay == 0ms) {
    kLog.info({.kind = kind_name(resource_.kind), .reason = restart_reason_name(reason)}, "kube: {}: {} ({}); {}",
              resource_.plural, detail, restart_reason_name(reason), next);
  } else {
    kLog.warn({.kind = kind_name(resource_.kind), .reason = restart_reason_name(reason)}, "kube: {}: {} ({}); {} in {} ms",
              resource_.plural, detail, restart_reason_name(reason), next, delay.count());
  }
  // A watch can only resume from a version a list gave us.
  bool must_list = relist || !listed_;
  auto self = shared_from_this();
  timer_->wait(delay, [self, must_list] {
    if (self->stopped_) return;
    if (must_list) {
      self->list("");
    } else {
      self->watch();
    }
  });
}

}  // namespace grpc_ingress
