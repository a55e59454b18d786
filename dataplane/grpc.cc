#include "dataplane/grpc.h"

#include <algorithm>
#include <cstring>

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
  // 8 digits of hours overflow 64-bit nanoseconds: such a deadline is as good
  // as none, so it saturates (timers saturate too) instead of wrapping.
  auto in = [amount](auto unit) {
    constexpr int64_t kPerUnit = duration_cast<nanoseconds>(decltype(unit)(1)).count();
    constexpr int64_t kMax = nanoseconds::max().count();
    return nanoseconds(amount > kMax / kPerUnit ? kMax : amount * kPerUnit);
  };
  switch (value.back()) {
    case 'H': return in(hours());
    case 'M': return in(minutes());
    case 'S': return in(seconds());
    case 'm': return in(milliseconds());
    case 'u': return in(microseconds());
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
    case GrpcStatus::kUnauthenticated: return 401;
    case GrpcStatus::kPermissionDenied: return 403;
    case GrpcStatus::kUnavailable: return 503;
    default: return 502;
  }
}

GrpcWebMode grpc_web_mode(std::string_view content_type) {
  constexpr std::string_view kWeb = "application/grpc-web";
  if (!content_type.starts_with(kWeb)) return GrpcWebMode::kNone;
  std::string_view rest = content_type.substr(kWeb.size());
  if (rest.starts_with("-text")) {
    rest.remove_prefix(5);
    return rest.empty() || rest[0] == '+' || rest[0] == ';' ? GrpcWebMode::kText : GrpcWebMode::kNone;
  }
  return rest.empty() || rest[0] == '+' || rest[0] == ';' ? GrpcWebMode::kBinary : GrpcWebMode::kNone;
}

std::string encode_health_check_request(std::string_view service) {
  // Protobuf: field 1 (service), wire type 2; a name longer than 127 bytes
  // needs a multi-byte varint length.
  std::string message;
  if (!service.empty()) {
    message.push_back(0x0a);
    for (uint64_t length = service.size(); ; length >>= 7) {
      uint8_t byte = length & 0x7f;
      if (length >> 7) byte |= 0x80;
      message.push_back(static_cast<char>(byte));
      if (!(length >> 7)) break;
    }
    message.append(service);
  }
  std::string out(5, '\0');
  uint32_t size = static_cast<uint32_t>(message.size());
  out[1] = static_cast<char>(size >> 24);
  out[2] = static_cast<char>(size >> 16);
  out[3] = static_cast<char>(size >> 8);
  out[4] = static_cast<char>(size);
  return out + message;
}

std::optional<int> decode_health_check_response(std::string_view body) {
  if (body.size() < 5 || body[0] != 0) return std::nullopt;  // compressed: we never ask for it
  auto byte = [&](size_t i) { return static_cast<uint8_t>(body[i]); };
  uint32_t size = (uint32_t{byte(1)} << 24) | (uint32_t{byte(2)} << 16) | (uint32_t{byte(3)} << 8) | byte(4);
  if (body.size() - 5 < size) return std::nullopt;
  std::string_view message = body.substr(5, size);
  int status = 0;  // proto3: an absent field is UNKNOWN (0)
  size_t i = 0;
  while (i < message.size()) {
    uint8_t tag = static_cast<uint8_t>(message[i++]);
    uint64_t value = 0;
    int shift = 0;
    auto read_varint = [&]() -> bool {
      value = 0;
      for (shift = 0; i < message.size() && shift < 64; shift += 7) {
        uint8_t b = static_cast<uint8_t>(message[i++]);
        value |= uint64_t{b & 0x7fu} << shift;
        if (!(b & 0x80)) return true;
      }
      return false;
    };
    switch (tag & 7) {
      case 0:
        if (!read_varint()) return std::nullopt;
        if ((tag >> 3) == 1) status = static_cast<int>(value);
        break;
      case 2:  // unknown length-delimited field: skip it
        if (!read_varint() || message.size() - i < value) return std::nullopt;
        i += static_cast<size_t>(value);
        break;
      default:
        return std::nullopt;
    }
  }
  return status;
}

}  // namespace grpc_ingress
