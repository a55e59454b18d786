#include "dataplane/grpc.h"

#include <cstdio>

namespace grpc_ingress {

bool is_grpc_content_type(std::string_view content_type) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (!content_type.starts_with(kGrpc)) return false;
  if (content_type.size() == kGrpc.size()) return true;
  char next = content_type[kGrpc.size()];
  return next == '+' || next == ';';
}

std::optional<std::chrono::nanoseconds> parse_grpc_timeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  int64_t amount = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    amount = amount * 10 + (c - '0');
  }
  using namespace std::chrono;
  switch (value.back()) {
    case 'H': return duration_cast<nanoseconds>(hours(amount));
    case 'M': return duration_cast<nanoseconds>(minutes(amount));
    case 'S': return duration_cast<nanoseconds>(seconds(amount));
    case 'm': return duration_cast<nanoseconds>(milliseconds(amount));
    case 'u': return duration_cast<nanoseconds>(microseconds(amount));
    case 'n': return nanoseconds(amount);
    default: return std::nullopt;
  }
}

std::string percent_encode_grpc_message(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (unsigned char c : message) {
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

int http_status_for(GrpcStatus status) {
  switch (status) {
    case GrpcStatus::kUnimplemented: return 404;
    case GrpcStatus::kDeadlineExceeded: return 504;
    case GrpcStatus::kResourceExhausted: return 429;
    case GrpcStatus::kUnavailable: return 503;
    default: return 502;
  }
}

}  // namespace grpc_ingress
