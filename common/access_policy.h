#pragma once

#include "common/ip_address.h"
#include "common/tls_settings.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace grpc_ingress {

// limit-rps / limit-rpm / limit-connections of an Ingress, per client
// address. Each worker keeps its own token buckets at the full rate
// (docs/edge-access.md, "Rate limits"): a client whose connections land on N workers can
// reach up to N times the rate; one gRPC channel is one connection, one worker).
struct RateLimit {
  uint32_t per_second = 0;        // 0 = no limit
  uint32_t per_minute = 0;        // 0 = no limit
  uint32_t burst_multiplier = 5;  // the bucket holds rate x this (ingress-nginx's burst)
  uint32_t concurrent = 0;        // requests in flight per client address; 0 = no limit
  std::vector<IpRange> exempt;    // limit-whitelist
  // What a refused plain HTTP request gets (--limit-req-status-code, 429;
  // ingress-nginx's default is 503); gRPC gets RESOURCE_EXHAUSTED.
  uint16_t http_status = 429;

  bool operator==(const RateLimit&) const = default;
};

// auth-url: each request is first asked of an HTTP service; 2xx lets it
// through, 401/403 are the answer, anything else (or no answer in time) fails
// the call closed.
struct ExternalAuth {
  std::string url;  // http://host[:port]/path (https is refused by the translator)
  std::string host;  // from the URL
  uint16_t port = 80;
  std::string path;  // with its query
  std::string method = "GET";                  // auth-method (GET or POST)
  std::vector<std::string> response_headers;   // auth-response-headers, lower-case: copied upstream
  std::vector<std::string> request_headers;    // sent besides the originals' (auth-proxy-set-headers is not read)
  std::string signin;                          // auth-signin: a 401 to HTTP becomes a 302 here ("" = none)
  // auth-cache-key: cached answers are keyed by these request headers
  // (lower-case; "$remote_addr" is the client address). Empty: no cache.
  std::vector<std::string> cache_key;
  std::chrono::milliseconds cache_duration{0};  // auth-cache-duration for 2xx/401/403 answers
  std::chrono::milliseconds timeout{5000};      // grpc-ingress.io/auth-timeout

  bool operator==(const ExternalAuth&) const = default;
};

// What a request must be to reach an Ingress's routes, beyond its path: from
// the source-range, client-certificate, rate-limit and auth-url annotations.
// Checked in that order, cheapest first; the first refusal answers.
struct AccessPolicy {
  std::vector<IpRange> allow;  // whitelist-/allowlist-source-range; empty = everyone
  std::vector<IpRange> deny;   // denylist-source-range; wins over allow
  // The host's client-certificate mode as this Ingress asked it (the
  // handshake asks with the host's ClientAuthority, see TlsSettings).
  ClientCertMode client_cert = ClientCertMode::kOff;
  bool pass_client_cert = false;  // auth-tls-pass-certificate-to-upstream: ssl-client-cert header
  std::optional<RateLimit> rate_limit;
  std::optional<ExternalAuth> external_auth;

  bool operator==(const AccessPolicy&) const = default;
};

}  // namespace grpc_ingress
