#pragma once

#include "common/route_table.h"

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace grpc_ingress {

// One T per (cluster, endpoint address), kept across tables: an endpoint
// that stays in its cluster keeps its object. Any thread (one mutex); the
// request path uses the pointers resolved when a table is applied, so the
// map is touched only for clusters that changed.
template <typename T>
class EndpointMap {
 public:
  // One object per endpoint of `cluster`, in its order: the kept one, or new.
  std::vector<std::shared_ptr<T>> resolve(const Cluster& cluster) {
    std::vector<std::shared_ptr<T>> out;
    out.reserve(cluster.endpoints.size());
    std::lock_guard lock(mutex_);
    auto& objects = clusters_[cluster.name];
    for (const Endpoint& endpoint : cluster.endpoints) {
      auto& object = objects[endpoint.address()];
      if (!object) object = std::make_shared<T>();
      out.push_back(object);
    }
    return out;
  }

  // Forgets the endpoints `cluster` no longer has (holders keep theirs).
  void retain(const Cluster& cluster) {
    std::set<std::string> keep;
    for (const Endpoint& endpoint : cluster.endpoints) keep.insert(endpoint.address());
    std::lock_guard lock(mutex_);
    auto it = clusters_.find(cluster.name);
    if (it == clusters_.end()) return;
    std::erase_if(it->second, [&](const auto& entry) { return !keep.count(entry.first); });
  }

  void forget(const std::string& cluster) {
    std::lock_guard lock(mutex_);
    clusters_.erase(cluster);
  }

  // The object if it exists, else nullptr.
  std::shared_ptr<T> find(const std::string& cluster, const std::string& address) const {
    std::lock_guard lock(mutex_);
    auto it = clusters_.find(cluster);
    if (it == clusters_.end()) return nullptr;
    auto object = it->second.find(address);
    return object == it->second.end() ? nullptr : object->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::map<std::string, std::shared_ptr<T>>> clusters_;  // cluster -> address -> T
};

}  // namespace grpc_ingress
