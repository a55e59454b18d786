#include "dataplane/access_control.h"

#include "dataplane/client_certificate_headers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace grpc_ingress {

size_t RateLimitBuckets::KeyHash::operator()(const Key& key) const {
  uint64_t high, low;
  std::memcpy(&high, key.client.bytes(), 8);
  std::memcpy(&low, key.client.bytes() + 8, 8);
  uint64_t x = high ^ (low * 0x9e3779b97f4a7c15ULL) ^ reinterpret_cast<uintptr_t>(key.limit);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<size_t>(x ^ (x >> 31));
}

bool AccessControl::admit(ProxyStream& stream, const AccessPolicy& policy, Clock::time_point now) {
  const IpAddress& client = stream.client_address;
  if (contains_any(policy.deny, client) || (!policy.allow.empty() && !contains_any(policy.allow, client))) {
    refuse(stream, kRefusedSourceRange, GrpcStatus::kPermissionDenied, 403,
           "client address " + std::string(stream.client_address_text) + " is not allowed");
    return false;
  }
  if (policy.client_cert != ClientCertMode::kOff && !client_certificate_ok(stream, policy)) return false;
  if (policy.rate_limit && !contains_any(policy.rate_limit->exempt, client) &&
      !within_limits(stream, *policy.rate_limit, now)) {
    return false;
  }
  return true;
}

bool AccessControl::client_certificate_ok(ProxyStream& stream, const AccessPolicy& policy) {
  const ClientCertificate* certificate =
      stream.peer && stream.peer->certificate && stream.peer->certificate->presented ? &*stream.peer->certificate
                                                                                      : nullptr;
  // As ingress-nginx: 400 to HTTP clients, with nginx's words; gRPC gets UNAUTHENTICATED.
  if (!certificate) {
    if (policy.client_cert != ClientCertMode::kOn) return true;
    refuse(stream, kRefusedClientCertificate, GrpcStatus::kUnauthenticated, 400,
           stream.downstream_tls ? "no required SSL certificate was sent" : "a client certificate is required (use TLS)");
    return false;
  }
  if (!certificate_judged_for_host(stream, *certificate)) {
    refuse(stream, kRefusedClientCertificate, GrpcStatus::kUnauthenticated, 421,
           "the client certificate was checked for TLS server name '" + certificate->server_name + "', not for host '" +
               std::string(stream.authority) + "': connect with that server name");
    return false;
  }
  if (!certificate->verified && policy.client_cert != ClientCertMode::kOptionalNoCa) {
    refuse(stream, kRefusedClientCertificate, GrpcStatus::kUnauthenticated, 400,
           "the SSL certificate error: " + certificate->verify_error);
    return false;
  }
  return true;
}

bool AccessControl::within_limits(ProxyStream& stream, const RateLimit& limit, Clock::time_point now) {
  switch (buckets_->take(limit, stream.client_address, now, stream.in_flight_slot)) {
    case RateLimitBuckets::Verdict::kAdmitted:
      return true;
    case RateLimitBuckets::Verdict::kRateLimited:
      refuse(stream, kRefusedRateLimit, GrpcStatus::kResourceExhausted, limit.http_status,
             "rate limit of " + std::string(stream.client_address_text) + " exceeded");
      return false;
    case RateLimitBuckets::Verdict::kConcurrencyLimited:
      refuse(stream, kRefusedConcurrencyLimit, GrpcStatus::kResourceExhausted, limit.http_status,
             "too many requests in flight from " + std::string(stream.client_address_text));
      return false;
    case RateLimitBuckets::Verdict::kFull:
      break;
  }
  refuse(stream, kRefusedRateLimit, GrpcStatus::kResourceExhausted, limit.http_status,
         "too many clients are rate limited at once");
  return false;
}

std::shared_ptr<RateLimitBuckets> RateLimitBuckets::process() {
  static const auto buckets = std::make_shared<RateLimitBuckets>();
  return buckets;
}

RateLimitBuckets::Verdict RateLimitBuckets::take(const RateLimit& limit, const IpAddress& client,
                                                 Clock::time_point now,
                                                 std::shared_ptr<std::atomic<uint32_t>>& in_flight) {
  Key key{&limit, client};
  size_t hash = KeyHash{}(key);
  Shard& shard = shards_[hash % kShards];
  std::lock_guard lock(shard.mutex);
  double burst = std::max<uint32_t>(limit.burst_multiplier, 1);
  auto it = shard.clients.find(key);
  if (it == shard.clients.end()) {
    if (shard.clients.size() >= kMaxClients / kShards) {
      // A bucket idle for a minute has refilled (unless its burst exceeds a
      // minute's tokens, when forgetting it only gives the client a fresh burst).
      std::erase_if(shard.clients, [&](const auto& entry) {
        return entry.second.in_flight->load(std::memory_order_relaxed) == 0 &&
               now - entry.second.updated >= std::chrono::minutes(1);
      });
      if (shard.clients.size() >= kMaxClients / kShards) return Verdict::kFull;
    }
    Bucket fresh;
    fresh.second_tokens = limit.per_second * burst;
    fresh.minute_tokens = limit.per_minute * burst;
    fresh.updated = now;
    it = shard.clients.emplace(key, std::move(fresh)).first;
  }
  Bucket& bucket = it->second;
  double elapsed = std::max(0.0, std::chrono::duration<double>(now - bucket.updated).count());
  bucket.updated = std::max(bucket.updated, now);
  if (limit.per_second) {
    bucket.second_tokens = std::min(limit.per_second * burst, bucket.second_tokens + elapsed * limit.per_second);
  }
  if (limit.per_minute) {
    bucket.minute_tokens =
        std::min(limit.per_minute * burst, bucket.minute_tokens + elapsed * limit.per_minute / 60.0);
  }
  if ((limit.per_second && bucket.second_tokens < 1) || (limit.per_minute && bucket.minute_tokens < 1)) {
    return Verdict::kRateLimited;
  }
  if (limit.concurrent && bucket.in_flight->load(std::memory_order_relaxed) >= limit.concurrent) {
    return Verdict::kConcurrencyLimited;
  }
  if (limit.per_second) bucket.second_tokens -= 1;
  if (limit.per_minute) bucket.minute_tokens -= 1;
  if (limit.concurrent) {
    bucket.in_flight->fetch_add(1, std::memory_order_relaxed);
    in_flight = bucket.in_flight;
  }
  return Verdict::kAdmitted;
}

size_t RateLimitBuckets::tracked_clients() const {
  size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.clients.size();
  }
  return total;
}

void AccessControl::refuse(ProxyStream& stream, AccessRefusal reason, GrpcStatus status, int http_status,
                           const std::string& why) {
  bump(stats_.access_refused[reason]);
  spdlog::debug("{} refused ({}): {}", stream.log_prefix(), access_refusal_label(reason), why);
  stream.fail(status, why, http_status);
}

}  // namespace grpc_ingress
