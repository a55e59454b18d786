#include "controller/translate/annotations.h"

#include "common/text.h"
#include "controller/translate/access_annotations.h"
#include "controller/translate/annotation_catalog.h"
#include "controller/translate/annotation_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

namespace grpc_ingress {
namespace {

void read_balancing(AnnotationReader& reader, ClusterPolicy& out) {
  static const std::map<std::string, LoadBalancePolicy> kPolicies = {
      {"least_request", LoadBalancePolicy::kLeastRequest},
      {"round_robin", LoadBalancePolicy::kRoundRobin},
      {"ewma", LoadBalancePolicy::kEwma},
      {"ring_hash", LoadBalancePolicy::kRingHash}};
  if (const std::string* value = reader.find("load-balance", "load-balance")) {
    auto known = kPolicies.find(trim_text(*value));
    if (known == kPolicies.end()) {
      reader.problem(*value, "is not a known policy (least_request, round_robin, ewma, ring_hash)",
                     "using least_request");
    } else {
      out.policy = known->second;
    }
  }
  std::string header;
  if (const std::string* value = reader.find("hash-by")) {
    header = lower_case(trim_text(*value));
  } else if (const std::string* nginx = reader.find("", "upstream-hash-by")) {
    // nginx names a request header as $http_<name with '_' for '-'>.
    if (nginx->starts_with("$http_") && nginx->size() > 6) {
      header = lower_case(nginx->substr(6));
      std::replace(header.begin(), header.end(), '_', '-');
    } else {
      reader.problem(*nginx, "is not supported (only $http_<header>)", "not hashing");
    }
  }
  if (!header.empty()) {
    if (!is_header_name(header)) {
      reader.problem(header, "is not a valid header name", "not hashing");
    } else if (out.policy != LoadBalancePolicy::kLeastRequest && out.policy != LoadBalancePolicy::kRingHash) {
      reader.problem(header, std::string("(hash-by) conflicts with load-balance ") + to_string(out.policy),
                     std::string("using ") + to_string(out.policy));
    } else {
      out.policy = LoadBalancePolicy::kRingHash;
      out.hash_header = header;
    }
  }
  if (out.policy == LoadBalancePolicy::kRingHash && out.hash_header.empty()) {
    reader.problem("ring_hash", "needs grpc-ingress.io/hash-by: <header>", "using least_request");
    out.policy = LoadBalancePolicy::kLeastRequest;
  }
}

void read_health(AnnotationReader& reader, IngressOptions& out) {
  HealthCheck& check = out.cluster.health_check;
  if (const std::string* path = reader.find("http-health-path")) {
    if (path->empty() || path->front() != '/' ||
        std::any_of(path->begin(), path->end(), [](char c) {
          return static_cast<unsigned char>(c) <= 0x20 || c == '?' || c == '#' || c == 0x7f;
        })) {
      reader.problem(*path, "is not a path (starting with '/', no spaces, '?' or '#')", "no HTTP health bridge");
    } else {
      out.http_health_path = *path;
      check.enabled = true;  // the bridge answers from gRPC health checks
    }
  }
  if (const std::string* kind = reader.find("health-check")) {
    std::string value = lower_case(trim_text(*kind));
    if (value == "grpc") {
      check.enabled = true;
    } else if (value == "none" || value == "false" || value == "off") {
      if (!out.http_health_path.empty()) {
        reader.problem(*kind, "is ignored because http-health-path needs gRPC health checks",
                       "checking with grpc");
      } else {
        check.enabled = false;
      }
    } else {
      reader.problem(*kind, "is not a health check kind (grpc, none)",
                     check.enabled ? "checking with grpc" : "not checking");
    }
  }
  if (const std::string* service = reader.find("health-check-service")) check.service = trim_text(*service);
  reader.duration_value("health-check-interval", check.interval, std::chrono::milliseconds(100));
  reader.duration_value("health-check-timeout", check.timeout, std::chrono::milliseconds(10));
  reader.uint_value("health-check-healthy-threshold", check.healthy_threshold, 1, 100);
  reader.uint_value("health-check-unhealthy-threshold", check.unhealthy_threshold, 1, 100);

  OutlierDetection& outliers = out.cluster.outlier_detection;
  reader.uint_value("outlier-consecutive-failures", outliers.consecutive_failures, 0, 1000);
  reader.duration_value("outlier-base-ejection-time", outliers.base_ejection, std::chrono::milliseconds(100));
  reader.duration_value("outlier-max-ejection-time", outliers.max_ejection, std::chrono::milliseconds(100));
  if (outliers.max_ejection < outliers.base_ejection) outliers.max_ejection = outliers.base_ejection;
}

void read_retries(AnnotationReader& reader, IngressOptions& out) {
  reader.uint_value("retries", out.retry.retries, 0, 10);
  if (const std::string* value = reader.find("retry-on")) {
    uint32_t bits = 0;
    std::string_view list = *value;
    bool valid = true;
    while (!list.empty()) {
      auto comma = list.find(',');
      std::string name = trim_text(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      if (name.empty()) continue;
      auto code = grpc_code_from_name(name);
      if (!code || *code == 0) {
        valid = false;
        break;
      }
      bits |= 1u << *code;
    }
    if (!valid) {
      reader.problem(*value, "is not a list of gRPC status names (e.g. unavailable,resource_exhausted)",
                     "retrying on unavailable");
    } else {
      out.retry.retry_on = bits;
    }
  }
}

void read_limits(AnnotationReader& reader, IngressOptions& out) {
  reader.duration_value("max-timeout", out.max_timeout, std::chrono::milliseconds(1));
  reader.size_value("max-message-bytes", out.max_message_bytes);
  reader.uint_value("max-streams-per-endpoint", out.cluster.max_streams_per_endpoint, 0, 1'000'000);
  reader.uint_value("max-pending-per-endpoint", out.cluster.max_pending_per_endpoint, 1, 1'000'000);
}

void read_web(AnnotationReader& reader, IngressOptions& out) {
  if (const std::string* value = reader.find("grpc-web")) {
    std::string flag = lower_case(trim_text(*value));
    if (flag == "false" || flag == "true") {
      out.grpc_web = flag == "true";
    } else {
      reader.problem(*value, "is not true or false", "gRPC-Web stays on");
    }
  }
  if (const std::string* value = reader.find("cors-allow-origin", "cors-allow-origin")) {
    out.cors_allow_origin = trim_text(*value);
  }
}

void read_upstream(AnnotationReader& reader, const ObjectMeta& meta, ClusterPolicy& out) {
  if (const std::string* value = reader.find("backend-protocol", "backend-protocol")) {
    static const std::map<std::string, BackendProtocol> kProtocols = {
        {"GRPC", BackendProtocol::kGrpc}, {"GRPCS", BackendProtocol::kGrpcs}, {"H2C", BackendProtocol::kH2c},
        {"HTTP", BackendProtocol::kHttp}, {"HTTPS", BackendProtocol::kHttps}};
    std::string name = trim_text(*value);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    auto it = kProtocols.find(name);
    if (it == kProtocols.end()) {
      reader.problem(*value, "is not a backend protocol (GRPC, GRPCS, H2C, HTTP, HTTPS)",
                     "the Service port's appProtocol decides");
    } else {
      out.backend_protocol = it->second;
      out.backend_protocol_annotation = reader.found() + ": " + name;
    }
  }
  if (const std::string* value = reader.find("upstream-sni", "proxy-ssl-name")) {
    std::string name = lower_case(trim_text(*value));
    if (name.empty() || name.size() > 253 || !std::all_of(name.begin(), name.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
        })) {
      reader.problem(*value, "is not a DNS name", "sending the Service's DNS name");
    } else {
      out.upstream_sni = name;
    }
  }
  if (const std::string* value = reader.find("upstream-ca-secret")) {
    out.upstream_ca_secret = parse_secret_reference(meta, *value);
    if (!out.upstream_ca_secret) reader.refuse(*value, "is not a Secret name (name or namespace/name)");
  }
  if (const std::string* value = reader.find("upstream-client-secret", "proxy-ssl-secret")) {
    out.upstream_client_secret = parse_secret_reference(meta, *value);
    if (!out.upstream_client_secret) reader.problem(*value, "is not a Secret name (name or namespace/name)", "ignoring it");
  }
  // ingress-nginx verifies pods with the ca.crt of proxy-ssl-secret when
  // proxy-ssl-verify is "on"; ours names the CA apart (and wins).
  if (const std::string* verify = reader.find("", "proxy-ssl-verify")) {
    std::string mode = lower_case(trim_text(*verify));
    if (mode == "on") {
      const std::string* secret = reader.find("", "proxy-ssl-secret");
      std::optional<ObjectKey> key = secret ? parse_secret_reference(meta, *secret) : std::nullopt;
      reader.find("", "proxy-ssl-verify");
      if (!key) {
        reader.refuse(*verify, "needs nginx.ingress.kubernetes.io/proxy-ssl-secret naming the Secret whose ca.crt verifies the pods");
      } else if (!out.upstream_ca_secret) {
        out.upstream_ca_secret = key;
      }
    } else if (mode != "off") {
      reader.refuse(*verify, "is not on or off");
    }
  }
}

void read_canary(AnnotationReader& reader, IngressOptions& out) {
  const std::string* canary = reader.find("canary", "canary");
  if (!canary || lower_case(trim_text(*canary)) != "true") return;
  CanaryPolicy policy;
  if (const std::string* header = reader.find("canary-by-header", "canary-by-header")) {
    std::string name = lower_case(trim_text(*header));
    if (is_header_name(name)) {
      policy.header = name;
    } else {
      reader.problem(*header, "is not a valid header name", "not routing by header");
    }
  }
  if (const std::string* value = reader.find("canary-by-header-value", "canary-by-header-value")) {
    policy.header_value = *value;
  }
  if (const std::string* cookie = reader.find("canary-by-cookie", "canary-by-cookie")) {
    policy.cookie = trim_text(*cookie);
  }
  reader.uint_value("canary-weight-total", policy.weight_total, 1, 1'000'000, "canary-weight-total");
  reader.uint_value("canary-weight", policy.weight, 0, policy.weight_total, "canary-weight");
  out.canary = policy;
}

// Every key under our prefix or ingress-nginx's, by its class: typos of
// ours and unsupported security annotations refuse the Ingress (the latter
// unless the operator accepts them), the other unsupported ones warn.
void classify(const ObjectMeta& meta, const AnnotationOptions& options, IngressOptions& out) {
  for (const auto& [key, value] : meta.annotations) {
    if (key.starts_with(kOurAnnotationPrefix)) {
      std::string_view name = std::string_view(key).substr(kOurAnnotationPrefix.size());
      if (is_our_annotation(name)) continue;
      std::string reason = "unknown annotation " + key;
      if (std::string near = closest_our_annotation(name); !near.empty()) {
        reason += " (did you mean " + std::string(kOurAnnotationPrefix) + near + "?)";
      } else if (const AnnotationInfo* nginx = find_nginx_annotation(name); nginx) {
        reason += std::string(" (ingress-nginx's ") + std::string(kNginxAnnotationPrefix) + std::string(name) + " is " +
                  to_string(nginx->kind) + " here, and has no grpc-ingress.io/ spelling)";
      }
      out.refusals.push_back(reason + "; a misspelt annotation of ours may be a protection that is missing, so the "
                                      "Ingress is not routed until it is fixed");
      continue;
    }
    if (!key.starts_with(kNginxAnnotationPrefix)) continue;
    std::string_view name = std::string_view(key).substr(kNginxAnnotationPrefix.size());
    const AnnotationInfo* info = find_nginx_annotation(name);
    if (!info) {
      out.problems.push_back("annotation " + key + " is not a known ingress-nginx annotation; ignored");
      continue;
    }
    if (!info->inert_value.empty() && lower_case(trim_text(value)) == info->inert_value) continue;
    // CORS answers come from cors-allow-origin; with it, enable-cors asks nothing more.
    if (name == "enable-cors" && (lower_case(trim_text(value)) == "false" ||
                                  meta.annotations.count(std::string(kOurAnnotationPrefix) + "cors-allow-origin") ||
                                  meta.annotations.count(std::string(kNginxAnnotationPrefix) + "cors-allow-origin"))) {
      continue;
    }
    switch (info->kind) {
      case AnnotationClass::kSupported:
      case AnnotationClass::kIgnored:
        break;
      case AnnotationClass::kUnsupported:
        out.problems.push_back("annotation " + key + " is not implemented by grpc-ingress (" + std::string(info->note) +
                               "); ignored");
        break;
      case AnnotationClass::kUnsupportedSecurity:
        out.unsupported_security.push_back(key);
        if (options.allow_unsupported_security) {
          out.problems.push_back("annotation " + key + " is security-relevant and not implemented by grpc-ingress (" +
                                 std::string(info->note) +
                                 "); served WITHOUT it because of --allow-unsupported-security-annotations");
        } else {
          out.refusals.push_back("annotation " + key + " is security-relevant and not implemented by grpc-ingress (" +
                                 std::string(info->note) +
                                 "); the Ingress is not routed (--allow-unsupported-security-annotations serves it "
                                 "without the protection)");
        }
        break;
    }
  }
}

}  // namespace

IngressOptions read_annotations(const ObjectMeta& meta, const AnnotationOptions& options) {
  IngressOptions out;
  classify(meta, options, out);
  AnnotationReader reader(meta, out);
  read_balancing(reader, out.cluster);
  read_upstream(reader, meta, out.cluster);
  read_health(reader, out);
  read_retries(reader, out);
  read_limits(reader, out);
  read_web(reader, out);
  read_canary(reader, out);
  read_access_annotations(reader, options, out);
  return out;
}

}  // namespace grpc_ingress
