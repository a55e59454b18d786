#include "dataplane/proxy_stream.h"

#include <spdlog/spdlog.h>

namespace grpc_ingress {
namespace {
constexpr uint32_t kH2InternalError = 0x2;
}

ProxyStream::ProxyStream(uint64_t connection_id, int32_t downstream_id,
                         std::weak_ptr<DownstreamSide> downstream)
    : downstream_(std::move(downstream)),
      downstream_id_(downstream_id),
      log_prefix_("[C" + std::to_string(connection_id) + "][S" + std::to_string(downstream_id) + "]") {}

ProxyStream::~ProxyStream() = default;

void ProxyStream::cancel_upstream() {
  if (upstream && upstream_active) {
    upstream_finished();
    upstream->cancel(*this);
  }
}

void ProxyStream::upstream_started() {
  upstream_active = true;
  upstream_started_at = std::chrono::steady_clock::now();
  if (cluster_stats) {
    bump(cluster_stats->upstream_requests);
    bump(cluster_stats->active_streams, int64_t{1});
  }
  if (endpoint_stats) {
    bump(endpoint_stats->requests);
    bump(endpoint_stats->active_streams, int64_t{1});
  }
}

void ProxyStream::upstream_finished() {
  if (!upstream_active) return;
  upstream_active = false;
  if (cluster_stats) bump(cluster_stats->active_streams, int64_t{-1});
  if (endpoint_stats) {
    bump(endpoint_stats->active_streams, int64_t{-1});
    if (response_ended) {  // only completed answers say how fast a pod is
      auto now = std::chrono::steady_clock::now();
      endpoint_stats->record_latency(
          std::chrono::duration_cast<std::chrono::microseconds>(now - upstream_started_at), now);
    }
  }
}

void ProxyStream::fail(GrpcStatus status, const std::string& message) {
  stop_timers();
  if (closed || response_ended) return;
  auto side = downstream();
  std::string code = std::to_string(static_cast<int>(status));
  if (!response_started) {
    response_body.clear();
    response_trailers.clear();
    if (grpc) {
      response_status = 200;
      response_headers = {{"content-type", "application/grpc"},
                          {"grpc-status", code},
                          {"grpc-message", percent_encode_grpc_message(message)}};
      trailers_only = true;
    } else {
      response_status = http_status_for(status);
      response_headers = {{"content-type", "text/plain; charset=utf-8"}};
      std::string body = message + "\n";
      response_body.append(reinterpret_cast<const uint8_t*>(body.data()), body.size());
    }
    response_ended = true;
    if (side) side->response_headers_ready(*this);
    return;
  }
  if (grpc && !trailers_only) {
    response_trailers = {{"grpc-status", code}, {"grpc-message", percent_encode_grpc_message(message)}};
    response_ended = true;
    if (side) side->response_data_ready(*this);
    return;
  }
  if (side) side->reset(*this, kH2InternalError);
}

}  // namespace grpc_ingress
