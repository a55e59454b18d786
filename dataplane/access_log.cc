#include "dataplane/access_log.h"

#include "common/log.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <ctime>

namespace grpc_ingress {
namespace {

constexpr uint32_t kH2RefusedStream = 0x7;
constexpr uint32_t kH2Cancel = 0x8;
constexpr uint32_t kH2EnhanceYourCalm = 0xb;
constexpr uint32_t kH2InadequateSecurity = 0xc;

// The status a gRPC client reports for a call that ends without one, as the
// gRPC HTTP/2 protocol maps them: a stream reset by its error code (CANCEL,
// sent by a client that gave up, is CANCELLED), an answer without
// grpc-status by its HTTP status.
int status_of_reset(uint32_t h2_error_code) {
  switch (h2_error_code) {
    case kH2RefusedStream: return 14;       // UNAVAILABLE
    case kH2Cancel: return 1;               // CANCELLED
    case kH2EnhanceYourCalm: return 8;      // RESOURCE_EXHAUSTED
    case kH2InadequateSecurity: return 7;   // PERMISSION_DENIED
    default: return 13;                     // INTERNAL
  }
}
int status_of_http(int http_status) {
  switch (http_status) {
    case 200: return 13;  // INTERNAL: an answer without grpc-status
    case 400: return 13;
    case 401: return 16;  // UNAUTHENTICATED
    case 403: return 7;   // PERMISSION_DENIED
    case 404: return 12;  // UNIMPLEMENTED
    case 429: case 502: case 503: case 504: return 14;  // UNAVAILABLE
    default: return 2;    // UNKNOWN
  }
}


std::string utc_now() {
  auto now = std::chrono::system_clock::now();
  auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now - seconds).count();
  std::time_t t = std::chrono::system_clock::to_time_t(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[40];
  size_t n = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(text + n, sizeof(text) - n, ".%03dZ", static_cast<int>(millis));
  return text;
}

}  // namespace

RequestOutcome request_outcome(const ProxyStream& stream, uint32_t h2_error_code) {
  if (stream.grpc) {
    const std::string_view* status = stream.response.trailers.find("grpc-status");
    if (!status && stream.response.trailers_only) status = stream.response.headers.find("grpc-status");
    int code = -1;
    if (status) std::from_chars(status->data(), status->data() + status->size(), code);
    if (code >= 0 && (stream.response.ended || h2_error_code == 0)) {
      return {grpc_code_slot(code), std::to_string(code)};
    }
    // No status reached the client: what its gRPC library makes of the end.
    if (h2_error_code == 0 && stream.response.ended && stream.response.status) {
      return {grpc_code_slot(status_of_http(stream.response.status)), "reset"};
    }
    return {grpc_code_slot(status_of_reset(h2_error_code)), "reset"};
  }
  if (!stream.response_started || (h2_error_code != 0 && !stream.response.ended)) {
    return {http_code_slot(0), "reset"};
  }
  return {http_code_slot(stream.response.status), std::to_string(stream.response.status)};
}

void record_request(const ProxyStream& stream, uint32_t h2_error_code) {
  auto duration = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - stream.started);
  RequestOutcome outcome = request_outcome(stream, h2_error_code);
  if (RouteStats* stats = stream.route_stats) {
    stats->count(outcome.code_slot, stream.grpc ? stream.path : std::string_view());
    if (stream.streaming()) {
      stats->stream_duration.observe_duration(duration);
      if (stream.first_response_message != std::chrono::steady_clock::time_point{}) {
        stats->stream_first_message.observe_duration(std::chrono::duration_cast<std::chrono::microseconds>(
            stream.first_response_message - stream.started));
      }
    } else {
      stats->duration.observe_duration(duration);
    }
  }

  spdlog::logger* log = access_logger();
  if (!log) return;
  nlohmann::ordered_json line = {
      {"time", utc_now()},
      {"authority", stream.authority},
      {"method", stream.method},
      {"path", stream.path},
      {stream.grpc ? "grpc_status" : "status", outcome.status},
      {"upstream", stream.attempt.endpoint ? stream.attempt.endpoint->address() : std::string()},
      {"pod", stream.attempt.endpoint ? stream.attempt.endpoint->pod : std::string()},
      {"duration_ms", static_cast<double>(duration.count()) / 1000.0},
      {"bytes_in", stream.bytes_in},
      {"bytes_out", stream.bytes_out},
      {"request_id", stream.request_id},
      {"remote_addr", stream.client_address_text},
  };
  // The client certificate a TLS host asked for, when one was presented.
  if (stream.peer && stream.peer->certificate && stream.peer->certificate->presented) {
    line["tls_client_subject"] = stream.peer->certificate->subject;
  }
  if (stream.route) {
    line["ingress"] = stream.route->ingress_namespace + "/" + stream.route->ingress_name;
  }
  log->info(line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
}

}  // namespace grpc_ingress
