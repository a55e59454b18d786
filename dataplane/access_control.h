#pragma once

#include "common/access_policy.h"
#include "dataplane/proxy_stream.h"
#include "dataplane/stats.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace grpc_ingress {

// The token buckets of limit-rps / limit-rpm / limit-connections, one per
// (Ingress limits, client address), shared by every worker so that a limit
// holds however a client's connections are spread (HTTP/1.1 clients that
// reconnect land on any worker). Sharded: a lookup locks one shard, briefly.
class RateLimitBuckets {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kShards = 16;
  // Clients tracked at once, so that a flood of addresses costs bounded
  // memory; past it, idle clients are forgotten first (as nginx's limit_req zone).
  static constexpr size_t kMaxClients = 65536;

  // The process's, which every worker's AccessControl uses.
  static std::shared_ptr<RateLimitBuckets> process();

  enum class Verdict { kAdmitted, kRateLimited, kConcurrencyLimited, kFull };
  // Takes a token (and an in-flight place, held in `in_flight` until the
  // stream drops it) for `client` under `limit`, or says why not.
  Verdict take(const RateLimit& limit, const IpAddress& client, Clock::time_point now,
               std::shared_ptr<std::atomic<uint32_t>>& in_flight);
  size_t tracked_clients() const;

 private:
  struct Key {
    const RateLimit* limit;  // the routes' shared policy: same object on every worker
    IpAddress client;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  struct Bucket {
    double second_tokens = 0, minute_tokens = 0;
    Clock::time_point updated{};
    // Requests in flight; streams hold it until they end (made once per client).
    std::shared_ptr<std::atomic<uint32_t>> in_flight = std::make_shared<std::atomic<uint32_t>>(0);
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<Key, Bucket, KeyHash> clients;
  };

  std::array<Shard, kShards> shards_;
};

// The checks of an Ingress's AccessPolicy that need no answer from elsewhere:
// source ranges, the client certificate, rate and concurrency limits, in that
// order. One per worker; worker thread only.
class AccessControl {
 public:
  using Clock = RateLimitBuckets::Clock;

  explicit AccessControl(WorkerStats& stats,
                         std::shared_ptr<RateLimitBuckets> buckets = RateLimitBuckets::process())
      : stats_(stats), buckets_(std::move(buckets)) {}

  // True when the request may go on; otherwise it was answered (fail()).
  bool admit(ProxyStream& stream, const AccessPolicy& policy, Clock::time_point now = Clock::now());

 private:
  bool client_certificate_ok(ProxyStream& stream, const AccessPolicy& policy);
  bool within_limits(ProxyStream& stream, const RateLimit& limit, Clock::time_point now);
  void refuse(ProxyStream& stream, AccessRefusal reason, GrpcStatus status, int http_status, const std::string& why);

  WorkerStats& stats_;
  std::shared_ptr<RateLimitBuckets> buckets_;
};

}  // namespace grpc_ingress
