#include "dataplane/endpoint_state.h"

#include <set>

namespace grpc_ingress {
namespace {
std::string key_of(const std::string& cluster, const std::string& address) { return cluster + "|" + address; }
}  // namespace

std::shared_ptr<EndpointState> EndpointStates::get(const std::string& cluster, const std::string& address) {
  std::lock_guard lock(mutex_);
  auto& state = states_[key_of(cluster, address)];
  if (!state) state = std::make_shared<EndpointState>();
  return state;
}

std::shared_ptr<EndpointState> EndpointStates::find(const std::string& cluster, const std::string& address) const {
  std::lock_guard lock(mutex_);
  auto it = states_.find(key_of(cluster, address));
  return it == states_.end() ? nullptr : it->second;
}

void EndpointStates::retain(const RouteTable& table) {
  std::set<std::string> keep;
  for (const Cluster& cluster : table.clusters) {
    for (const Endpoint& endpoint : cluster.endpoints) keep.insert(key_of(cluster.name, endpoint.address()));
  }
  std::lock_guard lock(mutex_);
  std::erase_if(states_, [&](const auto& entry) { return !keep.count(entry.first); });
}

std::vector<std::vector<std::shared_ptr<EndpointState>>> EndpointStates::resolve(const RouteTable& table) {
  std::vector<std::vector<std::shared_ptr<EndpointState>>> out;
  out.reserve(table.clusters.size());
  for (const Cluster& cluster : table.clusters) {
    auto& states = out.emplace_back();
    states.reserve(cluster.endpoints.size());
    for (const Endpoint& endpoint : cluster.endpoints) states.push_back(get(cluster.name, endpoint.address()));
  }
  return out;
}

}  // namespace grpc_ingress
