#pragma once

#include "common/result.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace grpc_ingress {

// "250ms", "5s", "2m", "1h"; a bare number is seconds (as ingress-nginx's timeouts).
Status parse_duration(const std::string& text, std::chrono::milliseconds& out);

enum class LogFormat { kText, kJson };

// Who may read the admin port's /debug/* (--admin-debug-access): loopback peers
// only (kubectl port-forward arrives there), every peer, or nobody.
enum class DebugAccess { kLoopback, kAny, kOff };

// The command line, with its defaults. Names match DESIGN.md.
struct Flags {
  std::string kubeconfig;
  std::string manifests;
  std::string ingress_class = "grpc";
  std::string controller_name = "grpc-ingress.io/controller";
  std::string watch_namespace;
  bool watch_ingress_without_class = false;
  std::string bind_address = "0.0.0.0";
  uint16_t http_port = 8080;
  uint16_t https_port = 8443;
  uint16_t admin_port = 10254;
  std::string admin_bind_address;  // empty: --bind-address
  DebugAccess admin_debug_access = DebugAccess::kLoopback;
  // /healthz fails when a worker's event loop has not turned for this long.
  std::chrono::milliseconds healthz_stall_timeout{10000};
  int threads = 0;  // 0: one per core
  std::string publish_service;
  LogFormat log_format = LogFormat::kText;
  std::string log_level = "info";
  bool access_log = true;
  bool metrics_per_endpoint = false;
  bool metrics_grpc_method_labels = false;
  int metrics_max_grpc_methods = 100;  // per route, over all workers
  std::chrono::milliseconds manifests_poll_interval{200};
  std::chrono::milliseconds upstream_connect_timeout{2000};
  std::chrono::milliseconds upstream_keepalive_interval{300000};
  std::chrono::milliseconds upstream_idle_timeout{300000};
  std::chrono::milliseconds stream_idle_timeout{3600000};
  std::chrono::milliseconds shutdown_drain{5000};
  std::chrono::milliseconds shutdown_grace{25000};
  // Kubernetes API mode: leader election (one replica writes status and Events).
  std::string election_id = "grpc-ingress-leader";  // the Lease's name
  std::string leader_election_namespace;              // default: the pod's namespace
  std::chrono::milliseconds leader_election_lease_duration{15000};
  std::chrono::milliseconds leader_election_renew_deadline{10000};
  std::chrono::milliseconds leader_election_retry_period{2000};
  std::vector<std::string> publish_status_addresses;  // --publish-status-address a,b
  bool help = false;
  bool version = false;  // print the version and exit
  // HTTP/1.1 clients: keep-alive idle time (also the time to send a request
  // head), and the largest request body (413 beyond).
  std::chrono::milliseconds http1_idle_timeout{60000};
  uint64_t http1_max_body_size = 64ull * 1024 * 1024;
  // Isolation and abuse limits (docs/security.md): the HTTP/2 stream window
  // both ways (what one stream may hold in the proxy), body bytes held per
  // client connection and per worker, consecutive frames without payload,
  // and PING/SETTINGS acks owed to a client that does not read.
  uint64_t stream_window = 256 * 1024;
  uint64_t max_connection_buffer = 32ull * 1024 * 1024;
  uint64_t max_worker_buffer = 64ull * 1024 * 1024;
  int max_consecutive_empty_frames = 1;
  int max_outbound_control_frames = 1000;
  // TLS: the Secret ("namespace/name") that answers hosts without a
  // certificate (default: a self-signed one made at start-up), and the port
  // ssl-redirect sends HTTP/1.1 clients to (443: left out of the URL).
  std::string default_ssl_certificate;
  uint16_t ssl_redirect_port = 443;
  // Gateway API: read where the CRDs are installed (auto) or never (off); the
  // GatewayClass controllerName served; which listener ports our ports serve.
  bool gateway_api = true;
  std::string gateway_controller_name = "grpc-ingress.io/gateway-controller";
  uint16_t gateway_http_port = 80;
  uint16_t gateway_https_port = 443;
  std::chrono::milliseconds gateway_discovery_interval{30000};
  // Migration from ingress-nginx (docs/edge-access.md): serve an
  // Ingress whose security annotations we do not implement (default: refuse
  // it), and what a request refused by limit-rps / limit-rpm /
  // limit-connections gets over plain HTTP.
  bool allow_unsupported_security_annotations = false;
  int limit_req_status_code = 429;
  // Client identity: a PROXY protocol (v1/v2) header starts every connection
  // (as a cloud load balancer sends it); the header a trusted proxy names the
  // client in; whether the pod gets the whole chain; the peers trusted to
  // say who the client is (empty: none).
  bool use_proxy_protocol = false;
  std::string forwarded_for_header = "x-forwarded-for";  // lower-case
  bool compute_full_forwarded_for = false;
  std::vector<std::string> proxy_real_ip_cidr;
};

// Accepts "--name value" and "--name=value"; booleans also as bare "--name".
Result<Flags> parse_flags(const std::vector<std::string>& args);

std::string flags_usage();

}  // namespace grpc_ingress
