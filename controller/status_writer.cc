#include "controller/status_writer.h"

#include "controller/gateway_status_writer.h"
#include "controller/translate/k8s_names.h"
#include "common/log.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace grpc_ingress {
namespace {

const ComponentLog kLog{"status-writer"};

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::vector<LoadBalancerIngress> sorted_unique(std::vector<LoadBalancerIngress> addresses) {
  std::sort(addresses.begin(), addresses.end());
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  return addresses;
}

std::string to_string(const std::vector<LoadBalancerIngress>& addresses) {
  std::string out;
  for (const LoadBalancerIngress& address : addresses) {
    out += (out.empty() ? "" : ", ") + (address.ip.empty() ? address.hostname : address.ip);
  }
  return out.empty() ? "(none)" : out;
}

std::vector<LoadBalancerIngress> load_balancer_of(const json& ingress) {
  std::vector<LoadBalancerIngress> out;
  const json* entries = &ingress;
  for (const char* key : {"status", "loadBalancer", "ingress"}) {
    if (!entries->is_object() || !entries->contains(key)) return out;
    entries = &(*entries)[key];
  }
  if (!entries->is_array()) return out;
  for (const json& entry : *entries) {
    if (!entry.is_object()) continue;
    LoadBalancerIngress address;
    if (auto ip = entry.find("ip"); ip != entry.end() && ip->is_string()) address.ip = ip->get<std::string>();
    if (auto host = entry.find("hostname"); host != entry.end() && host->is_string()) {
      address.hostname = host->get<std::string>();
    }
    out.push_back(std::move(address));
  }
  return out;
}

json to_json(const std::vector<LoadBalancerIngress>& addresses) {
  json list = json::array();
  for (const LoadBalancerIngress& address : addresses) {
    json entry = json::object();
    if (!address.ip.empty()) entry["ip"] = address.ip;
    if (!address.hostname.empty()) entry["hostname"] = address.hostname;
    list.push_back(std::move(entry));
  }
  return list;
}

// The object's path, by the resources the informers watch.
std::string object_path(const StatusTarget& target) {
  std::vector<ResourceType> resources = gateway_api_resources();
  resources.push_back(ingresses_resource());
  auto resource = std::find_if(resources.begin(), resources.end(),
                               [&](const ResourceType& resource) { return resource.kind == target.kind; });
  std::string path = resource->group_version_path;
  if (is_namespaced(target.kind)) path += "/namespaces/" + target.key.namespace_name;
  return path + "/" + resource->plural + "/" + target.key.name;
}

// "Accepted=True Programmed=False/Invalid", for the log.
std::string to_string(const std::vector<Condition>& conditions) {
  std::string out;
  for (const Condition& condition : conditions) {
    out += (out.empty() ? "" : " ") + condition.type + (condition.status ? "=True" : "=False/" + condition.reason);
  }
  return out;
}

std::string to_string(const std::vector<RouteParentStatus>& parents) {
  std::string out;
  for (const RouteParentStatus& parent : parents) {
    const ParentReference& ref = parent.parent_ref;
    out += (out.empty() ? "" : "; ") + (ref.namespace_name.empty() ? "" : ref.namespace_name + "/") + ref.name +
           (ref.section_name.empty() ? "" : "/" + ref.section_name) + ": " + to_string(parent.conditions);
  }
  return out.empty() ? "(no parents of ours)" : out;
}

}  // namespace

std::vector<LoadBalancerIngress> parse_status_addresses(const std::vector<std::string>& addresses) {
  std::vector<LoadBalancerIngress> out;
  for (const std::string& address : addresses) {
    if (address.empty()) continue;
    out.push_back(is_ip_address(address) ? LoadBalancerIngress{address, ""} : LoadBalancerIngress{"", address});
  }
  return sorted_unique(std::move(out));
}

