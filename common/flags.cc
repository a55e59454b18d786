#include "common/flags.h"

#include "common/ip_address.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <map>
#include <optional>

namespace grpc_ingress {
namespace {

Status parse_port(const std::string& text, uint16_t& out) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) {
    return Error{"not a port number: '" + text + "'"};
  }
  out = static_cast<uint16_t>(value);
  return Ok{};
}

Status parse_int(const std::string& text, int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size() || out < 0) {
    return Error{"not a non-negative integer: '" + text + "'"};
  }
  return Ok{};
}

Status parse_bool(const std::string& text, bool& out) {
  if (text == "true" || text == "1") {
    out = true;
  } else if (text == "false" || text == "0") {
    out = false;
  } else {
    return Error{"not a boolean (true|false): '" + text + "'"};
  }
  return Ok{};
}

}  // namespace

Status parse_duration(const std::string& text, std::chrono::milliseconds& out) {
  // A bare number is seconds (ingress-nginx's timeouts); else Go's form, as
  // kubectl and ingress-nginx write durations: "1m30s", "1.5h", "500ms".
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!text.empty() && std::all_of(text.begin(), text.end(), is_digit)) {
    uint64_t seconds = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || seconds > 1'000'000'000ull) return Error{"not a duration (too long): '" + text + "'"};
    out = std::chrono::milliseconds(seconds * 1000);
    return Ok{};
  }
  static const std::pair<std::string_view, long double> kUnitsMs[] = {
      {"ns", 1e-6L}, {"us", 1e-3L}, {"\u00b5s", 1e-3L}, {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  const Error bad{"not a duration (e.g. 500ms, 30s, 1m30s, 2h; units ns, us, ms, s, m, h): '" + text + "'"};
  std::string_view rest = text;
  long double total = 0;
  if (rest.empty()) return bad;
  while (!rest.empty()) {
    size_t digits = 0;
    while (digits < rest.size() && (is_digit(rest[digits]) || rest[digits] == '.')) ++digits;
    std::string_view number = rest.substr(0, digits);
    if (number.empty() || number.find('.') != number.rfind('.') || number == ".") return bad;
    rest.remove_prefix(digits);
    size_t unit_length = 0;
    while (unit_length < rest.size() && !is_digit(rest[unit_length]) && rest[unit_length] != '.') ++unit_length;
    std::string_view unit = rest.substr(0, unit_length);
    rest.remove_prefix(unit_length);
    const auto* found = std::find_if(std::begin(kUnitsMs), std::end(kUnitsMs),
                                     [&](const auto& entry) { return entry.first == unit; });
    if (found == std::end(kUnitsMs)) return bad;
    long double value = std::stold(std::string(number));
    total += value * found->second;
    if (total > 1e12L) return Error{"not a duration (too long): '" + text + "'"};
  }
  // Below a millisecond but not zero: a millisecond, never "no timeout".
  auto ms = static_cast<int64_t>(total);
  if (ms == 0 && total > 0) ms = 1;
  out = std::chrono::milliseconds(ms);
  return Ok{};
}

namespace {

// "65536", "64Ki", "64Mi", "1Gi" (also K, M, G as powers of 1000).
Status parse_size(const std::string& text, uint64_t& out) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return Error{"not a size: '" + text + "'"};
  std::string unit(end, text.data() + text.size());
  static const std::map<std::string, uint64_t> kUnits = {
      {"", 1},          {"K", 1000},          {"M", 1000'000},         {"G", 1000'000'000},
      {"Ki", 1ull << 10}, {"Mi", 1ull << 20}, {"Gi", 1ull << 30}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return Error{"not a size (use Ki, Mi, Gi): '" + text + "'"};
  if (value > UINT64_MAX / it->second) return Error{"size too large: '" + text + "'"};
  out = value * it->second;
  return Ok{};
}

struct FlagSpec {
  bool is_bool;
  std::function<Status(Flags&, const std::string&)> set;
  const char* help;
};

template <typename F>
FlagSpec text(F member, const char* help) {
  return {false, [member](Flags& f, const std::string& v) -> Status {
            f.*member = v;
            return Ok{};
          },
          help};
}

const std::map<std::string, FlagSpec>& specs() {
  using F = Flags;
  static const std::map<std::string, FlagSpec> kSpecs = {
      {"kubeconfig", text(&F::kubeconfig, "kubeconfig file (default: in-cluster service account)")},
      {"manifests", text(&F::manifests, "read objects from YAML/JSON files in DIR instead of the API")},
      {"ingress-class", text(&F::ingress_class, "ingress class name served (default grpc)")},
      {"controller-name", text(&F::controller_name, "IngressClass spec.controller value served")},
      {"controller-class", text(&F::controller_name, "ingress-nginx's name for --controller-name")},
      {"watch-ingress-without-class", {true, [](F& f, const std::string& v) { return parse_bool(v, f.watch_ingress_without_class); }, "also serve Ingresses that name no class (no ingressClassName, no kubernetes.io/ingress.class); default: only when our IngressClass is the cluster default"}},
      {"watch-namespace", text(&F::watch_namespace, "watch only this namespace (default: all)")},
      {"bind-address", text(&F::bind_address, "address the traffic listeners bind (default 0.0.0.0)")},
      {"publish-service", text(&F::publish_service, "NS/NAME of the Service whose address is written to Ingress status")},
      {"log-level", text(&F::log_level, "trace|debug|info|warn|error (default info)")},
      {"http-port", {false, [](F& f, const std::string& v) { return parse_port(v, f.http_port); }, "h2c / HTTP port (default 8080)"}},
      {"https-port", {false, [](F& f, const std::string& v) { return parse_port(v, f.https_port); }, "TLS port: h2 and HTTP/1.1 by ALPN, certificates by SNI (default 8443)"}},
      {"admin-port", {false, [](F& f, const std::string& v) { return parse_port(v, f.admin_port); }, "admin port: /healthz /readyz /metrics /debug/* (default 10254)"}},
      {"admin-bind-address", text(&F::admin_bind_address, "address the admin port binds, e.g. the pod IP or 127.0.0.1 (default: --bind-address)")},
      {"healthz-host", text(&F::admin_bind_address, "ingress-nginx's name for --admin-bind-address")},
      {"admin-debug-access", {false, [](F& f, const std::string& v) -> Status {
         if (v == "loopback") { f.admin_debug_access = DebugAccess::kLoopback; return Ok{}; }
         if (v == "any") { f.admin_debug_access = DebugAccess::kAny; return Ok{}; }
         if (v == "off") { f.admin_debug_access = DebugAccess::kOff; return Ok{}; }
         return Error{"must be loopback, any or off, not '" + v + "'"};
       }, "who may read the admin port's /debug/*: loopback (peers on 127.0.0.0/8 or ::1, as kubectl port-forward arrives), any, or off (default loopback; others get 403)"}},
      {"healthz-stall-timeout", {false, [](F& f, const std::string& v) { return parse_duration(v, f.healthz_stall_timeout); }, "/healthz answers 503 when a worker thread's event loop has not turned for this long (default 10s)"}},
      {"threads", {false, [](F& f, const std::string& v) { return parse_int(v, f.threads); }, "worker threads (default: one per core)"}},
      {"log-format", {false, [](F& f, const std::string& v) -> Status {
         if (v == "json") { f.log_format = LogFormat::kJson; return Ok{}; }
         if (v == "text") { f.log_format = LogFormat::kText; return Ok{}; }
         return Error{"--log-format must be json or text, not '" + v + "'"};
       }, "json|text (default text)"}},
      {"access-log", {true, [](F& f, const std::string& v) { return parse_bool(v, f.access_log); }, "one JSON line per request on stdout (default true; --access-log=false turns it off)"}},
      {"metrics-per-endpoint", {true, [](F& f, const std::string& v) { return parse_bool(v, f.metrics_per_endpoint); }, "also export per-pod series on /metrics (default false: pod churn is series churn)"}},
      {"metrics-grpc-method-labels", {true, [](F& f, const std::string& v) { return parse_bool(v, f.metrics_grpc_method_labels); }, "label gRPC request counts with grpc_service and grpc_method from the path (default false)"}},
      {"metrics-max-grpc-methods", {false, [](F& f, const std::string& v) { return parse_int(v, f.metrics_max_grpc_methods); }, "with --metrics-grpc-method-labels: methods with their own series per route; the rest count as 'other' (default 100)"}},
      {"manifests-poll-interval", {false, [](F& f, const std::string& v) { return parse_duration(v, f.manifests_poll_interval); }, "how often --manifests DIR is checked for changes (default 200ms)"}},
      {"upstream-connect-timeout", {false, [](F& f, const std::string& v) { return parse_duration(v, f.upstream_connect_timeout); }, "timeout for connecting to a pod, TLS handshake included (default 2s)"}},
      {"upstream-keepalive-interval", {false, [](F& f, const std::string& v) { return parse_duration(v, f.upstream_keepalive_interval); }, "PING a pod connection silent this long; no answer a period later closes it (default 5m, gRPC servers' minimum PING interval)"}},
      {"upstream-idle-timeout", {false, [](F& f, const std::string& v) { return parse_duration(v, f.upstream_idle_timeout); }, "close pod connections without streams this long (default 5m)"}},
      {"stream-idle-timeout", {false, [](F& f, const std::string& v) { return parse_duration(v, f.stream_idle_timeout); }, "end a stream with no frames either way this long (default 1h)"}},
      {"shutdown-drain", {false, [](F& f, const std::string& v) { return parse_duration(v, f.shutdown_drain); }, "after SIGTERM, keep serving with /readyz 503 this long (default 5s)"}},
      {"shutdown-grace", {false, [](F& f, const std::string& v) { return parse_duration(v, f.shutdown_grace); }, "then wait at most this long for in-flight streams (default 25s)"}},
      {"http1-idle-timeout", {false, [](F& f, const std::string& v) { return parse_duration(v, f.http1_idle_timeout); }, "HTTP/1.1: close a connection idle between requests this long; also the time to send a request head (default 60s)"}},
      {"http1-max-body-size", {false, [](F& f, const std::string& v) { return parse_size(v, f.http1_max_body_size); }, "HTTP/1.1: largest request body, larger gets 413 (default 64Mi)"}},
      {"stream-window", {false, [](F& f, const std::string& v) { return parse_size(v, f.stream_window); }, "HTTP/2 flow-control window per stream, to clients and pods: the most one stream holds in the proxy each way (default 256Ki)"}},
      {"max-connection-buffer", {false, [](F& f, const std::string& v) { return parse_size(v, f.max_connection_buffer); }, "body bytes held for one client connection's streams; over it, its streams holding the most are reset (default 32Mi)"}},
      {"max-worker-buffer", {false, [](F& f, const std::string& v) { return parse_size(v, f.max_worker_buffer); }, "body bytes held per worker thread; over it, the streams holding the most are reset (default 64Mi)"}},
      {"max-consecutive-empty-frames", {false, [](F& f, const std::string& v) { return parse_int(v, f.max_consecutive_empty_frames); }, "HTTP/2: more DATA/HEADERS/CONTINUATION frames without payload in a row ends the connection with ENHANCE_YOUR_CALM (default 1)"}},
      {"max-outbound-control-frames", {false, [](F& f, const std::string& v) { return parse_int(v, f.max_outbound_control_frames); }, "HTTP/2: PING/SETTINGS acks owed to a client that does not read before it is cut off (default 1000)"}},
      {"election-id", text(&F::election_id, "name of the leader-election Lease (default grpc-ingress-leader)")},
      {"leader-election-namespace", text(&F::leader_election_namespace, "namespace of the Lease (default: $POD_NAMESPACE, else the service account's or the kubeconfig context's)")},
      {"leader-election-lease-duration", {false, [](F& f, const std::string& v) { return parse_duration(v, f.leader_election_lease_duration); }, "a Lease not renewed this long may be taken over (default 15s)"}},
      {"leader-election-renew-deadline", {false, [](F& f, const std::string& v) { return parse_duration(v, f.leader_election_renew_deadline); }, "the leader steps down if it could not renew for this long (default 10s)"}},
      {"leader-election-retry-period", {false, [](F& f, const std::string& v) { return parse_duration(v, f.leader_election_retry_period); }, "how often replicas try to acquire or renew the Lease (default 2s)"}},
      {"publish-status-address", {false, [](F& f, const std::string& v) -> Status {
         f.publish_status_addresses.clear();
         for (size_t start = 0; start <= v.size();) {
           size_t comma = std::min(v.find(',', start), v.size());
           if (comma > start) f.publish_status_addresses.push_back(v.substr(start, comma - start));
           start = comma + 1;
         }
         if (f.publish_status_addresses.empty()) return Error{"needs at least one IP address or host name"};
         return Ok{};
       }, "IPs/host names (comma-separated) written to Ingress status; wins over --publish-service"}},
      {"default-ssl-certificate", {false, [](F& f, const std::string& v) -> Status {
         auto slash = v.find('/');
         if (slash == std::string::npos || slash == 0 || slash + 1 == v.size() || v.find('/', slash + 1) != std::string::npos) {
           return Error{"must be NAMESPACE/NAME of a kubernetes.io/tls Secret, not '" + v + "'"};
         }
         f.default_ssl_certificate = v;
         return Ok{};
       }, "NAMESPACE/NAME of the Secret whose certificate answers TLS hosts without one (default: self-signed)"}},
      {"ssl-redirect-port", {false, [](F& f, const std::string& v) { return parse_port(v, f.ssl_redirect_port); }, "port in the https URL that ssl-redirect sends HTTP/1.1 clients to (default 443, left out of the URL)"}},
      {"gateway-api", {false, [](F& f, const std::string& v) -> Status {
         if (v == "auto") { f.gateway_api = true; return Ok{}; }
         if (v == "off") { f.gateway_api = false; return Ok{}; }
         return Error{"must be auto or off, not '" + v + "'"};
       }, "auto: serve Gateway API objects (GatewayClass, Gateway, GRPCRoute, HTTPRoute) where their CRDs are installed; off: Ingress only (default auto)"}},
      {"gateway-controller-name", text(&F::gateway_controller_name, "GatewayClass spec.controllerName served (default grpc-ingress.io/gateway-controller)")},
      {"gateway-http-port", {false, [](F& f, const std::string& v) { return parse_port(v, f.gateway_http_port); }, "Gateway listeners of protocol HTTP on this port are served on --http-port (default 80)"}},
      {"gateway-https-port", {false, [](F& f, const std::string& v) { return parse_port(v, f.gateway_https_port); }, "Gateway listeners of protocol HTTPS on this port are served on --https-port (default 443)"}},
      {"gateway-discovery-interval", {false, [](F& f, const std::string& v) { return parse_duration(v, f.gateway_discovery_interval); }, "how often the API is asked whether the Gateway API CRDs were installed (default 30s)"}},
      {"allow-unsupported-security-annotations", {true, [](F& f, const std::string& v) { return parse_bool(v, f.allow_unsupported_security_annotations); }, "serve Ingresses whose security annotations grpc-ingress does not implement (auth-type, modsecurity, ...) without them (default false: such an Ingress is refused, with an Event)"}},
      {"limit-req-status-code", {false, [](F& f, const std::string& v) -> Status {
         int code = 0;
         if (!parse_int(v, code) || code < 400 || code > 599) return Error{"must be an HTTP status from 400 to 599, not '" + v + "'"};
         f.limit_req_status_code = code;
         return Ok{};
       }, "HTTP status of a request refused by limit-rps, limit-rpm or limit-connections (default 429; ingress-nginx answers 503; gRPC gets RESOURCE_EXHAUSTED)"}},
      {"use-proxy-protocol", {true, [](F& f, const std::string& v) { return parse_bool(v, f.use_proxy_protocol); }, "every connection starts with a PROXY protocol v1 or v2 header (from a load balancer) naming the client (default false)"}},
      {"forwarded-for-header", {false, [](F& f, const std::string& v) -> Status {
         if (v.empty() || v.find_first_of(" :\t\r\n") != std::string::npos) return Error{"must be a header name, not '" + v + "'"};
         f.forwarded_for_header = v;
         std::transform(f.forwarded_for_header.begin(), f.forwarded_for_header.end(), f.forwarded_for_header.begin(),
                        [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
         return Ok{};
       }, "header in which a trusted proxy (--proxy-real-ip-cidr) names the client (default X-Forwarded-For)"}},
      {"compute-full-forwarded-for", {true, [](F& f, const std::string& v) { return parse_bool(v, f.compute_full_forwarded_for); }, "the pod's X-Forwarded-For is a trusted proxy's list with the connecting address appended, not only the client address (default false)"}},
      {"proxy-real-ip-cidr", {false, [](F& f, const std::string& v) -> Status {
         std::string bad;
         auto ranges = parse_ip_ranges(v, &bad);
         if (!ranges) return Error{"must be a comma-separated list of CIDRs, and '" + bad + "' is not one"};
         f.proxy_real_ip_cidr.clear();
         for (const IpRange& range : *ranges) f.proxy_real_ip_cidr.push_back(range.to_string());
         return Ok{};
       }, "comma-separated CIDRs of proxies trusted to name the client in --forwarded-for-header (default: none)"}},
      {"help", {true, [](F& f, const std::string& v) { return parse_bool(v, f.help); }, "print this help"}},
      {"version", {true, [](F& f, const std::string& v) { return parse_bool(v, f.version); }, "print the version (and the libraries') and exit"}},
  };
  return kSpecs;
}

}  // namespace

Result<Flags> parse_flags(const std::vector<std::string>& args) {
  Flags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!arg.starts_with("--")) return Error{"unexpected argument '" + arg + "' (see --help)"};
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    auto it = specs().find(name);
    if (it == specs().end()) return Error{"unknown flag --" + name + " (see --help)"};
    if (!value) {
      if (it->second.is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Error{"flag --" + name + " needs a value"};
      }
    }
    if (Status status = it->second.set(flags, *value); !status) {
      return Error{"--" + name + ": " + status.error().message};
    }
  }
  if (!flags.kubeconfig.empty() && !flags.manifests.empty()) {
    return Error{"--kubeconfig and --manifests exclude each other"};
  }
  if (flags.stream_window < 16 * 1024 || flags.stream_window > 0x7fffffff) {
    return Error{"--stream-window must be between 16Ki and 2Gi-1 bytes"};
  }
  if (flags.max_connection_buffer < flags.stream_window) {
    return Error{"--max-connection-buffer must be at least --stream-window (one stream's worth)"};
  }
  if (flags.max_worker_buffer < flags.max_connection_buffer) {
    return Error{"--max-worker-buffer must be at least --max-connection-buffer"};
  }
  if (flags.healthz_stall_timeout < std::chrono::seconds(2)) {
    return Error{"--healthz-stall-timeout must be at least 2s (workers prove they turn once a second)"};
  }
  if (flags.max_outbound_control_frames < 1) return Error{"--max-outbound-control-frames must be at least 1"};
  // client-go's rule: the leader must step down before its Lease can expire,
  // and must have had more than one try to renew before that.
  if (flags.leader_election_renew_deadline >= flags.leader_election_lease_duration) {
    return Error{"--leader-election-renew-deadline must be shorter than --leader-election-lease-duration"};
  }
  if (flags.leader_election_retry_period * 12 / 10 >= flags.leader_election_renew_deadline ||
      flags.leader_election_retry_period.count() == 0) {
    return Error{"--leader-election-retry-period must be non-zero and under 1/1.2 of --leader-election-renew-deadline"};
  }
  return flags;
}

std::string flags_usage() {
  std::string out =
      "usage: grpc-ingress [--kubeconfig FILE | --manifests DIR] [flags]\n\n"
      "Without --kubeconfig or --manifests, the in-cluster service account is used.\n\nflags:\n";
  for (const auto& [name, spec] : specs()) {
    std::string left = "  --" + name + (spec.is_bool ? "" : " VALUE");
    out += left + std::string(left.size() < 38 ? 38 - left.size() : 1, ' ') + spec.help;
    out += "\n";
  }
  return out;
}

}  // namespace grpc_ingress
