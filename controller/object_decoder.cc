#include "controller/object_decoder.h"

#include "common/base64.h"
#include "controller/translate/k8s_names.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace grpc_ingress {
namespace {

using nlohmann::json;

constexpr int64_t kMaxPort = 65535;

// Thrown inside this file only; decode_object_as turns it into an InvalidObject.
class DecodeError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A JSON value and its path in the object ("spec.rules[0].host"), so that
// every error names the field. JSON null reads as absent, as in the API.
class Field {
 public:
  Field(const json& value, std::string path) : value_(&value), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  bool is_null() const { return value_->is_null(); }

  [[noreturn]] void fail(std::string_view what) const {
    throw DecodeError(path_.empty() ? std::string(what) : path_ + ": " + std::string(what));
  }

  // The member, or nullopt when it is absent or null. This must be an object.
  std::optional<Field> get(const char* key) const {
    require_object();
    auto it = value_->find(key);
    if (it == value_->end() || it->is_null()) return std::nullopt;
    return Field(*it, join(key));
  }

  void require_object() const {
    if (!value_->is_object()) fail("must be an object");
  }

  // Array elements; an absent array reads as empty.
  std::vector<Field> items() const {
    std::vector<Field> out;
    if (is_null()) return out;
    if (!value_->is_array()) fail("must be a list");
    out.reserve(value_->size());
    for (size_t i = 0; i < value_->size(); ++i) {
      out.emplace_back((*value_)[i], path_ + "[" + std::to_string(i) + "]");
    }
    return out;
  }

  std::string string() const {
    if (!value_->is_string()) fail("must be a string" + quoting_hint());
    return value_->get<std::string>();
  }

  bool boolean() const {
    if (!value_->is_boolean()) fail("must be true or false");
    return value_->get<bool>();
  }

  int64_t integer(int64_t min, int64_t max) const {
    std::string range = " in " + std::to_string(min) + ".." + std::to_string(max);
    if (!value_->is_number_integer()) fail("must be an integer" + range);
    if (value_->is_number_unsigned()) {
      uint64_t value = value_->get<uint64_t>();
      if (value > static_cast<uint64_t>(max) || static_cast<int64_t>(value) < min) {
        fail("must be an integer" + range);
      }
      return static_cast<int64_t>(value);
    }
    int64_t value = value_->get<int64_t>();
    if (value < min || value > max) fail("must be an integer" + range);
    return value;
  }

  int32_t port() const { return static_cast<int32_t>(integer(1, kMaxPort)); }

  // An int-or-string port: 1..65535 or a non-empty name.
  PortRef port_ref() const {
    if (value_->is_string()) {
      std::string name = string();
      if (name.empty()) fail("must be a port number or a non-empty port name");
      return {0, name};
    }
    return {port(), ""};
  }

  std::map<std::string, std::string> string_map() const {
    std::map<std::string, std::string> out;
    require_object();
    for (const auto& [key, value] : value_->items()) {
      out[key] = Field(value, join(key)).string();
    }
    return out;
  }

  std::vector<std::string> strings() const {
    std::vector<std::string> out;
    for (const Field& item : items()) out.push_back(item.string());
    return out;
  }

 private:
  std::string join(std::string_view key) const {
    std::string out = path_;
    // Annotation keys carry dots and slashes: bracket them so the path stays readable.
    if (key.find_first_of("./") != std::string_view::npos) {
      out += "[\"" + std::string(key) + "\"]";
    } else {
      if (!out.empty()) out += '.';
      out += key;
    }
    return out;
  }

  // YAML turns unquoted true, 80 or 1.5 into non-strings; say what to do.
  std::string quoting_hint() const {
    if (value_->is_boolean() || value_->is_number()) return " (quote the value in YAML)";
    return "";
  }

