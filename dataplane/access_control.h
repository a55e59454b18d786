#pragma once

#include "common/access_policy.h"
#include "dataplane/proxy_stream.h"
#include "dataplane/stats.h"

#include <chrono>
#include <cstdint>
#include <unordered_map>

namespace grpc_ingress {

// The checks of an Ingress's AccessPolicy that need no answer from elsewhere:
// source ranges, the client certificate, rate and concurrency limits, in that
// order. One per worker (its own token buckets); worker thread only.
class AccessControl {
 public:
  using Clock = std::chrono::steady_clock;
  // Per worker, so that a flood of client addresses costs bounded memory;
  // past it, idle clients are forgotten first (as nginx's limit_req zone).
  static constexpr size_t kMaxClients = 65536;

  explicit AccessControl(WorkerStats& stats) : stats_(stats) {}

  // True when the request may go on; otherwise it was answered (fail()).
  bool admit(ProxyStream& stream, const AccessPolicy& policy, Clock::time_point now = Clock::now());

  size_t tracked_clients() const { return clients_.size(); }

 private:
  struct Key {
    const RateLimit* limit;
    IpAddress client;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  // One client address under one Ingress's limits.
  struct Bucket {
    double second_tokens = 0, minute_tokens = 0;
    Clock::time_point updated{};
    // limit-connections: streams hold it until they end (made with the bucket, once per client).
    std::shared_ptr<uint32_t> in_flight = std::make_shared<uint32_t>(0);
  };

  bool client_certificate_ok(ProxyStream& stream, const AccessPolicy& policy);
  bool within_limits(ProxyStream& stream, const RateLimit& limit, Clock::time_point now);
  Bucket* bucket_for(const Key& key, const RateLimit& limit, Clock::time_point now);
  // Drops buckets that are full again and hold no request in flight.
  void forget_idle(Clock::time_point now);
  void refuse(ProxyStream& stream, AccessRefusal reason, GrpcStatus status, int http_status, const std::string& why);

  WorkerStats& stats_;
  std::unordered_map<Key, Bucket, KeyHash> clients_;
};

}  // namespace grpc_ingress
