#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace grpc_ingress {

// gRPC status codes the proxy produces itself.
enum class GrpcStatus {
  kOk = 0,
  kCancelled = 1,
  kDeadlineExceeded = 4,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

// content-type application/grpc, application/grpc+proto, application/grpc;...
// (not grpc-web, which is translated separately).
bool is_grpc_content_type(std::string_view content_type);

// gRPC-Web (a browser's gRPC): binary (application/grpc-web[+proto]) or
// text (application/grpc-web-text[+proto], base64 both ways).
enum class GrpcWebMode : uint8_t { kNone, kBinary, kText };
GrpcWebMode grpc_web_mode(std::string_view content_type);

// The grpc-timeout header: 1-8 digits and a unit H M S m u n. nullopt when malformed.
std::optional<std::chrono::nanoseconds> parse_grpc_timeout(std::string_view value);

// grpc-message is percent-encoded: printable ASCII except '%' passes, the rest is %XX.
std::string percent_encode_grpc_message(std::string_view message);

// Follows the 5-byte prefixes (flag, 32-bit length) of a stream of gRPC
// messages, across DATA frame boundaries: counts the messages and spots one
// over a limit. It skips message bodies: the cost is per message, not per byte.
class GrpcMessageScanner {
 public:
  // Calls on_message(length) for each prefix these bytes complete; returns
  // the declared length of the first message above `limit` (0: no limit),
  // and stops there, or 0.
  template <typename OnMessage>
  uint64_t feed(const uint8_t* data, size_t n, uint64_t limit, OnMessage&& on_message) {
    while (n > 0) {
      if (remaining_ > 0) {
        size_t skip = static_cast<size_t>(remaining_ < n ? remaining_ : n);
        remaining_ -= skip;
        data += skip;
        n -= skip;
        continue;
      }
      size_t take = n < sizeof(prefix_) - prefix_have_ ? n : sizeof(prefix_) - prefix_have_;
      for (size_t i = 0; i < take; ++i) prefix_[prefix_have_ + i] = data[i];
      prefix_have_ += take;
      data += take;
      n -= take;
      if (prefix_have_ < sizeof(prefix_)) break;
      prefix_have_ = 0;
      remaining_ = (uint64_t{prefix_[1]} << 24) | (uint64_t{prefix_[2]} << 16) | (uint64_t{prefix_[3]} << 8) |
                   uint64_t{prefix_[4]};
      ++messages_;
      on_message(remaining_);
      if (limit && remaining_ > limit) return remaining_;
    }
    return 0;
  }
  uint64_t feed(const uint8_t* data, size_t n, uint64_t limit) {
    return feed(data, n, limit, [](uint64_t) {});
  }
  // Messages whose prefix has been seen.
  uint64_t messages() const { return messages_; }

 private:
  uint8_t prefix_[5] = {};
  size_t prefix_have_ = 0;
  uint64_t remaining_ = 0;  // bytes of the current message still to come
  uint64_t messages_ = 0;
};

// grpc.health.v1: HealthCheckRequest{service} as a length-prefixed gRPC message.
std::string encode_health_check_request(std::string_view service);
// HealthCheckResponse.status from a gRPC message body (prefix included):
// 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN; nullopt when malformed.
std::optional<int> decode_health_check_response(std::string_view body);

// The HTTP status a plain (non-gRPC) client gets for the same failure.
int http_status_for(GrpcStatus status);

}  // namespace grpc_ingress