std::vector<LoadBalancerIngress> service_addresses(const Service& service) {
  std::vector<LoadBalancerIngress> out;
  if (service.type == "LoadBalancer") out = service.load_balancer;
  for (const std::string& ip : service.external_ips) out.push_back({ip, ""});
  // A LoadBalancer still being provisioned has no address yet; its clusterIP is no substitute.
  if (out.empty() && service.type != "LoadBalancer" && !service.cluster_ip.empty() && service.cluster_ip != "None") {
    out.push_back({service.cluster_ip, ""});
  }
  return sorted_unique(std::move(out));
}

std::string StatusTarget::to_string() const { return std::string(kind_name(kind)) + " " + key.to_string(); }

Result<ObjectKey> parse_namespaced_name(const std::string& text, const std::string& flag) {
  auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size() ||
      text.find('/', slash + 1) != std::string::npos) {
    return Error{flag + " " + text + ": expected NAMESPACE/NAME"};
  }
  ObjectKey key{text.substr(0, slash), text.substr(slash + 1)};
  if (!is_dns_subdomain(key.namespace_name) || !is_dns_subdomain(key.name)) {
    return Error{flag + " " + text + ": not a valid namespace and name"};
  }
  return key;
}

StatusWriter::StatusWriter(boost::asio::io_context& io, KubeApi& api, const Store& store, StatusWriterOptions options)
    : io_(io), api_(api), store_(store), options_(std::move(options)), retry_timer_(io) {
  if (options_.publish_addresses.empty() && !options_.publish_service.empty()) {
    if (auto key = parse_namespaced_name(options_.publish_service, "--publish-service")) publish_service_key_ = *key;
  }
}

void StatusWriter::start() {
  if (!options_.publish_addresses.empty()) {
    addresses_known_ = true;
    addresses_ = parse_status_addresses(options_.publish_addresses);
    spdlog::info("status: Ingresses and Gateways get the address(es) {} (--publish-status-address)",
                 to_string(addresses_));
    return;
  }
  if (!publish_service_key_) {
    spdlog::info(
        "status: no --publish-service or --publish-status-address; Ingress status is left alone, Gateways get no "
        "address");
    return;
  }
  ResourceType resource = services_resource();
  resource.field_selector = "metadata.name=" + publish_service_key_->name;
  std::weak_ptr<StatusWriter> weak = weak_from_this();
  auto take = [weak](std::optional<Service> service) {
    auto self = weak.lock();
    if (!self || self->stopped_) return;
    if (!service) {
      kLog.warn({.kind = "Service", .object = self->publish_service_key_->to_string(), .reason = "PublishServiceNotFound"},
                "status: the --publish-service Service {} does not exist; Ingresses and Gateways get no address",
                self->publish_service_key_->to_string());
    }
    self->set_addresses(service ? service_addresses(*service) : std::vector<LoadBalancerIngress>{});
  };
  auto service_of = [](const Object& object) -> std::optional<Service> {
    if (const auto* service = std::get_if<Service>(&object)) return *service;
    return std::nullopt;
  };
  InformerSink sink{
      .replace = [take, service_of](std::vector<Object> objects) {
        std::optional<Service> found;
        for (const Object& object : objects) {
          if (!found) found = service_of(object);
        }
        take(found);
      },
      .upsert = [take, service_of](Object object) {
        if (auto service = service_of(object)) take(service);
      },
      .remove = [take](ObjectKey) { take(std::nullopt); },
  };
  publish_service_informer_ = std::make_shared<Informer>(io_, api_, std::move(resource),
                                                         publish_service_key_->namespace_name, std::move(sink),
                                                         options_.informer);
  publish_service_informer_->start();
}

void StatusWriter::stop() {
  stopped_ = true;
  retry_timer_.cancel();
  if (publish_service_informer_) publish_service_informer_->stop();
}

void StatusWriter::set_leading(bool leading) {
  leading_ = leading;
  written_.clear();  // a term as leader starts from what the objects carry
  if (leading) {
    reconcile();
  } else {
    queue_.clear();
    queued_.clear();
    recheck_.clear();
  }
}

