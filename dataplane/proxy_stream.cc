#include "dataplane/proxy_stream.h"

#include "common/base64.h"
#include "dataplane/route_filters.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace grpc_ingress {
namespace {
constexpr uint32_t kH2InternalError = 0x2;
constexpr uint32_t kH2EnhanceYourCalm = 0xb;
}

ProxyStream::ProxyStream(uint64_t connection_id, int32_t downstream_id,
                         std::weak_ptr<DownstreamSide> downstream,
                         std::shared_ptr<BufferAccount> connection_buffers)
    : connection_buffers_(std::move(connection_buffers)),
      downstream_(std::move(downstream)),
      downstream_id_(downstream_id),
      connection_id_(connection_id) {}

ProxyStream::~ProxyStream() {
  // No connection may keep pointing at a stream that is gone.
  cancel_upstream();
  set_pending(false);
  if (in_flight_slot) in_flight_slot->fetch_sub(1, std::memory_order_relaxed);
}

void ProxyStream::set_pending(bool pending) {
  if (pending == attempt.pending) return;
  attempt.pending = pending;
  if (attempt.state) attempt.state->pending_streams.fetch_add(pending ? 1 : -1, std::memory_order_relaxed);
}

void ProxyStream::begin_attempt(const Endpoint* endpoint, EndpointStats* stats, EndpointState* state, bool limited) {
  cancel_upstream();  // a no-op: the last attempt ended before a new one begins
  set_pending(false);
  attempt = UpstreamRequest{.endpoint = endpoint, .stats = stats, .state = state, .limited = limited};
}

bool ProxyStream::scan_messages(GrpcMessageScanner& scanner, const uint8_t* data, size_t n, bool request) {
  if (!grpc) return false;
  uint64_t size = scanner.feed(data, n, max_message_bytes, [this, request](uint64_t length) {
    if (!request && first_response_message == std::chrono::steady_clock::time_point{}) {
      first_response_message = std::chrono::steady_clock::now();
    }
    if (!route_stats) return;
    (request ? route_stats->request_message_bytes : route_stats->response_message_bytes)
        .observe(static_cast<double>(length), length);
  });
  if (!size) return false;
  const char* direction = request ? "request" : "response";
  spdlog::info("{} {} {} message of {} bytes is over the limit of {}", log_prefix(), path, direction, size,
               max_message_bytes);
  cancel_upstream();
  fail(GrpcStatus::kResourceExhausted, std::string(direction) + " message of " + std::to_string(size) +
                                           " bytes is larger than the limit of " +
                                           std::to_string(max_message_bytes) +
                                           " (grpc-ingress.io/max-message-bytes)");
  return true;
}

bool ProxyStream::take_request_body(const uint8_t* data, size_t n) {
  if (grpc_web == GrpcWebMode::kText) {
    // Decode whole groups of four; a padded group may end any chunk, and
    // more base64 may follow it (the client's next chunk).
    web_text_pending_.append(reinterpret_cast<const char*>(data), n);
    size_t whole = web_text_pending_.size() / 4 * 4;
    auto decoded = decode_base64_chunks(std::string_view(web_text_pending_).substr(0, whole));
    if (!decoded) {
      cancel_upstream();
      fail(GrpcStatus::kInternal, "gRPC-Web text request body is not base64");
      return false;
    }
    web_text_pending_.erase(0, whole);
    request_bytes_.add(n, decoded->size());
    auto bytes = reinterpret_cast<const uint8_t*>(decoded->data());
    if (scan_messages(request_messages, bytes, decoded->size(), true)) return false;
    request_body.append(bytes, decoded->size());
    return true;
  }
  if (scan_messages(request_messages, data, n, true)) return false;
  request_body.append(data, n);
  return true;
}

bool ProxyStream::take_response_body(const uint8_t* data, size_t n) {
  if (scan_messages(response_messages, data, n, false)) return false;
  if (grpc_web == GrpcWebMode::kText) {
    std::string encoded = encode_base64(std::string_view(reinterpret_cast<const char*>(data), n));
    response_bytes_.add(n, encoded.size());
    response.body.append(reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size());
    return true;
  }
  response.body.append(data, n);
  return true;
}

void ProxyStream::prepare_response_headers() {
  if (route && route->filters && !route->filters->response_headers.empty()) {
    edit_headers(response.headers, route->filters->response_headers);
  }
  if (grpc_web != GrpcWebMode::kNone) {
    for (size_t i = 0; i < response.headers.size(); ++i) {
      if (response.headers[i].name == "content-type") {
        response.headers.set_value(i, grpc_web == GrpcWebMode::kText ? "application/grpc-web-text+proto"
                                                                     : "application/grpc-web+proto");
      }
    }
  }
  if (!cors_origin.empty()) {
    response.headers.push_back({"access-control-allow-origin", cors_origin});
    response.headers.push_back({"access-control-expose-headers", "grpc-status,grpc-message,grpc-status-details-bin"});
    if (cors_origin != "*") response.headers.push_back({"vary", "origin"});
  }
}

