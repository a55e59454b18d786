#pragma once

#include "common/access_policy.h"
#include "common/route_table.h"
#include "controller/translate/k8s_objects.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace grpc_ingress {

// grpc-ingress.io/backend-protocol (or ingress-nginx's): how pods are spoken to.
enum class BackendProtocol {
  kGrpc,   // h2c, gRPC calls only
  kGrpcs,  // TLS with ALPN h2, gRPC calls only
  kH2c,    // h2c, any request
  kHttp,   // HTTP/1.1 cleartext
  kHttps,  // HTTP/1.1 over TLS
};

// How an Ingress's backends (clusters) treat their endpoints.
struct ClusterPolicy {
  LoadBalancePolicy policy = LoadBalancePolicy::kLeastRequest;
  std::string hash_header;  // for kRingHash
  HealthCheck health_check;
  OutlierDetection outlier_detection;
  uint32_t max_streams_per_endpoint = 0;
  uint32_t max_pending_per_endpoint = 1024;
  // Unset: the Service port's appProtocol decides.
  std::optional<BackendProtocol> backend_protocol;
  std::string backend_protocol_annotation;  // "grpc-ingress.io/backend-protocol: GRPCS", for messages
  // TLS to pods: the name to send and verify ("" = the Service's DNS name),
  // the Secret whose ca.crt verifies the pod, the Secret with our client
  // certificate (tls.crt, tls.key). Secret names are in the Ingress's namespace
  // unless written "namespace/name".
  std::string upstream_sni;
  std::optional<ObjectKey> upstream_ca_secret;
  std::optional<ObjectKey> upstream_client_secret;

  bool operator==(const ClusterPolicy&) const = default;
};

// ingress-nginx's canary annotations of a canary Ingress.
struct CanaryPolicy {
  std::string header;        // lower-case
  std::string header_value;
  std::string cookie;
  uint32_t weight = 0;
  uint32_t weight_total = 100;
};

// Everything the annotations of one Ingress say, with defaults for what they
// do not. Each bad value is reported in `problems` (with what is used instead).
struct IngressOptions {
  ClusterPolicy cluster;
  RetryPolicy retry;
  std::chrono::milliseconds max_timeout{0};
  uint32_t max_message_bytes = 0;
  std::optional<CanaryPolicy> canary;  // set on a canary Ingress
  std::string http_health_path;        // "" = no HTTP health bridge
  bool grpc_web = true;
  std::string cors_allow_origin;
  // Security at the edge (docs/edge-access.md): source ranges, client certificates, rate
  // limits, auth-url. All defaults: no policy on the routes.
  AccessPolicy access;
  // auth-tls-secret: the Secret whose ca.crt verifies the client certificates
  // of this Ingress's TLS hosts (mode and depth in `access` / below).
  std::optional<ObjectKey> client_ca_secret;
  uint32_t client_verify_depth = 1;
  // ssl-redirect / force-ssl-redirect; unset: hosts in spec.tls redirect
  // cleartext requests (ingress-nginx's default).
  std::optional<bool> ssl_redirect;
  // Security-relevant annotations grpc-ingress does not implement, by full
  // name: the Ingress is refused unless --allow-unsupported-security-annotations.
  std::vector<std::string> unsupported_security;
  // Warnings: the Ingress is served (each names the annotation and what is done instead).
  std::vector<std::string> problems;
  // Why the Ingress must not be routed at all: unsupported security
  // annotations (unless allowed), a bad value of a security annotation, an
  // unknown grpc-ingress.io/ key. Fail closed: never served without them.
  std::vector<std::string> refusals;

  bool refused() const { return !refusals.empty(); }
};

struct AnnotationOptions {
  bool allow_unsupported_security = false;  // --allow-unsupported-security-annotations
  uint16_t limit_status = 429;              // --limit-req-status-code
};

// Reads the grpc-ingress.io/ annotations and the ingress-nginx ones with the
// same meaning (ours win when both are set), and classifies every key under
// either prefix (annotation_catalog.h): unknown ones of ours refuse the
// Ingress as typos, unknown ingress-nginx ones warn.
IngressOptions read_annotations(const ObjectMeta& meta, const AnnotationOptions& options = {});

}  // namespace grpc_ingress