  const json* value_;
  std::string path_;
};

std::optional<std::string> optional_string(const Field& parent, const char* key) {
  auto field = parent.get(key);
  if (!field) return std::nullopt;
  return field->string();
}

std::string string_or_empty(const Field& parent, const char* key) {
  return optional_string(parent, key).value_or("");
}

std::vector<Field> items_of(const Field& parent, const char* key) {
  auto field = parent.get(key);
  return field ? field->items() : std::vector<Field>{};
}

// A list the CRD bounds (maxItems); an absent list reads as empty.
std::vector<Field> list_of(const Field& parent, const char* key, size_t max_items) {
  auto field = parent.get(key);
  if (!field) return {};
  std::vector<Field> items = field->items();
  if (items.size() > max_items) field->fail("must have at most " + std::to_string(max_items) + " items");
  return items;
}

// A list the CRD requires, with at least one item.
std::vector<Field> required_list(const Field& parent, const char* key, size_t max_items) {
  auto field = parent.get(key);
  if (!field) parent.fail(std::string(key) + " is required");
  std::vector<Field> items = list_of(parent, key, max_items);
  if (items.empty()) field->fail("must have at least 1 item");
  return items;
}

// A value as an error quotes it: cut when long, so a reason stays short, and
// control characters escaped, so a reason cannot break a log line.
std::string quote_value(std::string_view text) {
  constexpr size_t kMaxQuoted = 64;
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out = "'";
  for (char c : text.substr(0, kMaxQuoted)) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out + (text.size() > kMaxQuoted ? "...'" : "'");
}

// A string syntax of the API (a pattern or length in the CRD), and how an error describes it.
struct Syntax {
  bool (*valid)(std::string_view);
  const char* description;
};

std::string checked_string(const Field& field, const Syntax& syntax) {
  std::string text = field.string();
  if (!syntax.valid(text)) field.fail(quote_value(text) + " is not " + syntax.description);
  return text;
}

std::string required_string(const Field& parent, const char* key, const Syntax& syntax) {
  auto field = parent.get(key);
  if (!field) parent.fail(std::string(key) + " is required");
  return checked_string(*field, syntax);
}

std::string optional_checked(const Field& parent, const char* key, const Syntax& syntax,
                             std::string_view fallback = "") {
  auto field = parent.get(key);
  return field ? checked_string(*field, syntax) : std::string(fallback);
}

// One value of an enum the CRD lists.
template <typename T>
struct EnumValue {
  std::string_view name;
  T value;
};

template <typename T, size_t N>
T enum_value(const Field& field, const EnumValue<T> (&values)[N]) {
  std::string text = field.string();
  std::string names;
  for (size_t i = 0; i < N; ++i) {
    if (values[i].name == text) return values[i].value;
    names += i == 0 ? "" : i + 1 == N ? " or " : ", ";
    names += values[i].name;
  }
  field.fail(quote_value(text) + " is not " + names);
}

template <typename T, size_t N>
T optional_enum(const Field& parent, const char* key, const EnumValue<T> (&values)[N], T fallback) {
  auto field = parent.get(key);
  return field ? enum_value(*field, values) : fallback;
}

// Kubernetes' IsDNS1123Subdomain, which object and section names follow: at
// most 253 characters, dot-separated parts of [a-z0-9-] that start and end
// alphanumeric, with no 63-character limit per part (DNS names have one:
// is_dns_subdomain).
bool is_object_subdomain(std::string_view name) {
  constexpr size_t kMaxLength = 253;
  if (name.empty() || name.size() > kMaxLength) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (size_t start = 0; start <= name.size();) {
    size_t end = std::min(name.find('.', start), name.size());
    std::string_view part = name.substr(start, end - start);
    if (part.empty() || !alnum(part.front()) || !alnum(part.back())) return false;
    if (!std::all_of(part.begin(), part.end(), [&](char c) { return alnum(c) || c == '-'; })) return false;
    start = end + 1;
  }
  return true;
}

// RFC 3339 as the API server writes it: "2024-05-01T10:00:00Z"; fractional
// seconds and numeric offsets are accepted, the fraction is dropped.
std::chrono::sys_seconds parse_timestamp(const Field& field) {
  std::string text = field.string();
  auto bad = [&]() -> std::chrono::sys_seconds {
    field.fail("must be an RFC 3339 time such as 2024-05-01T10:00:00Z");
  };
  std::string_view rest = text;
  auto number = [&](size_t digits, char then) -> int {
    if (rest.size() < digits) bad();
    int value = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + digits, value);
    if (ec != std::errc() || ptr != rest.data() + digits) bad();
    rest.remove_prefix(digits);
    if (then != '\0') {
      if (rest.empty() || (rest.front() != then && !(then == 'T' && rest.front() == 't'))) bad();
      rest.remove_prefix(1);
    }
    return value;
  };
  int year = number(4, '-');
  int month = number(2, '-');
  int day = number(2, 'T');
  int hour = number(2, ':');
  int minute = number(2, ':');
  int second = number(2, '\0');
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    if (digits == 0) bad();
    rest.remove_prefix(digits);
  }
  int offset_minutes = 0;
  if (rest == "Z" || rest == "z") {
    rest = {};
  } else if (!rest.empty() && (rest.front() == '+' || rest.front() == '-')) {
    int sign = rest.front() == '+' ? 1 : -1;
    rest.remove_prefix(1);
    int offset_hours = number(2, ':');
    offset_minutes = sign * (offset_hours * 60 + number(2, '\0'));
  } else {
    bad();
  }
  if (!rest.empty()) bad();

  std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(month),
                                   std::chrono::day(day)};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) bad();
  return std::chrono::sys_days(date) + std::chrono::hours(hour) +
         std::chrono::minutes(minute - offset_minutes) + std::chrono::seconds(second);
}

ObjectMeta decode_meta(const Field& root, ObjectKind kind) {
  auto metadata = root.get("metadata");
  if (!metadata) root.fail("metadata is required");
  ObjectMeta meta;
  auto name = metadata->get("name");
  if (!name) metadata->fail("name is required");
  meta.name = name->string();
  if (!is_object_subdomain(meta.name)) {
    name->fail("'" + meta.name + "' is not a valid name (lower-case RFC 1123 subdomain)");
  }
  if (is_namespaced(kind)) {
    // kubectl puts a namespace-less manifest in "default"; so do we.
    meta.namespace_name = "default";
    if (auto ns = metadata->get("namespace")) {
      meta.namespace_name = ns->string();
      if (!is_dns_subdomain(meta.namespace_name)) {
        ns->fail("'" + meta.namespace_name + "' is not a valid namespace");
      }
    }
  }
  meta.uid = string_or_empty(*metadata, "uid");
  if (auto generation = metadata->get("generation")) {
    meta.generation = generation->integer(0, std::numeric_limits<int64_t>::max());
  }
  if (auto created = metadata->get("creationTimestamp")) {
    meta.creation_timestamp = parse_timestamp(*created);
  }
  if (auto labels = metadata->get("labels")) meta.labels = labels->string_map();
  if (auto annotations = metadata->get("annotations")) meta.annotations = annotations->string_map();
  return meta;
}

// spec, or an empty object when absent (every field in it is optional).
Field spec_of(const Field& root) {
  static const json kEmpty = json::object();
  auto spec = root.get("spec");
  if (!spec) return Field(kEmpty, "spec");
  spec->require_object();
  return *spec;
}

IngressBackend decode_backend(const Field& field) {
  IngressBackend backend;
  if (auto service = field.get("service")) {
    backend.service_name = string_or_empty(*service, "name");
    if (auto port = service->get("port")) {
      if (auto number = port->get("number")) backend.service_port.number = number->port();
      backend.service_port.name = string_or_empty(*port, "name");
    }
  }
  if (auto resource = field.get("resource")) {
    backend.resource_kind = string_or_empty(*resource, "kind");
    backend.resource_name = string_or_empty(*resource, "name");
    if (backend.resource_kind.empty()) resource->fail("kind is required");
  }
  return backend;
}

std::optional<IngressPathType> decode_path_type(const Field& path) {
  auto type = path.get("pathType");
  if (!type) return std::nullopt;
  std::string text = type->string();
  if (text == "Exact") return IngressPathType::kExact;
  if (text == "Prefix") return IngressPathType::kPrefix;
  if (text == "ImplementationSpecific") return IngressPathType::kImplementationSpecific;
  type->fail("'" + text + "' is not Exact, Prefix or ImplementationSpecific");
}

// status.loadBalancer.ingress of an Ingress or a Service.
std::vector<LoadBalancerIngress> decode_load_balancer_status(const Field& root) {
  std::vector<LoadBalancerIngress> out;
  auto status = root.get("status");
  if (!status) return out;
  auto load_balancer = status->get("loadBalancer");
  if (!load_balancer) return out;
  for (const Field& entry : items_of(*load_balancer, "ingress")) {
    out.push_back({string_or_empty(entry, "ip"), string_or_empty(entry, "hostname")});
  }
  return out;
}