void StatusWriter::on_translated(const Translation& translation) {
  bool gateway_changed = translation.gateway_status != gateway_status_;
  if (gateway_changed) {
    gateway_status_ = translation.gateway_status;
    std::erase_if(written_, [&](const auto& entry) { return !wants_status(entry.first); });
    // They write what was wanted when they began.
    for (const StatusTarget& target : in_flight_) {
      if (target.kind != ObjectKind::kIngress) recheck_.insert(target);
    }
  }
  if (!translation.endpoints_only) {  // else the same Ingresses are served
    std::set<ObjectKey> served(translation.served_ingresses->begin(), translation.served_ingresses->end());
    // A write in flight for an Ingress that joined or left our class writes what was wanted before.
    for (const StatusTarget& target : in_flight_) {
      if (target.kind == ObjectKind::kIngress && served.count(target.key) != served_.count(target.key)) {
        recheck_.insert(target);
      }
    }
    served_ = std::move(served);
  } else if (!gateway_changed) {
    return;
  }
  reconcile();
}

void StatusWriter::set_addresses(std::vector<LoadBalancerIngress> addresses) {
  bool first = !addresses_known_;  // the Gateways were waiting for it, even if there is none
  addresses_known_ = true;
  if (addresses == addresses_ && !first) return;
  spdlog::info("status: Ingresses and Gateways get the address(es) {} (Service {})", to_string(addresses),
               publish_service_key_ ? publish_service_key_->to_string() : "");
  addresses_ = std::move(addresses);
  recheck_.insert(in_flight_.begin(), in_flight_.end());  // they write the old addresses
  reconcile();
}

std::optional<std::vector<LoadBalancerIngress>> StatusWriter::desired_for(
    const ObjectKey& key, const std::vector<LoadBalancerIngress>& current) const {
  if (served_.count(key)) return addresses_;
  // Ours no longer: take back what we wrote, leave anyone else's status alone.
  if (!addresses_.empty() && sorted_unique(current) == addresses_) return std::vector<LoadBalancerIngress>{};
  return std::nullopt;
}

const std::map<ObjectKey, StatusWriter::RouteParents>* StatusWriter::routes_of(ObjectKind kind) const {
  if (!gateway_status_) return nullptr;
  if (kind == ObjectKind::kGRPCRoute) return &gateway_status_->grpc_routes;
  if (kind == ObjectKind::kHTTPRoute) return &gateway_status_->http_routes;
  return nullptr;
}

bool StatusWriter::wants_status(const StatusTarget& target) const {
  if (!gateway_status_) return false;
  switch (target.kind) {
    case ObjectKind::kGatewayClass:
      return gateway_status_->gateway_classes.count(target.key) > 0;
    case ObjectKind::kGateway:
      return gateway_status_->gateways.count(target.key) > 0;
    case ObjectKind::kGRPCRoute:
    case ObjectKind::kHTTPRoute: {
      if (routes_of(target.kind)->count(target.key)) return true;
      // A route the translation no longer lists loses the entries we wrote.
      auto written = written_.find(target);
      const auto* parents = written == written_.end() ? nullptr : std::get_if<RouteParents>(&written->second);
      return parents && !parents->empty();
    }
    default:
      return false;
  }
}

std::optional<StatusWriter::Wanted> StatusWriter::wanted(const StatusTarget& target) const {
  if (!wants_status(target)) return std::nullopt;
  switch (target.kind) {
    case ObjectKind::kGatewayClass:
      return gateway_status_->gateway_classes.at(target.key);
    case ObjectKind::kGateway:
      return GatewayWanted{gateway_status_->gateways.at(target.key), addresses_};
    default: {
      const auto& routes = *routes_of(target.kind);
      auto it = routes.find(target.key);
      return it == routes.end() ? RouteParents{} : it->second;
    }
  }
}

