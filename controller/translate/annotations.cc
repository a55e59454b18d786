#include "controller/translate/annotations.h"

#include "common/text.h"

#include "common/flags.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

namespace grpc_ingress {
namespace {

constexpr std::string_view kPrefix = "grpc-ingress.io/";
constexpr std::string_view kNginxPrefix = "nginx.ingress.kubernetes.io/";

std::string trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return std::string(text);
}

bool is_header_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

class Reader {
 public:
  Reader(const ObjectMeta& meta, std::vector<std::string>& problems) : meta_(meta), problems_(problems) {}

  // The value of grpc-ingress.io/<name> (unless `name` is empty), else of nginx.ingress.kubernetes.io/<nginx_name>.
  const std::string* find(std::string_view name, std::string_view nginx_name = {}) {
    auto it = meta_.annotations.end();
    if (!name.empty()) it = meta_.annotations.find(std::string(kPrefix) + std::string(name));
    if (it != meta_.annotations.end()) {
      found_ = it->first;
      return &it->second;
    }
    if (nginx_name.empty()) return nullptr;
    it = meta_.annotations.find(std::string(kNginxPrefix) + std::string(nginx_name));
    if (it == meta_.annotations.end()) return nullptr;
    found_ = it->first;
    return &it->second;
  }

  // The full name of the annotation find() last found.
  const std::string& found() const { return found_; }

  void problem(const std::string& value, const std::string& what, const std::string& instead) {
    problems_.push_back("annotation " + found_ + ": '" + value + "' " + what + "; " + instead);
  }

  void uint_value(std::string_view name, uint32_t& out, uint32_t min, uint32_t max,
                  std::string_view nginx_name = {}) {
    const std::string* value = find(name, nginx_name);
    if (!value) return;
    uint64_t parsed = 0;
    std::string text = trim(*value);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty() || parsed < min ||
        parsed > max) {
      problem(*value, "is not a whole number from " + std::to_string(min) + " to " + std::to_string(max),
              "using " + std::to_string(out));
      return;
    }
    out = static_cast<uint32_t>(parsed);
  }

  void duration_value(std::string_view name, std::chrono::milliseconds& out, std::chrono::milliseconds min) {
    const std::string* value = find(name);
    if (!value) return;
    std::chrono::milliseconds parsed{};
    auto status = parse_duration(trim(*value), parsed);
    if (!status || parsed < min) {
      problem(*value,
              status ? "is shorter than " + std::to_string(min.count()) + "ms" : status.error().message,
              "using " + std::to_string(out.count()) + "ms");
      return;
    }
    out = parsed;
  }

  // "4194304", "512Ki", "4Mi", "4M" (as nginx's sizes, M = Mi).
  void size_value(std::string_view name, uint32_t& out) {
    const std::string* value = find(name);
    if (!value) return;
    std::string text = trim(*value);
    uint64_t parsed = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    static const std::map<std::string, uint64_t> kUnits = {
        {"", 1}, {"k", 1024}, {"K", 1024}, {"Ki", 1024}, {"m", 1 << 20}, {"M", 1 << 20}, {"Mi", 1 << 20}};
    auto unit = ec == std::errc() ? kUnits.find(std::string(end, static_cast<const char*>(text.data() + text.size()))) : kUnits.end();
    // Divided, not multiplied: a product past 64 bits would wrap to a small size.
    if (unit == kUnits.end() || end == text.data() || parsed > (uint64_t{1} << 31) / unit->second) {
      problem(*value, "is not a size in bytes (a number, or with Ki / Mi) up to 2Gi",
              "using " + (out ? std::to_string(out) : std::string("no limit")));
      return;
    }
    out = static_cast<uint32_t>(parsed * unit->second);
  }

 private:
  const ObjectMeta& meta_;
  std::vector<std::string>& problems_;
  std::string found_;
};