Ingress decode_ingress(const Field& root) {
  Ingress ingress;
  ingress.metadata = decode_meta(root, ObjectKind::kIngress);
  Field spec = spec_of(root);
  ingress.ingress_class_name = string_or_empty(spec, "ingressClassName");
  if (auto backend = spec.get("defaultBackend")) ingress.default_backend = decode_backend(*backend);
  for (const Field& rule_field : items_of(spec, "rules")) {
    IngressRule rule;
    rule.host = string_or_empty(rule_field, "host");
    if (auto http = rule_field.get("http")) {
      auto paths = http->get("paths");
      if (!paths) http->fail("paths is required");
      for (const Field& path_field : paths->items()) {
        path_field.require_object();
        IngressPath path;
        path.path = string_or_empty(path_field, "path");
        path.path_type = decode_path_type(path_field);
        auto backend = path_field.get("backend");
        if (!backend) path_field.fail("backend is required");
        path.backend = decode_backend(*backend);
        rule.paths.push_back(std::move(path));
      }
    }
    ingress.rules.push_back(std::move(rule));
  }
  for (const Field& tls_field : items_of(spec, "tls")) {
    IngressTls tls;
    if (auto hosts = tls_field.get("hosts")) tls.hosts = hosts->strings();
    tls.secret_name = string_or_empty(tls_field, "secretName");
    ingress.tls.push_back(std::move(tls));
  }
  ingress.load_balancer = decode_load_balancer_status(root);
  return ingress;
}

IngressClass decode_ingress_class(const Field& root) {
  IngressClass ingress_class;
  ingress_class.metadata = decode_meta(root, ObjectKind::kIngressClass);
  ingress_class.controller = string_or_empty(spec_of(root), "controller");
  return ingress_class;
}

Service decode_service(const Field& root) {
  Service service;
  service.metadata = decode_meta(root, ObjectKind::kService);
  Field spec = spec_of(root);
  if (auto type = optional_string(spec, "type")) service.type = *type;
  for (const Field& port_field : items_of(spec, "ports")) {
    ServicePort port;
    port.name = string_or_empty(port_field, "name");
    auto number = port_field.get("port");
    if (!number) port_field.fail("port is required");
    port.port = number->port();
    auto target = port_field.get("targetPort");
    port.target_port = target ? target->port_ref() : PortRef{port.port, ""};
    port.app_protocol = string_or_empty(port_field, "appProtocol");
    service.ports.push_back(std::move(port));
  }
  service.cluster_ip = string_or_empty(spec, "clusterIP");
  if (auto external = spec.get("externalIPs")) service.external_ips = external->strings();
  service.load_balancer = decode_load_balancer_status(root);
  return service;
}

EndpointSlice decode_endpoint_slice(const Field& root) {
  EndpointSlice slice;
  slice.metadata = decode_meta(root, ObjectKind::kEndpointSlice);
  auto address_type = root.get("addressType");
  if (!address_type) root.fail("addressType is required");
  slice.address_type = address_type->string();
  for (const Field& port_field : items_of(root, "ports")) {
    EndpointSlicePort port;
    port.name = string_or_empty(port_field, "name");
    if (auto number = port_field.get("port")) port.port = number->port();
    port.app_protocol = string_or_empty(port_field, "appProtocol");
    slice.ports.push_back(std::move(port));
  }
  for (const Field& field : items_of(root, "endpoints")) {
    SliceEndpoint endpoint;
    if (auto addresses = field.get("addresses")) endpoint.addresses = addresses->strings();
    if (auto conditions = field.get("conditions")) {
      if (auto ready = conditions->get("ready")) endpoint.conditions.ready = ready->boolean();
      if (auto serving = conditions->get("serving")) endpoint.conditions.serving = serving->boolean();
      if (auto terminating = conditions->get("terminating")) {
        endpoint.conditions.terminating = terminating->boolean();
      }
    }
    if (auto target = field.get("targetRef")) endpoint.target_ref_name = string_or_empty(*target, "name");
    slice.endpoints.push_back(std::move(endpoint));
  }
  return slice;
}

// Secret data values are base64; the error names the key.
std::string decode_base64_field(const Field& field) {
  auto decoded = decode_base64(field.string());
  if (!decoded) field.fail("is not valid base64");
  return std::move(*decoded);
}

// The only Secret data routing uses; the rest (application passwords in
// Opaque Secrets) is never kept in memory.
bool is_certificate_key(const std::string& key) { return key == "tls.crt" || key == "tls.key" || key == "ca.crt"; }

Secret decode_secret(const Field& root) {
  Secret secret;
  secret.metadata = decode_meta(root, ObjectKind::kSecret);
  secret.type = string_or_empty(root, "type");
  if (auto data = root.get("data")) {
    data->require_object();
    for (const auto& [key, value] : data->string_map()) {
      if (!is_certificate_key(key)) continue;
      json text = value;
      secret.data[key] = decode_base64_field(Field(text, data->path() + "[\"" + key + "\"]"));
    }
  }
  // The API server merges stringData into data on write; manifest files still carry it.
  if (auto string_data = root.get("stringData")) {
    for (auto& [key, value] : string_data->string_map()) {
      if (is_certificate_key(key)) secret.data[key] = std::move(value);
    }
  }
  return secret;
}

// v1 Namespace: its labels are all routing needs (listener namespace selectors).
Namespace decode_namespace(const Field& root) { return Namespace{decode_meta(root, ObjectKind::kNamespace)}; }

// ---- Gateway API (gateway.networking.k8s.io) ----
//
// Decoded as the API server would have stored them: the CRD's defaults applied,
// and what its schema and validation rules refuse refused here too, so that a
// manifest file means what the same object in a cluster means.

// The CRD's bounds (maxItems, maxLength).
constexpr size_t kMaxParentRefs = 32;
constexpr size_t kMaxRouteHostnames = 16;
constexpr size_t kMaxRouteRules = 16;
constexpr size_t kMaxRuleMatches = 64;
constexpr size_t kMaxRouteMatches = 128;  // across all rules of a route
constexpr size_t kMaxRuleFilters = 16;
constexpr size_t kMaxRuleBackends = 16;
constexpr size_t kMaxMatchHeaders = 16;
constexpr size_t kMaxHeaderChanges = 16;
constexpr size_t kMaxListeners = 64;
constexpr size_t kMaxCertificateRefs = 64;
constexpr size_t kMaxTlsOptions = 16;
constexpr size_t kMaxRouteKinds = 8;
constexpr size_t kMaxGrantEntries = 16;
constexpr int64_t kMaxBackendWeight = 1000000;
constexpr size_t kMaxHeaderValueLength = 4096;
constexpr size_t kMaxQueryValueLength = 1024;
constexpr size_t kMaxPathLength = 1024;
constexpr size_t kMaxGrpcNameLength = 1024;  // GRPCMethodMatch service and method

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// No control characters: what a header or path carries must not split a line.
bool has_no_controls(std::string_view text) {
  return std::none_of(text.begin(), text.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && c != '\t') || byte == 0x7f;
  });
}