bool StatusWriter::exists(const StatusTarget& target) const {
  return target.kind == ObjectKind::kIngress ? store_.ingresses().count(target.key) > 0 : wants_status(target);
}

void StatusWriter::reconcile() {
  if (stopped_ || !leading_) return;
  auto now = Clock::now();
  std::erase_if(retries_, [&](const auto& entry) { return !exists(entry.first); });
  if (enabled() && addresses_known_) {
    for (const auto& [key, ingress] : store_.ingresses()) {
      auto desired = desired_for(key, ingress.load_balancer);
      if (desired && *desired != sorted_unique(ingress.load_balancer)) enqueue({ObjectKind::kIngress, key}, now);
    }
  }
  if (gateway_status_) {
    // Each object whose status is not what it carries, as far as we know.
    auto look_at = [&](ObjectKind kind, const auto& objects, auto carries) {
      for (const auto& [key, value] : objects) {
        StatusTarget target{kind, key};
        auto written = written_.find(target);
        if (written == written_.end() || !carries(written->second, value)) enqueue(target, now);
      }
    };
    auto same = [](const Wanted& carried, const auto& value) {
      const auto* held = std::get_if<std::decay_t<decltype(value)>>(&carried);
      return held && *held == value;
    };
    look_at(ObjectKind::kGatewayClass, gateway_status_->gateway_classes, same);
    if (addresses_ready()) {
      look_at(ObjectKind::kGateway, gateway_status_->gateways, [&](const Wanted& carried, const GatewayStatus& value) {
        const auto* held = std::get_if<GatewayWanted>(&carried);
        return held && held->status == value && held->addresses == addresses_;
      });
    }
    look_at(ObjectKind::kGRPCRoute, gateway_status_->grpc_routes, same);
    look_at(ObjectKind::kHTTPRoute, gateway_status_->http_routes, same);
    for (const auto& [target, carried] : written_) {
      const auto* routes = routes_of(target.kind);
      if (routes && !routes->count(target.key) && wants_status(target)) enqueue(target, now);
    }
  }
  pump();
}

void StatusWriter::enqueue(const StatusTarget& target, Clock::time_point now) {
  if (in_flight_.count(target) || queued_.count(target)) return;
  if (auto retry = retries_.find(target); retry != retries_.end() && retry->second.at > now) return;
  queue_.push_back(target);
  queued_.insert(target);
}

void StatusWriter::pump() {
  while (in_flight_.size() < options_.max_in_flight && !queue_.empty()) {
    StatusTarget target = std::move(queue_.front());
    queue_.pop_front();
    queued_.erase(target);
    update(target, 1);
  }
}

std::optional<std::string> StatusWriter::set_status(const StatusTarget& target, json& object,
                                                   const std::optional<Wanted>& wanted) const {
  if (target.kind == ObjectKind::kIngress) {
    auto current = load_balancer_of(object);
    auto desired = desired_for(target.key, current);
    if (!desired || *desired == sorted_unique(current)) return std::nullopt;
    object["status"]["loadBalancer"] = desired->empty() ? json::object() : json{{"ingress", to_json(*desired)}};
    return "status.loadBalancer " + to_string(*desired);
  }
  if (!wanted) return std::nullopt;
  static const json kNone;
  const json& current = object.contains("status") ? object.at("status") : kNone;
  std::string now = rfc3339_seconds(options_.wall_clock());
  json status;
  std::string summary;
  if (const auto* accepted = std::get_if<Condition>(&*wanted)) {
    status = gateway_class_status(current, *accepted, now);
    summary = to_string({*accepted});
  } else if (const auto* gateway = std::get_if<GatewayWanted>(&*wanted)) {
    status = gateway_status(current, gateway->status, gateway->addresses, now);
    summary = to_string(gateway->status.conditions) + ", " + std::to_string(gateway->status.listeners.size()) +
              " listener(s), addresses " + to_string(gateway->addresses);
  } else {
    const auto& parents = std::get<RouteParents>(*wanted);
    status = route_status(current, parents, options_.gateway_controller_name, now);
    summary = "parents " + to_string(parents);
  }
  if (status == current) return std::nullopt;
  object["status"] = std::move(status);
  return summary;
}

