#include "dataplane/stats.h"

#include <cmath>

namespace grpc_ingress {
namespace {
constexpr size_t kFirstHttpSlot = kGrpcCodes;
constexpr size_t kFirstClassSlot = kFirstHttpSlot + std::size(kHttpCodes);
constexpr size_t kNoneSlot = kFirstClassSlot + 5;
}  // namespace

size_t grpc_code_slot(int grpc_status) {
  return grpc_status >= 0 && grpc_status < static_cast<int>(kGrpcCodes) ? static_cast<size_t>(grpc_status) : 2;
}

size_t http_code_slot(int http_status) {
  for (size_t i = 0; i < std::size(kHttpCodes); ++i) {
    if (kHttpCodes[i] == http_status) return kFirstHttpSlot + i;
  }
  if (http_status >= 100 && http_status < 600) return kFirstClassSlot + static_cast<size_t>(http_status / 100 - 1);
  return kNoneSlot;
}

bool is_grpc_code_slot(size_t slot) { return slot < kFirstHttpSlot; }

const char* grpc_code_name(size_t grpc_status) {
  static constexpr const char* kNames[kGrpcCodes] = {
      "OK",        "CANCELLED",         "UNKNOWN",  "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
      "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  return grpc_status < kGrpcCodes ? kNames[grpc_status] : "UNKNOWN";
}

std::pair<const char*, std::string> code_label(size_t slot) {
  if (slot < kFirstHttpSlot) return {"grpc_code", grpc_code_name(slot)};
  if (slot < kFirstClassSlot) return {"http_code", std::to_string(kHttpCodes[slot - kFirstHttpSlot])};
  if (slot < kNoneSlot) return {"http_code", std::to_string(slot - kFirstClassSlot + 1) + "xx"};
  return {"http_code", "none"};
}

std::string reset_reason_label(size_t slot) {
  static const char* kNames[] = {"NO_ERROR",       "PROTOCOL_ERROR",      "INTERNAL_ERROR",
                                 "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
                                 "FRAME_SIZE_ERROR", "REFUSED_STREAM",    "CANCEL",
                                 "COMPRESSION_ERROR", "CONNECT_ERROR",    "ENHANCE_YOUR_CALM",
                                 "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED", "OTHER"};
  return slot < std::size(kNames) ? kNames[slot] : "OTHER";
}

size_t reset_reason_slot(uint32_t h2_error_code) {
  return h2_error_code < kResetReasons - 1 ? h2_error_code : kResetReasons - 1;
}

void RouteStats::count(size_t code_slot, std::string_view grpc_path) {
  if (method_bound && is_grpc_code_slot(code_slot)) {
    bump(methods.resolve(grpc_path, *method_bound, key).requests[code_slot]);
    return;
  }
  bump(requests[code_slot]);
}

void EndpointStats::record_latency(std::chrono::microseconds latency,
                                   std::chrono::steady_clock::time_point now) {
  // Peak-EWMA (as Linkerd): a slower sample takes over at once; faster ones
  // pull the estimate down with a 10 s time constant.
  constexpr double kDecaySeconds = 10.0;
  double sample = static_cast<double>(latency.count());
  if (ewma_at == std::chrono::steady_clock::time_point{} || sample > ewma_us) {
    ewma_us = sample;
  } else {
    double elapsed = std::chrono::duration<double>(now - ewma_at).count();
    double keep = std::exp(-elapsed / kDecaySeconds);
    ewma_us = ewma_us * keep + sample * (1 - keep);
  }
  ewma_at = now;
}

RouteStats* WorkerStats::route(const std::string& namespace_name, const std::string& ingress,
                               const std::string& service) {
  std::string key = namespace_name + "/" + ingress + "|" + service;
  std::lock_guard lock(mutex_);
  auto& slot = routes_[key];
  if (!slot) {
    slot = std::make_unique<RouteStats>();
    slot->namespace_name = namespace_name;
    slot->ingress = ingress;
    slot->service = service;
    slot->key = key;
    slot->method_bound = method_bound_;
  }
  return slot.get();
}

void WorkerStats::count_methods(MethodBound* bound) {
  std::lock_guard lock(mutex_);
  method_bound_ = bound;
  for (auto& [_, stats] : routes_) stats->method_bound = bound;  // the worker's unrouted stats, made first
}

ClusterStats* WorkerStats::cluster(const Cluster& cluster) {
  std::lock_guard lock(mutex_);
  auto& slot = clusters_[cluster.name];
  if (!slot) {
    slot = std::make_unique<ClusterStats>();
    slot->namespace_name = cluster.service_namespace;
    slot->service = cluster.service;
    slot->port = cluster.port;
  }
  return slot.get();
}

std::vector<std::shared_ptr<EndpointStats>> WorkerStats::endpoints(const Cluster& cluster) {
  endpoints_.retain(cluster);
  return endpoints_.resolve(cluster);
}

const char* access_refusal_label(size_t reason) {
  static constexpr const char* kLabels[kAccessRefusals] = {
      "source_range", "client_certificate", "rate_limit", "concurrency_limit", "external_auth", "auth_failure",
      "cleartext"};
  return reason < kAccessRefusals ? kLabels[reason] : "?";
}

}  // namespace grpc_ingress
