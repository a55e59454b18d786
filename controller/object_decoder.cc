#include "controller/object_decoder.h"

#include "common/base64.h"
#include "controller/translate/k8s_names.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

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
  if (!is_dns_subdomain(meta.name)) {
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
    if (text != api_version(kind)) {
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