void StatusWriter::update(const StatusTarget& target, int attempt) {
  in_flight_.insert(target);
  auto self = shared_from_this();
  api_.request({.method = "GET", .target = object_path(target)}, [self, target, attempt](Result<KubeResponse> response) {
    if (self->stopped_) return;
    if (!self->leading_ || (response && response->status == 404)) {
      self->written_.erase(target);  // gone, or not ours to know any more
      self->finish(target, true);
      return;
    }
    auto object = response && response->status == 200 ? json::parse(response->body, nullptr, false) : json();
    if (!object.is_object()) {
      kLog.warn({.kind = kind_name(target.kind), .object = target.key.to_string(), .reason = "StatusReadFailed"},
                "status: reading {} failed: {}", target.to_string(),
                response ? std::to_string(response->status) + " " + status_message(response->body)
                         : response.error().message);
      self->finish(target, false);
      return;
    }
    std::optional<Wanted> wanted = target.kind == ObjectKind::kIngress ? std::nullopt : self->wanted(target);
    auto summary = self->set_status(target, object, wanted);
    if (!summary) {
      if (wanted) self->written_[target] = std::move(*wanted);  // it carries that already
      self->finish(target, true);
      return;
    }
    self->write(target, attempt, std::move(object), std::move(wanted), std::move(*summary));
  });
}

void StatusWriter::write(const StatusTarget& target, int attempt, json object, std::optional<Wanted> wanted,
                         std::string summary) {
  auto self = shared_from_this();
  api_.request(
      {.method = "PUT", .target = object_path(target) + "/status", .body = object.dump()},
      [self, target, attempt, wanted = std::move(wanted), summary](Result<KubeResponse> response) mutable {
        if (self->stopped_) return;
        if (response && response->status == 200) {
          ++self->updates_written_;
          kLog.info({.kind = kind_name(target.kind), .object = target.key.to_string(), .reason = "StatusWritten"},
                    "status: {} now has {}", target.to_string(), summary);
          if (wanted) self->written_[target] = std::move(*wanted);
          self->finish(target, true);
          return;
        }
        if (response && response->status == 409 && attempt < self->options_.max_conflict_retries) {
          // Someone wrote the object since we read it: read it again.
          self->in_flight_.erase(target);
          self->update(target, attempt + 1);
          return;
        }
        kLog.warn({.kind = kind_name(target.kind), .object = target.key.to_string(), .reason = "StatusWriteFailed"},
                  "status: writing the status of {} failed: {}", target.to_string(),
                  response ? std::to_string(response->status) + " " + status_message(response->body)
                           : response.error().message);
        self->finish(target, false);
      });
}

void StatusWriter::finish(const StatusTarget& target, bool success) {
  in_flight_.erase(target);
  if (success) {
    retries_.erase(target);
    if (recheck_.erase(target)) {
      reconcile();  // what it wrote was wanted when it began, maybe not now
      return;
    }
  } else {
    auto it = retries_.find(target);
    auto backoff = it == retries_.end() ? options_.retry_initial : std::min(it->second.backoff * 2, options_.retry_max);
    retries_[target] = {Clock::now() + backoff, backoff};
    schedule_retry();
  }
  pump();
}

void StatusWriter::schedule_retry() {
  auto earliest = Clock::time_point::max();
  for (const auto& [target, retry] : retries_) earliest = std::min(earliest, retry.at);
  if (earliest == Clock::time_point::max()) return;
  auto self = shared_from_this();
  retry_timer_.expires_at(earliest);
  retry_timer_.async_wait([self](boost::system::error_code error) {
    if (!error) self->reconcile();
  });
}

}  // namespace grpc_ingress
