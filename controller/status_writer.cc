#include "controller/status_writer.h"

#include "controller/translate/k8s_names.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace grpc_ingress {
namespace {

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

std::string ingress_path(const ObjectKey& key) {
  return "/apis/networking.k8s.io/v1/namespaces/" + key.namespace_name + "/ingresses/" + key.name;
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
    spdlog::info("status: Ingresses get the address(es) {} (--publish-status-address)", to_string(addresses_));
    return;
  }
  if (!publish_service_key_) {
    spdlog::info("status: no --publish-service or --publish-status-address; Ingress status is left alone");
    return;
  }
  ResourceType resource = services_resource();
  resource.field_selector = "metadata.name=" + publish_service_key_->name;
  std::weak_ptr<StatusWriter> weak = weak_from_this();
  auto take = [weak](std::optional<Service> service) {
    auto self = weak.lock();
    if (!self || self->stopped_) return;
    if (!service) {
      spdlog::warn("status: the --publish-service Service {} does not exist; Ingresses get no address",
                   self->publish_service_key_->to_string());
    }
    self->addresses_known_ = true;
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
  if (leading) {
    reconcile();
  } else {
    queue_.clear();
    queued_.clear();
    recheck_.clear();
  }
}

void StatusWriter::on_translated(const Translation& translation) {
  if (translation.endpoints_only) return;  // the same Ingresses are served
  std::set<ObjectKey> served(translation.served_ingresses->begin(), translation.served_ingresses->end());
  // A write in flight for an Ingress that joined or left our class writes what was wanted before.
  for (const ObjectKey& key : in_flight_) {
    if (served.count(key) != served_.count(key)) recheck_.insert(key);
  }
  served_ = std::move(served);
  reconcile();
}

void StatusWriter::set_addresses(std::vector<LoadBalancerIngress> addresses) {
  if (addresses == addresses_) return;
  spdlog::info("status: Ingresses get the address(es) {} (Service {})", to_string(addresses),
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

void StatusWriter::reconcile() {
  if (stopped_ || !leading_ || !enabled() || !addresses_known_) return;
  auto now = Clock::now();
  std::erase_if(retries_, [&](const auto& entry) { return !store_.ingresses().count(entry.first); });
  for (const auto& [key, ingress] : store_.ingresses()) {
    if (in_flight_.count(key) || queued_.count(key)) continue;
    if (auto retry = retries_.find(key); retry != retries_.end() && retry->second.at > now) continue;
    auto desired = desired_for(key, ingress.load_balancer);
    if (desired && *desired != sorted_unique(ingress.load_balancer)) {
      queue_.push_back(key);
      queued_.insert(key);
    }
  }
  pump();
}

void StatusWriter::pump() {
  while (in_flight_.size() < options_.max_in_flight && !queue_.empty()) {
    ObjectKey key = std::move(queue_.front());
    queue_.pop_front();
    queued_.erase(key);
    update(key, 1);
  }
}

void StatusWriter::update(const ObjectKey& key, int attempt) {
  in_flight_.insert(key);
  auto self = shared_from_this();
  api_.request({.method = "GET", .target = ingress_path(key)}, [self, key, attempt](Result<KubeResponse> response) {
    if (self->stopped_) return;
    if (!self->leading_ || (response && response->status == 404)) {
      self->finish(key, true);
      return;
    }
    auto ingress = response && response->status == 200 ? json::parse(response->body, nullptr, false) : json();
    if (!ingress.is_object()) {
      spdlog::warn("status: reading Ingress {} failed: {}", key.to_string(),
                   response ? std::to_string(response->status) + " " + status_message(response->body)
                            : response.error().message);
      self->finish(key, false);
      return;
    }
    auto desired = self->desired_for(key, load_balancer_of(ingress));
    if (!desired || *desired == sorted_unique(load_balancer_of(ingress))) {
      self->finish(key, true);
      return;
    }
    ingress["status"]["loadBalancer"] = desired->empty() ? json::object() : json{{"ingress", to_json(*desired)}};
    self->api_.request(
        {.method = "PUT", .target = ingress_path(key) + "/status", .body = ingress.dump()},
        [self, key, attempt, addresses = *desired](Result<KubeResponse> response) {
          if (self->stopped_) return;
          if (response && response->status == 200) {
            ++self->updates_written_;
            spdlog::info("status: Ingress {} now has status.loadBalancer {}", key.to_string(), to_string(addresses));
            self->finish(key, true);
            return;
          }
          if (response && response->status == 409 && attempt < self->options_.max_conflict_retries) {
            // Someone wrote the Ingress since we read it: read it again.
            self->in_flight_.erase(key);
            self->update(key, attempt + 1);
            return;
          }
          spdlog::warn("status: writing the status of Ingress {} failed: {}", key.to_string(),
                       response ? std::to_string(response->status) + " " + status_message(response->body)
                                : response.error().message);
          self->finish(key, false);
        });
  });
}

void StatusWriter::finish(const ObjectKey& key, bool success) {
  in_flight_.erase(key);
  if (success) {
    retries_.erase(key);
    if (recheck_.erase(key)) {
      reconcile();  // what it wrote was wanted when it began, maybe not now
      return;
    }
  } else {
    auto it = retries_.find(key);
    auto backoff = it == retries_.end() ? options_.retry_initial : std::min(it->second.backoff * 2, options_.retry_max);
    retries_[key] = {Clock::now() + backoff, backoff};
    schedule_retry();
  }
  pump();
}

void StatusWriter::schedule_retry() {
  auto earliest = Clock::time_point::max();
  for (const auto& [key, retry] : retries_) earliest = std::min(earliest, retry.at);
  if (earliest == Clock::time_point::max()) return;
  auto self = shared_from_this();
  retry_timer_.expires_at(earliest);
  retry_timer_.async_wait([self](boost::system::error_code error) {
    if (!error) self->reconcile();
  });
}

}  // namespace grpc_ingress
