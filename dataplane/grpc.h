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
// messages, across DATA frame boundaries, to spot a message over a limit.
class GrpcMessageScanner {
 public:
  // The declared length of the first message above `limit` that these bytes
  // reveal, or 0.
  uint64_t feed(const uint8_t* data, size_t n, uint64_t limit);

 private:
  uint8_t prefix_[5] = {};
  size_t prefix_have_ = 0;
  uint64_t remaining_ = 0;  // bytes of the current message still to come
};

// grpc.health.v1: HealthCheckRequest{service} as a length-prefixed gRPC message.
std::string encode_health_check_request(std::string_view service);
// HealthCheckResponse.status from a gRPC message body (prefix included):
// 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN; nullopt when malformed.
std::optional<int> decode_health_check_response(std::string_view body);

// The HTTP status a plain (non-gRPC) client gets for the same failure.
int http_status_for(GrpcStatus status);

}  // namespace grpc_ingress
