#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace grpc_ingress {

// gRPC status codes the proxy produces itself.
enum class GrpcStatus {
  kOk = 0,
  kCancelled = 1,
  kDeadlineExceeded = 4,
  kResourceExhausted = 8,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
};

// content-type application/grpc, application/grpc+proto, application/grpc;...
// (not grpc-web, which is translated separately).
bool is_grpc_content_type(std::string_view content_type);

// The grpc-timeout header: 1-8 digits and a unit H M S m u n. nullopt when malformed.
std::optional<std::chrono::nanoseconds> parse_grpc_timeout(std::string_view value);

// grpc-message is percent-encoded: printable ASCII except '%' passes, the rest is %XX.
std::string percent_encode_grpc_message(std::string_view message);

// The HTTP status a plain (non-gRPC) client gets for the same failure.
int http_status_for(GrpcStatus status);

}  // namespace grpc_ingress
