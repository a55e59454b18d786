#include "controller/gateway_object_decoder.h"

#include "controller/translate/k8s_names.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace grpc_ingress::decode {
namespace {

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

}  // namespace

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

GRPCRoute decode_grpc_route(const Field& root) {
  return decode_route<GrpcRouteMatch>(root, ObjectKind::kGRPCRoute, decode_grpc_match);
}

HTTPRoute decode_http_route(const Field& root) {
  return decode_route<HttpRouteMatch>(root, ObjectKind::kHTTPRoute, decode_http_match);
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

}  // namespace grpc_ingress::decode