void ProxyStream::trailers_into_body() {
  if (grpc_web == GrpcWebMode::kNone || response.trailers.empty()) return;
  // The gRPC-Web trailer frame: flag 0x80, 32-bit length, HTTP/1-style lines.
  std::string block;
  for (const Header& header : response.trailers) {
    block.append(header.name).append(": ").append(header.value).append("\r\n");
  }
  std::string frame(5, '\0');
  frame[0] = static_cast<char>(0x80);
  for (int i = 0; i < 4; ++i) frame[1 + i] = static_cast<char>((block.size() >> (24 - 8 * i)) & 0xff);
  frame += block;
  if (grpc_web == GrpcWebMode::kText) frame = encode_base64(frame);
  response_bytes_.add(0, frame.size());
  response.body.append(reinterpret_cast<const uint8_t*>(frame.data()), frame.size());
  response.trailers.clear();
}

void ProxyStream::respond(int status, const std::string& body, HeaderList extra_headers) {
  stop_timers();
  if (closed || response_started || response.ended) return;
  HeaderList headers = {{"content-type", "text/plain; charset=utf-8"}};
  for (const Header& header : extra_headers) headers.push_back(header);
  response.answer(status, std::move(headers), body);
  if (auto side = downstream()) side->response_headers_ready(*this);
}

void ProxyStream::cancel_upstream() {
  UpstreamSide* connection = attempt.connection;
  if (!connection) return;
  connection->cancel(*this);
  if (attempt.connection) detach_upstream();  // the connection must forget it; make sure
}

void ProxyStream::shed(const std::string& why) {
  spdlog::info("{} {} {}: resetting the stream, which holds {} bytes", log_prefix(), path, why, buffered_bytes());
  cancel_upstream();
  // Nobody will forward these: the windows they hold die with the stream.
  request_body.clear();
  bool answered = response_started;
  response.body.clear();
  if (!answered) {
    fail(GrpcStatus::kResourceExhausted, why);
    return;
  }
  stop_timers();
  response.ended = true;
  response.trailers.clear();
  if (auto side = downstream()) side->reset(*this, kH2EnhanceYourCalm);
}

size_t shed_largest_streams(std::vector<std::shared_ptr<ProxyStream>>& streams, const BufferAccount& account,
                            const std::string& why) {
  std::sort(streams.begin(), streams.end(),
            [](const auto& a, const auto& b) { return a->buffered_bytes() > b->buffered_bytes(); });
  size_t shed = 0;
  for (const auto& stream : streams) {
    if (!account.over_limit()) break;
    if (stream->buffered_bytes() == 0) continue;
    stream->shed(why);
    ++shed;
  }
  return shed;
}

void ProxyStream::attach(UpstreamSide& connection) {
  attempt.connection = &connection;
  attempt.id = -1;
  attempt.started_at = std::chrono::steady_clock::now();
  if (cluster_stats) {
    bump(cluster_stats->upstream_requests);
    bump(cluster_stats->active_streams, int64_t{1});
  }
  if (attempt.stats) {
    bump(attempt.stats->requests);
    bump(attempt.stats->active_streams, int64_t{1});
  }
  if (attempt.state && attempt.limited) attempt.state->active_streams.fetch_add(1, std::memory_order_relaxed);
}

void ProxyStream::detach_upstream() {
  if (!attempt.connection) return;
  attempt.connection = nullptr;
  set_pending(false);
  if (attempt.state && attempt.limited) attempt.state->active_streams.fetch_sub(1, std::memory_order_relaxed);
  if (cluster_stats) bump(cluster_stats->active_streams, int64_t{-1});
  if (attempt.stats) {
    bump(attempt.stats->active_streams, int64_t{-1});
    if (response.ended) {  // only completed answers say how fast a pod is
      auto now = std::chrono::steady_clock::now();
      attempt.stats->record_latency(std::chrono::duration_cast<std::chrono::microseconds>(now - attempt.started_at),
                                    now);
    }
  }
}

void ProxyStream::fail(GrpcStatus status, const std::string& message, int http_status) {
  stop_timers();
  if (closed || response.ended) return;
  auto side = downstream();
  std::string code = std::to_string(static_cast<int>(status));
  std::string encoded_message = percent_encode_grpc_message(message);
  if (!response_started) {
    if (grpc) {
      response.answer(
          200, {{"content-type", "application/grpc"}, {"grpc-status", code}, {"grpc-message", encoded_message}}, "");
      prepare_response_headers();
      response.trailers_only = true;
    } else {
      response.answer(http_status ? http_status : http_status_for(status), {{"content-type", "text/plain; charset=utf-8"}}, message + "\n");
    }
    if (side) side->response_headers_ready(*this);
    return;
  }
  if (grpc && !response.trailers_only) {
    response.trailers = {{"grpc-status", code}, {"grpc-message", encoded_message}};
    trailers_into_body();
    response.ended = true;
    if (side) side->response_data_ready(*this);
    return;
  }
  if (side) side->reset(*this, kH2InternalError);
}

}  // namespace grpc_ingress