// Kind: ^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$, at most 63 characters.
bool is_kind_name(std::string_view text) {
  if (text.empty() || text.size() > 63 || !is_alnum(text.front()) || is_digit(text.front())) return false;
  if (!is_alnum(text.back())) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

// HTTP token characters (RFC 9110), 1 to 256 of them: header and query parameter names.
bool is_header_name(std::string_view text) {
  constexpr std::string_view kTokenPunctuation = "!#$%&'*+-.^_`|~";
  if (text.empty() || text.size() > 256) return false;
  return std::all_of(text.begin(), text.end(),
                     [&](char c) { return is_alnum(c) || kTokenPunctuation.find(c) != std::string_view::npos; });
}

// ProtocolType: HTTP, HTTPS, ... or a domain-prefixed name ("example.com/proto").
bool is_protocol(std::string_view text) {
  if (text.empty() || text.size() > 255) return false;
  size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    std::string_view name = text.substr(slash + 1);
    return is_dns_subdomain(text.substr(0, slash)) && !name.empty() && std::all_of(name.begin(), name.end(), is_alnum);
  }
  return is_alnum(text.front()) && is_alnum(text.back()) &&
         std::all_of(text.begin(), text.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

// GatewayController: "example.com/path".
bool is_controller_name(std::string_view text) {
  constexpr std::string_view kPathPunctuation = "/-._~%!$&'()*+,;=:";
  size_t slash = text.find('/');
  if (text.size() > 253 || slash == std::string_view::npos || slash + 1 == text.size()) return false;
  std::string_view path = text.substr(slash + 1);
  return is_dns_subdomain(text.substr(0, slash)) &&
         std::all_of(path.begin(), path.end(),
                     [&](char c) { return is_alnum(c) || kPathPunctuation.find(c) != std::string_view::npos; });
}

// GRPCMethodMatch of type Exact: service ^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$,
// method ^[A-Za-z_][A-Za-z_0-9]*$.
bool is_grpc_identifier(std::string_view text) {
  if (text.empty() || is_digit(text.front())) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return is_alnum(c) || c == '_'; });
}

bool is_grpc_service(std::string_view text) {
  if (text.size() > kMaxGrpcNameLength) return false;
  if (!text.empty() && text.front() == '.') text.remove_prefix(1);
  while (true) {
    size_t dot = text.find('.');
    if (!is_grpc_identifier(text.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    text.remove_prefix(dot + 1);
  }
}

constexpr Syntax kObjectName{[](std::string_view s) { return !s.empty() && s.size() <= 253; },
                             "a name (1 to 253 characters)"};
constexpr Syntax kNamespaceName{
    [](std::string_view s) { return s.size() <= 63 && s.find('.') == std::string_view::npos && is_dns_subdomain(s); },
    "a valid namespace (lower-case RFC 1123 label)"};
constexpr Syntax kSectionName{is_object_subdomain,
                              "a valid section name (lower-case RFC 1123 subdomain)"};
constexpr Syntax kHostname{
    [](std::string_view s) {
      if (s.size() > 253) return false;
      if (s.starts_with("*.")) s.remove_prefix(2);
      return is_dns_subdomain(s);
    },
    "a valid hostname (lower-case RFC 1123 subdomain, optionally starting with '*.')"};
constexpr Syntax kPreciseHostname{[](std::string_view s) { return is_dns_subdomain(s); },
                                  "a valid hostname (lower-case RFC 1123 subdomain, no wildcard)"};
constexpr Syntax kGroupName{[](std::string_view s) { return s.empty() || is_dns_subdomain(s); },
                            "a valid API group (empty for the core group, or an RFC 1123 subdomain)"};
constexpr Syntax kKindName{is_kind_name, "a valid kind (a letter, then letters, digits or '-')"};
constexpr Syntax kFilterType{is_kind_name, "a valid filter type"};
constexpr Syntax kNonEmpty{[](std::string_view s) { return !s.empty(); }, "a non-empty string"};
constexpr Syntax kHeaderName{is_header_name, "a valid header name (1 to 256 token characters)"};
constexpr Syntax kProtocolName{is_protocol, "a valid protocol (HTTP, HTTPS, ... or domain/name)"};
constexpr Syntax kControllerName{is_controller_name, "a valid controller name (domain/path)"};
constexpr Syntax kHeaderValue{
    [](std::string_view s) { return !s.empty() && s.size() <= kMaxHeaderValueLength && has_no_controls(s); },
    "a valid header value (1 to 4096 characters, no control characters)"};
constexpr Syntax kMatchValue{[](std::string_view s) { return !s.empty() && s.size() <= kMaxHeaderValueLength; },
                             "a valid value (1 to 4096 characters)"};
constexpr Syntax kQueryValue{[](std::string_view s) { return !s.empty() && s.size() <= kMaxQueryValueLength; },
                             "a valid value (1 to 1024 characters)"};
constexpr Syntax kGrpcName{[](std::string_view s) { return s.size() <= kMaxGrpcNameLength; },
                           "a valid value (at most 1024 characters)"};
constexpr Syntax kPathValue{[](std::string_view s) { return s.size() <= kMaxPathLength && has_no_controls(s); },
                            "a valid path (at most 1024 characters, no control characters)"};

// HTTPPathMatch of type Exact or PathPrefix: the CRD's rules, with its messages.
void check_http_path(const Field& field, std::string_view path) {
  constexpr std::string_view kPathPunctuation = "-/._~!$&'()*+,;=:@";
  if (!path.starts_with('/')) field.fail("must be an absolute path and start with '/' for type Exact or PathPrefix");
  for (std::string_view bad : {"//", "/./", "/../", "%2f", "%2F", "#"}) {
    if (path.find(bad) != std::string_view::npos) field.fail("must not contain '" + std::string(bad) + "'");
  }
  for (std::string_view bad : {"/..", "/."}) {
    if (path.ends_with(bad)) field.fail("must not end with '" + std::string(bad) + "'");
  }
  auto is_hex = [](char c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); };
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%' && i + 2 < path.size() && is_hex(path[i + 1]) && is_hex(path[i + 2])) {
      i += 2;
    } else if (!is_alnum(c) && kPathPunctuation.find(c) == std::string_view::npos) {
      field.fail(quote_value(path) + " has a character a path may not carry (only RFC 3986 path characters and %XX)");
    }
  }
}

