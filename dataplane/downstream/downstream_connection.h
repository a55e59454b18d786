#pragma once

#include "dataplane/forwarded_headers.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace grpc_ingress {

struct DownstreamOptions {
  uint32_t max_concurrent_streams = 1000;
  uint32_t stream_window = 256 * 1024;          // bytes a client may send ahead, per stream
  uint32_t connection_window = 8 * 1024 * 1024;  // and per connection
  size_t max_header_bytes = 64 * 1024;           // request header list (HTTP/1.1: the whole head)
  std::chrono::milliseconds preface_timeout{10000};  // for the first bytes that name the protocol
  // A stream with no frames either way for this long ends (UNAVAILABLE); long
  // but finite by default, so healthy long-lived streams are never cut.
  std::chrono::milliseconds stream_idle_timeout{3600000};
  // HTTP/1.1: the largest request body (413 beyond), and how long a
  // connection may wait for the next request's head (keep-alive idle).
  uint64_t http1_max_body_bytes = 64ull * 1024 * 1024;
  std::chrono::milliseconds http1_idle_timeout{60000};
  // Body bytes held for streams (both directions; a stream holds at most its
  // window): per client connection and per worker. Over either, the streams
  // holding the most are reset.
  uint64_t max_connection_buffer_bytes = 32ull * 1024 * 1024;
  uint64_t max_worker_buffer_bytes = 64ull * 1024 * 1024;
  // HTTP/2 abuse: more consecutive DATA/HEADERS/CONTINUATION frames without
  // payload (and without END_STREAM) than this ends the connection.
  uint32_t max_consecutive_empty_frames = 1;
  // Control frames we owe a client that does not read (PING and SETTINGS acks).
  uint32_t max_outbound_control_frames = 1000;
  // After a fatal protocol error, how long the GOAWAY may take to leave.
  std::chrono::milliseconds goaway_linger{1000};
  // --use-proxy-protocol: every connection starts with a PROXY protocol
  // header, which must arrive within the timeout.
  bool proxy_protocol = false;
  std::chrono::milliseconds proxy_protocol_timeout{10000};
  // Who may name the client (--proxy-real-ip-cidr, --forwarded-for-header,
  // --compute-full-forwarded-for).
  ClientIdentityOptions identity;
};

class ProxyStream;

// What speaks on an accepted client connection: the protocol detector, then
// the HTTP/2 or HTTP/1.1 session it hands the connection to. Worker thread only.
class DownstreamConnection {
 public:
  virtual ~DownstreamConnection() = default;
  // Graceful: take no new requests, finish the running ones, then close.
  virtual void shutdown() = 0;
  // Adds the streams it serves that hold buffered body bytes (budget enforcement).
  virtual void collect_buffering_streams(std::vector<std::shared_ptr<ProxyStream>>&) {}
};

// Which protocol a client connection speaks, for metrics.
enum class DownstreamProtocol { kH2c, kH2, kHttp1, kHttp1Tls };
inline constexpr size_t kDownstreamProtocols = 4;
inline const char* protocol_label(DownstreamProtocol protocol) {
  switch (protocol) {
    case DownstreamProtocol::kH2c: return "h2c";
    case DownstreamProtocol::kH2: return "h2";
    case DownstreamProtocol::kHttp1: return "http1";
    case DownstreamProtocol::kHttp1Tls: return "http1-tls";
  }
  return "?";
}

// A process-wide unique id for a new client connection ("[C12]" in logs).
uint64_t next_downstream_connection_id();

}  // namespace grpc_ingress
