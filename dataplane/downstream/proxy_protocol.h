#pragma once

#include "common/ip_address.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace grpc_ingress {

// The PROXY protocol header a load balancer puts before a connection's own
// bytes (haproxy's proxy-protocol.txt, versions 1 and 2), naming the client.
// Bounds: a v1 line is at most 107 bytes with its CRLF; a v2 header at most
// kProxyV2MaxBytes, TLVs included (a cloud load balancer sends a few dozen).
inline constexpr size_t kProxyV1MaxBytes = 107;
inline constexpr size_t kProxyV2MaxBytes = 4096;
// Enough to read either whole.
inline constexpr size_t kProxyHeaderMaxBytes = kProxyV2MaxBytes;

enum class ProxyParseStatus { kNeedMore, kError, kDone };

struct ProxyHeader {
  int version = 0;      // 1 or 2
  size_t length = 0;    // bytes of the header; the connection's own bytes follow
  // Who the client is; nullopt when the header names none (v1 UNKNOWN, v2
  // LOCAL, AF_UNSPEC or AF_UNIX): the connection's socket address stands.
  std::optional<IpAddress> source;
  uint16_t source_port = 0;
};

struct ProxyParse {
  ProxyParseStatus status = ProxyParseStatus::kNeedMore;
  ProxyHeader header;      // kDone
  const char* error = "";  // kError: why, for the log (a literal)
};

// Reads the header at the start of `bytes` (what has arrived so far; bytes
// past the header are not looked at). kNeedMore until it is complete;
// kError as soon as the bytes cannot begin a valid header. Pure; never reads
// past `bytes`.
ProxyParse parse_proxy_header(std::string_view bytes);

}  // namespace grpc_ingress