int32_t optional_port(const Field& parent, const char* key) {
  auto field = parent.get(key);
  return field ? field->port() : 0;
}

// metav1.LabelSelector. Operators are kept as written: the CRD schema does
// not check them, and LabelSelector::matches selects nothing for one it does not know.
LabelSelector decode_label_selector(const Field& field) {
  LabelSelector selector;
  if (auto labels = field.get("matchLabels")) selector.match_labels = labels->string_map();
  for (const Field& item : items_of(field, "matchExpressions")) {
    LabelSelectorRequirement requirement;
    requirement.key = required_string(item, "key", kNonEmpty);
    requirement.op = required_string(item, "operator", kNonEmpty);
    if (auto values = item.get("values")) requirement.values = values->strings();
    selector.match_expressions.push_back(std::move(requirement));
  }
  return selector;
}

// SecretObjectReference: group "" and kind Secret by default.
ObjectReference decode_secret_ref(const Field& field) {
  ObjectReference ref;
  ref.group = optional_checked(field, "group", kGroupName);
  ref.kind = optional_checked(field, "kind", kKindName, "Secret");
  ref.name = required_string(field, "name", kObjectName);
  ref.namespace_name = optional_checked(field, "namespace", kNamespaceName);
  return ref;
}

// BackendObjectReference: group "" and kind Service by default; a Service needs a port.
ObjectReference decode_backend_object_ref(const Field& field) {
  ObjectReference ref;
  ref.group = optional_checked(field, "group", kGroupName);
  ref.kind = optional_checked(field, "kind", kKindName, "Service");
  ref.name = required_string(field, "name", kObjectName);
  ref.namespace_name = optional_checked(field, "namespace", kNamespaceName);
  ref.port = optional_port(field, "port");
  if (ref.port == 0 && ref.group.empty() && ref.kind == "Service") field.fail("port is required for a Service");
  return ref;
}

bool forbids_tls(std::string_view protocol) { return protocol == "HTTP" || protocol == "TCP" || protocol == "UDP"; }

GatewayListener decode_listener(const Field& field) {
  GatewayListener listener;
  listener.name = required_string(field, "name", kSectionName);
  listener.hostname = optional_checked(field, "hostname", kHostname);
  auto port = field.get("port");
  if (!port) field.fail("port is required");
  listener.port = port->port();
  listener.protocol = required_string(field, "protocol", kProtocolName);
  if ((listener.protocol == "TCP" || listener.protocol == "UDP") && !listener.hostname.empty()) {
    field.get("hostname")->fail("must not be set for protocol " + listener.protocol);
  }
  if (auto tls = field.get("tls")) {
    if (forbids_tls(listener.protocol)) tls->fail("must not be set for protocol " + listener.protocol);
    static constexpr EnumValue<std::string_view> kModes[] = {{"Terminate", "Terminate"},
                                                             {"Passthrough", "Passthrough"}};
    listener.tls_mode = optional_enum(*tls, "mode", kModes, std::string_view("Terminate"));
    if (listener.protocol == "HTTPS" && listener.tls_mode != "Terminate") {
      tls->get("mode")->fail("must be Terminate for protocol HTTPS");
    }
    for (const Field& ref : list_of(*tls, "certificateRefs", kMaxCertificateRefs)) {
      listener.certificate_refs.push_back(decode_secret_ref(ref));
    }
    // Implementation-specific options: none of ours yet; checked for shape only.
    size_t options = 0;
    if (auto map = tls->get("options")) {
      options = map->string_map().size();
      if (options > kMaxTlsOptions) map->fail("must have at most " + std::to_string(kMaxTlsOptions) + " entries");
    }
    if (listener.tls_mode == "Terminate" && listener.certificate_refs.empty() && options == 0) {
      tls->fail("certificateRefs or options must be specified when mode is Terminate");
    }
  } else if (listener.protocol == "TLS") {
    field.fail("tls is required for protocol TLS");
  }
  if (auto allowed = field.get("allowedRoutes")) {
    if (auto namespaces = allowed->get("namespaces")) {
      static constexpr EnumValue<RoutesFrom> kFrom[] = {
          {"All", RoutesFrom::kAll}, {"Selector", RoutesFrom::kSelector}, {"Same", RoutesFrom::kSame}};
      listener.routes_from = optional_enum(*namespaces, "from", kFrom, RoutesFrom::kSame);
      auto selector = namespaces->get("selector");
      if (selector) listener.routes_selector = decode_label_selector(*selector);
      // Without one, the empty selector would admit every namespace: the spec requires it.
      if (listener.routes_from == RoutesFrom::kSelector && !selector) {
        namespaces->fail("selector is required when from is Selector");
      }
    }
    for (const Field& kind : list_of(*allowed, "kinds", kMaxRouteKinds)) {
      listener.route_kinds.push_back(
          {optional_checked(kind, "group", kGroupName, kGatewayGroup), required_string(kind, "kind", kKindName)});
    }
  }
  return listener;
}

Gateway decode_gateway(const Field& root) {
  Gateway gateway;
  gateway.metadata = decode_meta(root, ObjectKind::kGateway);
  Field spec = spec_of(root);
  gateway.gateway_class_name = required_string(spec, "gatewayClassName", kObjectName);
  std::vector<Field> fields = required_list(spec, "listeners", kMaxListeners);
  for (const Field& field : fields) gateway.listeners.push_back(decode_listener(field));
  for (size_t i = 0; i < fields.size(); ++i) {
    const GatewayListener& listener = gateway.listeners[i];
    for (size_t j = 0; j < i; ++j) {
      const GatewayListener& other = gateway.listeners[j];
      std::string earlier = "listeners[" + std::to_string(j) + "]";
      if (listener.name == other.name) fields[i].get("name")->fail("is also the name of " + earlier);
      if (listener.port == other.port && listener.protocol == other.protocol && listener.hostname == other.hostname) {
        fields[i].fail("port, protocol and hostname are the same as " + earlier + "'s");
      }
    }
  }
  return gateway;
}

GatewayClass decode_gateway_class(const Field& root) {
  GatewayClass gateway_class;
  gateway_class.metadata = decode_meta(root, ObjectKind::kGatewayClass);
  gateway_class.controller_name = required_string(spec_of(root), "controllerName", kControllerName);
  return gateway_class;
}

ParentReference decode_parent_ref(const Field& field) {
  ParentReference ref;
  ref.group = optional_checked(field, "group", kGroupName, kGatewayGroup);
  ref.kind = optional_checked(field, "kind", kKindName, "Gateway");
  ref.namespace_name = optional_checked(field, "namespace", kNamespaceName);
  ref.name = required_string(field, "name", kObjectName);
  ref.section_name = optional_checked(field, "sectionName", kSectionName);
  ref.port = optional_port(field, "port");
  return ref;
}