void read_balancing(Reader& reader, ClusterPolicy& out) {
  static const std::map<std::string, LoadBalancePolicy> kPolicies = {
      {"least_request", LoadBalancePolicy::kLeastRequest},
      {"round_robin", LoadBalancePolicy::kRoundRobin},
      {"ewma", LoadBalancePolicy::kEwma},
      {"ring_hash", LoadBalancePolicy::kRingHash}};
  if (const std::string* value = reader.find("load-balance", "load-balance")) {
    auto known = kPolicies.find(trim(*value));
    if (known == kPolicies.end()) {
      reader.problem(*value, "is not a known policy (least_request, round_robin, ewma, ring_hash)",
                     "using least_request");
    } else {
      out.policy = known->second;
    }
  }
  std::string header;
  if (const std::string* value = reader.find("hash-by")) {
    header = lower_case(trim(*value));
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

void read_health(Reader& reader, IngressOptions& out) {
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
    std::string value = lower_case(trim(*kind));
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
  if (const std::string* service = reader.find("health-check-service")) check.service = trim(*service);
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

void read_retries(Reader& reader, IngressOptions& out) {
  reader.uint_value("retries", out.retry.retries, 0, 10);
  if (const std::string* value = reader.find("retry-on")) {
    uint32_t bits = 0;
    std::string_view list = *value;
    bool valid = true;
    while (!list.empty()) {
      auto comma = list.find(',');
      std::string name = trim(list.substr(0, comma));
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

void read_limits(Reader& reader, IngressOptions& out) {
  reader.duration_value("max-timeout", out.max_timeout, std::chrono::milliseconds(1));
  reader.size_value("max-message-bytes", out.max_message_bytes);
  reader.uint_value("max-streams-per-endpoint", out.cluster.max_streams_per_endpoint, 0, 1'000'000);
  reader.uint_value("max-pending-per-endpoint", out.cluster.max_pending_per_endpoint, 1, 1'000'000);
}

void read_web(Reader& reader, IngressOptions& out) {
  if (const std::string* value = reader.find("grpc-web")) {
    std::string flag = lower_case(trim(*value));
    if (flag == "false" || flag == "true") {
      out.grpc_web = flag == "true";
    } else {
      reader.problem(*value, "is not true or false", "gRPC-Web stays on");
    }
  }
  if (const std::string* value = reader.find("cors-allow-origin", "cors-allow-origin")) {
    out.cors_allow_origin = trim(*value);
  }
}

// "name" (in the Ingress's namespace) or "namespace/name".
std::optional<ObjectKey> secret_reference(Reader& reader, const ObjectMeta& meta, const std::string& value) {
  std::string text = trim(value);
  auto slash = text.find('/');
  ObjectKey key = slash == std::string::npos ? ObjectKey{meta.namespace_name, text}
                                             : ObjectKey{text.substr(0, slash), text.substr(slash + 1)};
  auto valid = [](const std::string& name) {
    return !name.empty() && name.size() <= 253 && std::all_of(name.begin(), name.end(), [](char c) {
      return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
             c == '-' || c == '.';
    });
  };
  if (!valid(key.namespace_name) || !valid(key.name)) {
    reader.problem(value, "is not a Secret name (name or namespace/name)", "ignoring it");
    return std::nullopt;
  }
  return key;
}

void read_upstream(Reader& reader, const ObjectMeta& meta, ClusterPolicy& out) {
  if (const std::string* value = reader.find("backend-protocol", "backend-protocol")) {
    static const std::map<std::string, BackendProtocol> kProtocols = {
        {"GRPC", BackendProtocol::kGrpc}, {"GRPCS", BackendProtocol::kGrpcs}, {"H2C", BackendProtocol::kH2c},
        {"HTTP", BackendProtocol::kHttp}, {"HTTPS", BackendProtocol::kHttps}};
    std::string name = trim(*value);
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
    std::string name = lower_case(trim(*value));
    if (name.empty() || name.size() > 253 || !std::all_of(name.begin(), name.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
        })) {
      reader.problem(*value, "is not a DNS name", "sending the Service's DNS name");
    } else {
      out.upstream_sni = name;
    }
  }
  if (const std::string* value = reader.find("upstream-ca-secret")) {
    out.upstream_ca_secret = secret_reference(reader, meta, *value);
  }
  if (const std::string* value = reader.find("upstream-client-secret", "proxy-ssl-secret")) {
    out.upstream_client_secret = secret_reference(reader, meta, *value);
  }
}

void read_canary(Reader& reader, IngressOptions& out) {
  const std::string* canary = reader.find("canary", "canary");
  if (!canary || lower_case(trim(*canary)) != "true") return;
  CanaryPolicy policy;
  if (const std::string* header = reader.find("canary-by-header", "canary-by-header")) {
    std::string name = lower_case(trim(*header));
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
    policy.cookie = trim(*cookie);
  }
  reader.uint_value("canary-weight-total", policy.weight_total, 1, 1'000'000, "canary-weight-total");
  reader.uint_value("canary-weight", policy.weight, 0, policy.weight_total, "canary-weight");
  out.canary = policy;
}

}  // namespace

IngressOptions read_annotations(const ObjectMeta& meta, const AnnotationOptions&) {
  IngressOptions out;
  Reader reader(meta, out.problems);
  read_balancing(reader, out.cluster);
  read_upstream(reader, meta, out.cluster);
  read_health(reader, out);
  read_retries(reader, out);
  read_limits(reader, out);
  read_web(reader, out);
  read_canary(reader, out);
  return out;
}

}  // namespace grpc_ingress
