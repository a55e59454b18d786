#pragma once

#include "common/route_table.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace grpc_ingress {

// One T per (cluster, endpoint address), kept across tables: an endpoint
// that stays in its cluster keeps its object. Any thread (one mutex); a
// worker resolves a cluster's pointers once (when the table is applied, or at
// the cluster's first call after it changed), so a call does not touch it. Per endpoint it holds a
// 20-byte binary address and a pointer, sorted per cluster: at 100,000
// endpoints a map of strings cost five times as much.
template <typename T>
class EndpointMap {
 public:
  // One object per endpoint of `cluster`, in its order: the kept one, or new.
  std::vector<std::shared_ptr<T>> resolve(const Cluster& cluster) {
    std::vector<std::shared_ptr<T>> out;
    out.reserve(cluster.endpoints.size());
    std::lock_guard lock(mutex_);
    Entries& entries = clusters_[cluster.name];
    Entries added;
    for (const Endpoint& endpoint : cluster.endpoints) {
      PodAddress address = endpoint.pod_address();
      auto it = std::lower_bound(entries.begin(), entries.end(), address, by_address);
      if (it != entries.end() && it->first == address) {
        out.push_back(it->second);
        continue;
      }
      out.push_back(std::make_shared<T>());
      added.emplace_back(address, out.back());
    }
    if (!added.empty()) {
      entries.reserve(entries.size() + added.size());
      std::move(added.begin(), added.end(), std::back_inserter(entries));
      std::stable_sort(entries.begin(), entries.end(),
                       [](const Entry& a, const Entry& b) { return a.first < b.first; });
      // A cluster lists each address once; should one repeat, the first object stays.
      entries.erase(std::unique(entries.begin(), entries.end(),
                                [](const Entry& a, const Entry& b) { return a.first == b.first; }),
                    entries.end());
    }
    return out;
  }

  // Forgets the endpoints `cluster` no longer has (holders keep theirs).
  void retain(const Cluster& cluster) {
    std::vector<PodAddress> keep;
    keep.reserve(cluster.endpoints.size());
    for (const Endpoint& endpoint : cluster.endpoints) keep.push_back(endpoint.pod_address());
    std::sort(keep.begin(), keep.end());
    std::lock_guard lock(mutex_);
    auto it = clusters_.find(cluster.name);
    if (it == clusters_.end()) return;
    std::erase_if(it->second, [&](const Entry& entry) {
      return !std::binary_search(keep.begin(), keep.end(), entry.first);
    });
    it->second.shrink_to_fit();
  }

  void forget(const std::string& cluster) {
    std::lock_guard lock(mutex_);
    clusters_.erase(cluster);
  }

  // The object if it exists, else nullptr.
  std::shared_ptr<T> find(const std::string& cluster, const PodAddress& address) const {
    std::lock_guard lock(mutex_);
    auto it = clusters_.find(cluster);
    if (it == clusters_.end()) return nullptr;
    auto entry = std::lower_bound(it->second.begin(), it->second.end(), address, by_address);
    return entry != it->second.end() && entry->first == address ? entry->second : nullptr;
  }

 private:
  using Entry = std::pair<PodAddress, std::shared_ptr<T>>;
  using Entries = std::vector<Entry>;  // sorted by address
  static bool by_address(const Entry& entry, const PodAddress& address) { return entry.first < address; }

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entries> clusters_;
};

}  // namespace grpc_ingress