// The CRD's rule: references to one parent each name a sectionName or port, uniquely.
void check_parent_refs(const std::vector<Field>& fields, const std::vector<ParentReference>& refs) {
  for (size_t i = 0; i < refs.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const ParentReference& a = refs[i];
      const ParentReference& b = refs[j];
      if (a.group != b.group || a.kind != b.kind || a.namespace_name != b.namespace_name || a.name != b.name) continue;
      std::string earlier = "parentRefs[" + std::to_string(j) + "]";
      if (a.section_name.empty() != b.section_name.empty() || (a.port == 0) != (b.port == 0)) {
        fields[i].fail("names the parent of " + earlier + ": both must give a sectionName or port");
      }
      if (a.section_name == b.section_name && a.port == b.port) {
        fields[i].fail("names the parent of " + earlier + " with the same sectionName and port");
      }
    }
  }
}

ValueMatch decode_value_match(const Field& field, const Syntax& value_syntax) {
  static constexpr EnumValue<StringMatchType> kTypes[] = {{"Exact", StringMatchType::kExact},
                                                          {"RegularExpression", StringMatchType::kRegularExpression}};
  ValueMatch match;
  match.type = optional_enum(field, "type", kTypes, StringMatchType::kExact);
  match.name = required_string(field, "name", kHeaderName);
  match.value = required_string(field, "value", value_syntax);
  return match;
}

std::vector<ValueMatch> decode_value_matches(const Field& parent, const char* key, const Syntax& value_syntax) {
  std::vector<ValueMatch> out;
  for (const Field& item : list_of(parent, key, kMaxMatchHeaders)) {
    out.push_back(decode_value_match(item, value_syntax));
  }
  return out;
}

GrpcRouteMatch decode_grpc_match(const Field& field) {
  field.require_object();
  GrpcRouteMatch match;
  if (auto method = field.get("method")) {
    static constexpr EnumValue<StringMatchType> kTypes[] = {
        {"Exact", StringMatchType::kExact}, {"RegularExpression", StringMatchType::kRegularExpression}};
    match.method_type = optional_enum(*method, "type", kTypes, StringMatchType::kExact);
    match.service = optional_checked(*method, "service", kGrpcName);
    match.method = optional_checked(*method, "method", kGrpcName);
    if (match.service.empty() && match.method.empty()) {
      method->fail("one or both of service or method must be specified");
    }
    if (match.method_type == StringMatchType::kExact) {
      if (auto service = method->get("service"); service && !is_grpc_service(match.service)) {
        service->fail(quote_value(match.service) + " is not a valid gRPC service name (matching " +
                      R"(^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$))");
      }
      if (auto name = method->get("method"); name && !is_grpc_identifier(match.method)) {
        name->fail(quote_value(match.method) + " is not a valid gRPC method name (matching ^[A-Za-z_][A-Za-z_0-9]*$)");
      }
    }
  }
  match.headers = decode_value_matches(field, "headers", kMatchValue);
  return match;
}

HttpRouteMatch decode_http_match(const Field& field) {
  field.require_object();
  HttpRouteMatch match;  // no path: PathPrefix "/", the CRD's default
  if (auto path = field.get("path")) {
    static constexpr EnumValue<StringMatchType> kTypes[] = {{"Exact", StringMatchType::kExact},
                                                            {"PathPrefix", StringMatchType::kPrefix},
                                                            {"RegularExpression", StringMatchType::kRegularExpression}};
    match.path_type = optional_enum(*path, "type", kTypes, StringMatchType::kPrefix);
    match.path = optional_checked(*path, "value", kPathValue, "/");
    if (match.path_type != StringMatchType::kRegularExpression) {
      auto value = path->get("value");
      check_http_path(value ? *value : *path, match.path);
    }
  }
  match.headers = decode_value_matches(field, "headers", kMatchValue);
  match.query_params = decode_value_matches(field, "queryParams", kQueryValue);
  if (auto method = field.get("method")) {
    static constexpr EnumValue<std::string_view> kMethods[] = {
        {"GET", "GET"},         {"HEAD", "HEAD"},       {"POST", "POST"},   {"PUT", "PUT"},    {"DELETE", "DELETE"},
        {"CONNECT", "CONNECT"}, {"OPTIONS", "OPTIONS"}, {"TRACE", "TRACE"}, {"PATCH", "PATCH"}};
    match.method = enum_value(*method, kMethods);
  }
  return match;
}

HeaderChanges decode_header_changes(const Field& field) {
  HeaderChanges changes;
  auto headers = [&](const char* key) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const Field& item : list_of(field, key, kMaxHeaderChanges)) {
      out.emplace_back(required_string(item, "name", kHeaderName), required_string(item, "value", kHeaderValue));
    }
    return out;
  };
  changes.set = headers("set");
  changes.add = headers("add");
  for (const Field& item : list_of(field, "remove", kMaxHeaderChanges)) {
    changes.remove.push_back(checked_string(item, kHeaderName));
  }
  return changes;
}

// HTTPPathModifier: the value sits in the member its type names.
PathModifier decode_path_modifier(const Field& field) {
  static constexpr EnumValue<PathModifier::Type> kTypes[] = {
      {"ReplaceFullPath", PathModifier::Type::kReplaceFullPath},
      {"ReplacePrefixMatch", PathModifier::Type::kReplacePrefixMatch}};
  auto type = field.get("type");
  if (!type) field.fail("type is required");
  PathModifier modifier;
  modifier.type = enum_value(*type, kTypes);
  bool full = modifier.type == PathModifier::Type::kReplaceFullPath;
  const char* wanted = full ? "replaceFullPath" : "replacePrefixMatch";
  const char* other = full ? "replacePrefixMatch" : "replaceFullPath";
  if (auto stray = field.get(other)) stray->fail("must not be set when type is " + type->string());
  auto value = field.get(wanted);
  if (!value) field.fail(std::string(wanted) + " is required when type is " + type->string());
  modifier.value = checked_string(*value, kPathValue);
  return modifier;
}

// The union members of a route filter, by the `type` that selects each.
struct FilterMember {
  std::string_view type;
  const char* key;
  bool http_only;
};
constexpr FilterMember kFilterMembers[] = {
    {"RequestHeaderModifier", "requestHeaderModifier", false},
    {"ResponseHeaderModifier", "responseHeaderModifier", false},
    {"RequestMirror", "requestMirror", false},
    {"ExtensionRef", "extensionRef", false},
    {"RequestRedirect", "requestRedirect", true},
    {"URLRewrite", "urlRewrite", true},
    {"CORS", "cors", true},
    {"ExternalAuth", "externalAuth", true},
};

