#pragma once

#include "common/access_policy.h"
#include "dataplane/header_list.h"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace grpc_ingress {

class ProxyStream;

// What the auth service of an auth-url said about one request.
struct AuthAnswer {
  enum class Kind : uint8_t {
    kAllowed,          // 2xx: the request goes on, with `upstream_headers`
    kUnauthenticated,  // 401
    kForbidden,        // 403
    kFailed,           // no usable answer: the request fails closed
  };
  Kind kind = Kind::kFailed;
  int status = 0;                // the auth service's HTTP status; 0: none came
  HeaderList upstream_headers;   // its auth-response-headers, lower-case names, for the pod
  std::string www_authenticate;  // of a 401, for the client
  std::string failure;           // kFailed: what happened, for the client's message and the log
  bool cached = false;           // from the cache, not asked now
};

// auth-url (ingress-nginx's auth_request): asks an HTTP/1.1 service about each
// request with its headers and X-Original-URL & co., bounded by
// ExternalAuth::timeout from resolve to the response head, which decides.
// Connections are kept per service when the answer's body was small and read
// in time; a kept one the service closed meanwhile is replaced once. Answers
// with an auth-cache-key are kept for auth-cache-duration. One per worker
// (the Router's); worker thread only.
class ExternalAuthClient {
 public:
  using Clock = std::chrono::steady_clock;
  using Done = std::function<void(AuthAnswer)>;

  static constexpr size_t kMaxResponseHeadBytes = 64 * 1024;  // a larger head fails closed
  static constexpr size_t kMaxCacheEntries = 1024;            // per worker; the oldest go first
  static constexpr size_t kMaxCacheKeyBytes = 8 * 1024;       // a request with a longer key is not cached
  static constexpr size_t kMaxCachedHeaderBytes = 8 * 1024;   // an answer with more headers is not cached
  static constexpr size_t kMaxInFlight = 4096;                // questions open per worker; more fail closed
  static constexpr size_t kMaxDrainedBodyBytes = 64 * 1024;   // a larger answer body: the connection is not kept
  static constexpr size_t kMaxIdlePerService = 16;            // kept connections per auth host:port per worker
  static constexpr size_t kMaxIdleServices = 64;              // auth services with kept connections per worker
  // A kept connection unused this long is closed (below the usual server keep-alive timeouts).
  static constexpr std::chrono::seconds kIdleTimeout{4};
  // Failures of one auth service are logged at warn at most this often.
  static constexpr std::chrono::seconds kWarnInterval{10};

  explicit ExternalAuthClient(boost::asio::io_context& io);
  // Pending questions are abandoned: their `done` never runs.
  ~ExternalAuthClient();
  ExternalAuthClient(const ExternalAuthClient&) = delete;
  ExternalAuthClient& operator=(const ExternalAuthClient&) = delete;

  // Asks about `stream`'s request, copied now (the stream is not kept).
  // `done` runs once on the loop: inside this call when the answer is cached,
  // later otherwise; never after this client is destroyed. `auth` is copied
  // as needed. `now` decides cache expiry (injected by tests).
  void check(const ProxyStream& stream, const ExternalAuth& auth, Done done, Clock::time_point now = Clock::now());

  // The request head the auth service gets for `stream` (ingress-nginx's set).
  static std::string request_head(const ProxyStream& stream, const ExternalAuth& auth);
  // The cache key of `stream` under `auth`, or none when `auth` caches nothing
  // (or the key is too long to keep).
  static std::optional<std::string> cache_key(const ProxyStream& stream, const ExternalAuth& auth);
  // scheme://authority/path of the request, as X-Original-URL and auth-signin's rd= carry it.
  static std::string original_url(const ProxyStream& stream);

  size_t cached_answers() const;
  size_t in_flight() const;
  uint64_t questions_asked() const;  // exchanges started with an auth service
  size_t idle_connections() const;   // kept for the next question

 private:
  struct State;
  class Exchange;
  std::shared_ptr<State> state_;
};

// "401", "403", ... for answers; "failed" etc. for log lines.
const char* to_string(AuthAnswer::Kind kind);

}  // namespace grpc_ingress
