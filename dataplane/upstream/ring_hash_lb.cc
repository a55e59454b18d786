#include "dataplane/upstream/ring_hash_lb.h"

#include <algorithm>

namespace grpc_ingress {

uint64_t RingHashLb::hash(std::string_view text) {
  // FNV-1a, then a 64-bit finaliser (splitmix64) to spread nearby keys.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

void RingHashLb::build(const Cluster& cluster) {
  built_for_ = cluster.endpoints;
  ring_.clear();
  ring_.reserve(cluster.endpoints.size() * kPointsPerEndpoint);
  for (size_t i = 0; i < cluster.endpoints.size(); ++i) {
    // Points depend on the address only, so other pods' points stay put.
    std::string address = cluster.endpoints[i].address();
    for (int p = 0; p < kPointsPerEndpoint; ++p) {
      ring_.emplace_back(hash(address + "#" + std::to_string(p)), i);
    }
  }
  std::sort(ring_.begin(), ring_.end());
}

const Endpoint* RingHashLb::pick(const Cluster& cluster, const PickContext& context) {
  if (cluster.endpoints.empty()) return nullptr;
  if (context.hash_key.empty()) return fallback_.pick(cluster, context);
  if (built_for_ != cluster.endpoints) build(cluster);
  uint64_t key = hash(context.hash_key);
  auto it = std::lower_bound(ring_.begin(), ring_.end(), std::make_pair(key, size_t{0}));
  for (size_t step = 0; step < ring_.size(); ++step, ++it) {
    if (it == ring_.end()) it = ring_.begin();
    if (context.usable(it->second)) return &cluster.endpoints[it->second];
  }
  return nullptr;
}

}  // namespace grpc_ingress