// Filters we do not implement keep only their type, for the translator to report.
RouteFilter decode_filter(const Field& field, bool http) {
  RouteFilter filter;
  auto type = field.get("type");
  if (!type) field.fail("type is required");
  filter.type = checked_string(*type, kFilterType);
  for (const FilterMember& member : kFilterMembers) {
    if (member.http_only && !http) continue;  // not in GRPCRoute's schema: the API server drops it
    auto value = field.get(member.key);
    if (value && member.type != filter.type) value->fail("must not be set for type " + filter.type);
    if (!value && member.type == filter.type) {
      field.fail(std::string(member.key) + " is required for type " + filter.type);
    }
  }
  if (filter.type == "RequestHeaderModifier") {
    filter.headers = decode_header_changes(*field.get("requestHeaderModifier"));
  } else if (filter.type == "ResponseHeaderModifier") {
    filter.headers = decode_header_changes(*field.get("responseHeaderModifier"));
  } else if (filter.type == "RequestMirror") {
    Field mirror = *field.get("requestMirror");
    auto backend = mirror.get("backendRef");
    if (!backend) mirror.fail("backendRef is required");
    filter.mirror = decode_backend_object_ref(*backend);
    // percent and fraction have no field yet: checked, then mirrored in full.
    auto percent = mirror.get("percent");
    if (percent) percent->integer(0, 100);
    if (auto fraction = mirror.get("fraction")) {
      if (percent) fraction->fail("only one of percent or fraction may be specified");
      auto numerator = fraction->get("numerator");
      if (!numerator) fraction->fail("numerator is required");
      int64_t top = numerator->integer(0, std::numeric_limits<int32_t>::max());
      auto denominator = fraction->get("denominator");
      int64_t bottom = denominator ? denominator->integer(1, std::numeric_limits<int32_t>::max()) : 100;
      if (top > bottom) numerator->fail("must be less than or equal to the denominator");
    }
  } else if (http && filter.type == "RequestRedirect") {
    Field redirect = *field.get("requestRedirect");
    static constexpr EnumValue<std::string_view> kSchemes[] = {{"http", "http"}, {"https", "https"}};
    filter.scheme = optional_enum(redirect, "scheme", kSchemes, std::string_view());
    filter.hostname = optional_checked(redirect, "hostname", kPreciseHostname);
    if (auto path = redirect.get("path")) filter.path = decode_path_modifier(*path);
    filter.port = optional_port(redirect, "port");
    if (auto code = redirect.get("statusCode")) {
      constexpr int64_t kRedirectCodes[] = {301, 302, 303, 307, 308};
      int64_t value = code->integer(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
      if (std::find(std::begin(kRedirectCodes), std::end(kRedirectCodes), value) == std::end(kRedirectCodes)) {
        code->fail("must be 301, 302, 303, 307 or 308");
      }
      filter.status_code = static_cast<int32_t>(value);
    }
  } else if (http && filter.type == "URLRewrite") {
    Field rewrite = *field.get("urlRewrite");
    filter.hostname = optional_checked(rewrite, "hostname", kPreciseHostname);
    if (auto path = rewrite.get("path")) filter.path = decode_path_modifier(*path);
  }
  return filter;
}

RouteBackend decode_route_backend(const Field& field) {
  RouteBackend backend;
  backend.ref = decode_backend_object_ref(field);
  if (auto weight = field.get("weight")) backend.weight = static_cast<int32_t>(weight->integer(0, kMaxBackendWeight));
  backend.has_filters = !list_of(field, "filters", kMaxRuleFilters).empty();
  return backend;
}

bool is_path_modifier_filter(std::string_view type) { return type == "RequestRedirect" || type == "URLRewrite"; }

// The CRD's rules across a rule's filters, matches and backends.
template <typename Match>
void check_rule(const Field& field, const RouteRule<Match>& rule, bool http) {
  std::vector<std::string_view> once = {"RequestHeaderModifier", "ResponseHeaderModifier"};
  if (http) once.insert(once.end(), {"RequestRedirect", "URLRewrite", "CORS"});
  for (std::string_view type : once) {
    auto count =
        std::count_if(rule.filters.begin(), rule.filters.end(), [&](const RouteFilter& f) { return f.type == type; });
    if (count > 1) field.get("filters")->fail(std::string(type) + " filter cannot be repeated");
  }
  if (!http) return;
  auto has = [&](std::string_view type) {
    return std::any_of(rule.filters.begin(), rule.filters.end(), [&](const RouteFilter& f) { return f.type == type; });
  };
  if (has("RequestRedirect") && has("URLRewrite")) {
    field.get("filters")->fail("may hold a RequestRedirect or a URLRewrite filter, not both");
  }
  if (has("RequestRedirect") && !rule.backends.empty()) {
    field.fail("a RequestRedirect filter must not be used together with backendRefs");
  }
  bool replaces_prefix = std::any_of(rule.filters.begin(), rule.filters.end(), [](const RouteFilter& f) {
    return is_path_modifier_filter(f.type) && f.path && f.path->type == PathModifier::Type::kReplacePrefixMatch;
  });
  // Absent matches default to one PathPrefix match.
  if constexpr (std::is_same_v<Match, HttpRouteMatch>) {
    bool one_prefix = !field.get("matches") ||
                      (rule.matches.size() == 1 && rule.matches[0].path_type == StringMatchType::kPrefix);
    if (replaces_prefix && !one_prefix) {
      field.fail("a ReplacePrefixMatch path modifier needs exactly one match, of type PathPrefix");
    }
  }
}

template <typename Match, typename DecodeMatch>
RouteRule<Match> decode_rule(const Field& field, bool http, DecodeMatch decode_match, size_t& route_matches) {
  field.require_object();
  RouteRule<Match> rule;
  rule.name = optional_checked(field, "name", kSectionName);
  std::vector<Field> matches = list_of(field, "matches", kMaxRuleMatches);
  route_matches += matches.size();
  for (const Field& match : matches) rule.matches.push_back(decode_match(match));
  for (const Field& filter : list_of(field, "filters", kMaxRuleFilters)) {
    rule.filters.push_back(decode_filter(filter, http));
  }
  for (const Field& backend : list_of(field, "backendRefs", kMaxRuleBackends)) {
    rule.backends.push_back(decode_route_backend(backend));
  }
  check_rule(field, rule, http);
  return rule;
}

template <typename Match, typename DecodeMatch>
GatewayRoute<Match> decode_route(const Field& root, ObjectKind kind, DecodeMatch decode_match) {
  bool http = kind == ObjectKind::kHTTPRoute;
  GatewayRoute<Match> route;
  route.metadata = decode_meta(root, kind);
  Field spec = spec_of(root);
  std::vector<Field> parents = list_of(spec, "parentRefs", kMaxParentRefs);
  for (const Field& parent : parents) route.parent_refs.push_back(decode_parent_ref(parent));
  check_parent_refs(parents, route.parent_refs);
  for (const Field& hostname : list_of(spec, "hostnames", kMaxRouteHostnames)) {
    route.hostnames.push_back(checked_string(hostname, kHostname));
  }
  auto rules = spec.get("rules");
  size_t route_matches = 0;
  for (const Field& rule : list_of(spec, "rules", kMaxRouteRules)) {
    route.rules.push_back(decode_rule<Match>(rule, http, decode_match, route_matches));
  }
  if (route_matches > kMaxRouteMatches) {
    rules->fail("must hold at most " + std::to_string(kMaxRouteMatches) + " matches across all rules");
  }
  if constexpr (std::is_same_v<Match, HttpRouteMatch>) {
    // The HTTPRoute CRD's default: one rule matching every path.
    if (!rules) route.rules.push_back(RouteRule<Match>{{HttpRouteMatch{}}, {}, {}, ""});
    if (rules && route.rules.empty()) rules->fail("must have at least 1 item");
  }
  return route;
}

ReferenceGrant decode_reference_grant(const Field& root) {
  ReferenceGrant grant;
  grant.metadata = decode_meta(root, ObjectKind::kReferenceGrant);
  Field spec = spec_of(root);
  for (const Field& from : required_list(spec, "from", kMaxGrantEntries)) {
    grant.from.push_back({required_string(from, "group", kGroupName), required_string(from, "kind", kKindName),
                          required_string(from, "namespace", kNamespaceName)});
  }
  for (const Field& to : required_list(spec, "to", kMaxGrantEntries)) {
    grant.to.push_back({required_string(to, "group", kGroupName), required_string(to, "kind", kKindName),
                        optional_checked(to, "name", kObjectName)});
  }
  return grant;
}

// Besides api_version(kind), the older versions the Gateway API CRDs still serve
// with the same schema: v1beta1 (Gateway, GatewayClass, HTTPRoute), v1alpha2
// (GRPCRoute), and v1 for ReferenceGrant, which newer releases serve.
bool accepts_version(ObjectKind kind, std::string_view version) {
  if (version == api_version(kind)) return true;
  std::string prefix = std::string(kGatewayGroup) + "/";
  if (!version.starts_with(prefix)) return false;
  std::string_view suffix = version.substr(prefix.size());
  switch (kind) {
    case ObjectKind::kGatewayClass:
    case ObjectKind::kGateway:
    case ObjectKind::kHTTPRoute:
      return suffix == "v1beta1";
    case ObjectKind::kGRPCRoute:
      return suffix == "v1alpha2";
    case ObjectKind::kReferenceGrant:
      return suffix == "v1";
    default:
      return false;
  }
}

// Whatever name the object gives, so a rejection can point at it even when
// its metadata is broken.
ObjectKey best_effort_key(ObjectKind kind, const json& root) {
  ObjectKey key;
  if (!root.is_object()) return key;
  auto metadata = root.find("metadata");
  if (metadata == root.end() || !metadata->is_object()) return key;
  auto name = metadata->find("name");
  if (name != metadata->end() && name->is_string()) key.name = name->get<std::string>();
  if (is_namespaced(kind)) {
    key.namespace_name = "default";
    auto ns = metadata->find("namespace");
    if (ns != metadata->end() && ns->is_string()) key.namespace_name = ns->get<std::string>();
  }
  return key;
}

Object decode_checked(ObjectKind kind, const json& root) {
  Field field(root, "");
  field.require_object();
  if (auto version = field.get("apiVersion")) {
    std::string text = version->string();
    if (!accepts_version(kind, text)) {
      version->fail("'" + text + "' is not supported for " + std::string(kind_name(kind)) +
                    "; use " + std::string(api_version(kind)));
    }
  }
  if (auto kind_field = field.get("kind"); kind_field && kind_field->string() != kind_name(kind)) {
    kind_field->fail("expected " + std::string(kind_name(kind)));
  }
  switch (kind) {
    case ObjectKind::kIngress:
      return decode_ingress(field);
    case ObjectKind::kIngressClass:
      return decode_ingress_class(field);
    case ObjectKind::kService:
      return decode_service(field);
    case ObjectKind::kEndpointSlice:
      return decode_endpoint_slice(field);
    case ObjectKind::kSecret:
      return decode_secret(field);
    case ObjectKind::kNamespace:
      return decode_namespace(field);
    case ObjectKind::kGatewayClass:
      return decode_gateway_class(field);
    case ObjectKind::kGateway:
      return decode_gateway(field);
    case ObjectKind::kGRPCRoute:
      return decode_route<GrpcRouteMatch>(field, kind, decode_grpc_match);
    case ObjectKind::kHTTPRoute:
      return decode_route<HttpRouteMatch>(field, kind, decode_http_match);
    case ObjectKind::kReferenceGrant:
      return decode_reference_grant(field);
  }
  field.fail("unknown kind");
}

}  // namespace

Object decode_object_as(ObjectKind kind, const json& json_object) {
  try {
    return decode_checked(kind, json_object);
  } catch (const std::exception& error) {
    // DecodeError, and anything nlohmann throws that the checks above missed.
    return InvalidObject{kind, best_effort_key(kind, json_object), error.what()};
  }
}

std::optional<Object> decode_object(const json& json_object) {
  if (!json_object.is_object()) return std::nullopt;
  auto kind_field = json_object.find("kind");
  if (kind_field == json_object.end() || !kind_field->is_string()) return std::nullopt;
  auto kind = kind_from_name(kind_field->get_ref<const std::string&>());
  if (!kind) {
    spdlog::debug("ignoring an object of kind {}", kind_field->get_ref<const std::string&>());
    return std::nullopt;
  }
  auto version = json_object.find("apiVersion");
  if (version == json_object.end()) {
    return InvalidObject{*kind, best_effort_key(*kind, json_object), "apiVersion is required"};
  }
  return decode_object_as(*kind, json_object);
}

}  // namespace grpc_ingress
