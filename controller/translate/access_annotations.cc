#include "controller/translate/access_annotations.h"

#include "common/flags.h"
#include "common/ip_address.h"
#include "common/text.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace grpc_ingress {
namespace {

// A source-range list: empty or unparsable refuses (an allow list that
// cannot be read must not become "everyone").
std::optional<std::vector<IpRange>> read_ranges(AnnotationReader& reader, const std::string& value) {
  std::string bad;
  auto ranges = parse_ip_ranges(value, &bad);
  if (!ranges) {
    reader.refuse(value, "is not a comma-separated list of IP addresses or CIDR ranges ('" + bad + "' is neither)");
    return std::nullopt;
  }
  if (ranges->empty()) {
    reader.refuse(value, "names no address or CIDR range");
    return std::nullopt;
  }
  return ranges;
}

void read_source_ranges(AnnotationReader& reader, AccessPolicy& access) {
  if (const std::string* value = reader.find_any({"allowlist-source-range", "whitelist-source-range"})) {
    if (auto ranges = read_ranges(reader, *value)) access.allow = std::move(*ranges);
  }
  if (const std::string* value = reader.find_any({"denylist-source-range"})) {
    if (auto ranges = read_ranges(reader, *value)) access.deny = std::move(*ranges);
  }
}

bool read_flag(const std::string& value, bool& out) {
  std::string flag = lower_case(trim_text(value));
  if (flag != "true" && flag != "false") return false;
  out = flag == "true";
  return true;
}

void read_client_certificates(AnnotationReader& reader, IngressOptions& out) {
  if (const std::string* value = reader.find_any({"auth-tls-secret"})) {
    out.client_ca_secret = parse_secret_reference(reader.meta(), *value);
    if (!out.client_ca_secret) reader.refuse(*value, "is not a Secret name (name or namespace/name)");
  }
  std::optional<ClientCertMode> mode;
  if (const std::string* value = reader.find_any({"auth-tls-verify-client"})) {
    std::string text = lower_case(trim_text(*value));
    if (text == "on") {
      mode = ClientCertMode::kOn;
    } else if (text == "off") {
      mode = ClientCertMode::kOff;
    } else if (text == "optional") {
      mode = ClientCertMode::kOptional;
    } else if (text == "optional_no_ca") {
      mode = ClientCertMode::kOptionalNoCa;
    } else {
      reader.refuse(*value, "is not a client certificate mode (on, off, optional, optional_no_ca)");
      return;
    }
    if (*mode != ClientCertMode::kOff && !out.client_ca_secret) {
      reader.refuse(*value, "asks for client certificates but no auth-tls-secret names the CA that verifies them");
      return;
    }
  }
  if (out.client_ca_secret) out.access.client_cert = mode.value_or(ClientCertMode::kOn);
  if (const std::string* value = reader.find_any({"auth-tls-verify-depth"})) {
    reader.uint_or_refuse(*value, out.client_verify_depth, 1, 100);
  }
  if (const std::string* value = reader.find_any({"auth-tls-pass-certificate-to-upstream"})) {
    bool pass = false;
    if (!read_flag(*value, pass)) {
      reader.problem(*value, "is not true or false", "the client certificate is not passed to the pod");
    } else if (pass && out.access.client_cert == ClientCertMode::kOff) {
      reader.problem(*value, "has no client certificate to pass (auth-tls-secret / auth-tls-verify-client)",
                     "nothing is passed");
    } else {
      out.access.pass_client_cert = pass;
    }
  }
}

void read_rate_limits(AnnotationReader& reader, const AnnotationOptions& options, AccessPolicy& access) {
  RateLimit limit;
  limit.http_status = options.limit_status;
  bool ok = true;
  if (const std::string* value = reader.find_any({"limit-rps"})) ok &= reader.uint_or_refuse(*value, limit.per_second, 0, 1'000'000);
  if (const std::string* value = reader.find_any({"limit-rpm"})) ok &= reader.uint_or_refuse(*value, limit.per_minute, 0, 60'000'000);
  if (const std::string* value = reader.find_any({"limit-connections"})) ok &= reader.uint_or_refuse(*value, limit.concurrent, 0, 1'000'000);
  if (const std::string* value = reader.find_any({"limit-burst-multiplier"})) ok &= reader.uint_or_refuse(*value, limit.burst_multiplier, 1, 1000);
  if (const std::string* value = reader.find_any({"limit-allowlist", "limit-whitelist"})) {
    if (auto ranges = read_ranges(reader, *value)) {
      limit.exempt = std::move(*ranges);
    } else {
      ok = false;
    }
  }
  if (ok && (limit.per_second || limit.per_minute || limit.concurrent)) access.rate_limit = std::move(limit);
}

bool is_host_name(std::string_view host) {
  return !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

// "http://host[:port][/path][?query]" into `auth`; the reason it is not one otherwise.
std::optional<std::string> parse_auth_url(const std::string& text, ExternalAuth& auth) {
  if (text.find('$') != std::string::npos) {
    return "uses nginx variables ($...), which grpc-ingress does not expand";
  }
  std::string lower = lower_case(text);
  if (lower.starts_with("https://")) {
    return "is an https:// URL; grpc-ingress calls auth services over http:// only (an in-cluster Service URL such as "
           "http://auth.NAMESPACE.svc.cluster.local/verify)";
  }
  if (!lower.starts_with("http://")) return "is not an http:// URL";
  std::string_view rest = std::string_view(text).substr(7);
  auto path_at = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_at);
  std::string path = path_at == std::string_view::npos ? "/" : std::string(rest.substr(path_at));
  if (path.front() == '?') path.insert(path.begin(), '/');
  if (authority.find('@') != std::string_view::npos) return "carries user information, which is not supported";
  if (path.find('#') != std::string::npos ||
      std::any_of(path.begin(), path.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
    return "has a path with spaces, control characters or a fragment";
  }
  std::string_view host = authority;
  std::string_view port_text;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return "has an unterminated [IPv6] host";
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "has text after the [IPv6] host";
      port_text = after.substr(1);
    }
    if (!IpAddress::parse(host, IpFamily::kV6)) return "has a bracketed host that is not an IPv6 address";
  } else {
    auto colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return "has an empty port";
    }
    if (!is_host_name(host)) return "has no valid host name";
  }
  uint16_t port = 80;
  if (!port_text.empty()) {
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0) {
      return "has a port that is not a number from 1 to 65535";
    }
  }
  auth.url = text;
  auth.host = lower_case(host);
  auth.port = port;
  auth.path = path;
  return std::nullopt;
}

// nginx's "$http_authorization$remote_addr": request headers (lower-case,
// '_' as '-') and "$remote_addr". Literal text between variables keys nothing.
std::optional<std::vector<std::string>> parse_cache_key(AnnotationReader& reader, const std::string& value) {
  std::vector<std::string> out;
  std::string_view text = value;
  while (true) {
    auto dollar = text.find('$');
    if (dollar == std::string_view::npos) break;
    text.remove_prefix(dollar + 1);
    bool braced = text.starts_with('{');
    if (braced) text.remove_prefix(1);
    size_t length = 0;
    while (length < text.size() && (std::isalnum(static_cast<unsigned char>(text[length])) || text[length] == '_')) ++length;
    std::string name = lower_case(text.substr(0, length));
    text.remove_prefix(length);
    if (braced) {
      if (!text.starts_with('}')) {
        reader.refuse(value, "has an unterminated ${...} variable");
        return std::nullopt;
      }
      text.remove_prefix(1);
    }
    std::string key;
    if (name == "remote_addr") {
      key = "$remote_addr";
    } else if (name.starts_with("http_") && name.size() > 5) {
      key = name.substr(5);
      std::replace(key.begin(), key.end(), '_', '-');
    } else {
      reader.refuse(value, "uses $" + name +
                               ", which grpc-ingress cannot key the cache by (only $http_<header> and $remote_addr); "
                               "a coarser key would share one caller's answer with others");
      return std::nullopt;
    }
    if (std::find(out.begin(), out.end(), key) == out.end()) out.push_back(std::move(key));
  }
  if (out.empty()) {
    reader.refuse(value, "names no $http_<header> or $remote_addr; one cached answer would serve every caller");
    return std::nullopt;
  }
  return out;
}

// "200 202 401 5m" (codes then a duration; several such entries separated by
// ','): the shortest duration given, as one cache time serves every answer.
std::optional<std::chrono::milliseconds> parse_cache_duration(const std::string& value) {
  std::optional<std::chrono::milliseconds> shortest;
  std::string_view list = value;
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string entry = trim_text(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (entry.empty()) continue;
    std::vector<std::string> words;
    std::string_view rest = entry;
    while (!rest.empty()) {
      auto space = rest.find_first_of(" \t");
      std::string word(rest.substr(0, space));
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
      if (!word.empty()) words.push_back(std::move(word));
    }
    for (size_t i = 0; i + 1 < words.size(); ++i) {
      const std::string& code = words[i];
      bool number = code.size() == 3 && std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!number && code != "any") return std::nullopt;
    }
    std::chrono::milliseconds duration{};
    if (words.empty() || !parse_duration(words.back(), duration)) return std::nullopt;
    if (!shortest || duration < *shortest) shortest = duration;
  }
  return shortest;
}

void read_external_auth(AnnotationReader& reader, AccessPolicy& access) {
  const std::string* url = reader.find_any({"auth-url"});
  if (!url) return;
  ExternalAuth auth;
  if (auto problem = parse_auth_url(trim_text(*url), auth)) {
    reader.refuse(*url, *problem);
    return;
  }
  bool ok = true;
  if (const std::string* value = reader.find_any({"auth-method"})) {
    std::string method = trim_text(*value);
    std::transform(method.begin(), method.end(), method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (method == "GET" || method == "POST") {
      auth.method = method;
    } else {
      reader.refuse(*value, "is not an auth request method grpc-ingress sends (GET or POST)");
      ok = false;
    }
  }
  if (const std::string* value = reader.find_any({"auth-response-headers"})) {
    std::string_view list = *value;
    while (!list.empty()) {
      auto comma = list.find(',');
      std::string name = lower_case(trim_text(list.substr(0, comma)));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      if (name.empty()) continue;
      if (!is_header_name(name)) {
        reader.refuse(*value, "is not a comma-separated list of header names ('" + name + "' is not one)");
        ok = false;
        break;
      }
      if (std::find(auth.response_headers.begin(), auth.response_headers.end(), name) == auth.response_headers.end()) {
        auth.response_headers.push_back(std::move(name));
      }
    }
  }
  if (const std::string* value = reader.find_any({"auth-signin"})) {
    std::string signin = trim_text(*value);
    std::string lower = lower_case(signin);
    if (!(lower.starts_with("http://") || lower.starts_with("https://") || signin.starts_with('/')) ||
        std::any_of(signin.begin(), signin.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
      reader.problem(*value, "is not an http(s):// URL or a path", "refused HTTP requests get 401, not a sign-in redirect");
    } else {
      if (signin.find('$') != std::string::npos) {
        reader.problem(*value, "uses nginx variables ($...), which grpc-ingress does not expand",
                       "the sign-in redirect goes to the URL as written");
      }
      auth.signin = std::move(signin);
    }
  }
  if (const std::string* value = reader.find_any({"auth-cache-key"})) {
    if (auto key = parse_cache_key(reader, *value)) {
      auth.cache_key = std::move(*key);
    } else {
      ok = false;
    }
  }
  if (const std::string* value = reader.find_any({"auth-cache-duration"})) {
    if (auto duration = parse_cache_duration(*value)) {
      if (!auth.cache_key.empty()) auth.cache_duration = *duration;
    } else {
      reader.refuse(*value, "is not a cache duration as ingress-nginx writes it (status codes, then a time: \"200 202 401 5m\")");
      ok = false;
    }
  }
  if (const std::string* value = reader.find("auth-timeout")) {
    std::chrono::milliseconds timeout{};
    if (!parse_duration(trim_text(*value), timeout) || timeout < std::chrono::milliseconds(1) ||
        timeout > std::chrono::minutes(1)) {
      reader.problem(*value, "is not a duration from 1ms to 1m", "using " + std::to_string(auth.timeout.count()) + "ms");
    } else {
      auth.timeout = timeout;
    }
  }
  if (ok) access.external_auth = std::move(auth);
}

void read_ssl_redirect(AnnotationReader& reader, IngressOptions& out) {
  // Ours wins; of ingress-nginx's, force-ssl-redirect "true" wins over ssl-redirect.
  const std::string* value = reader.find("ssl-redirect");
  if (!value) {
    const std::string* force = reader.find("", "force-ssl-redirect");
    if (force && lower_case(trim_text(*force)) == "true") {
      out.ssl_redirect = true;
      return;
    }
    value = reader.find("", "ssl-redirect");
    if (!value && force) value = reader.find("", "force-ssl-redirect");
  }
  if (!value) return;
  bool redirect = false;
  if (read_flag(*value, redirect)) {
    out.ssl_redirect = redirect;
  } else {
    reader.problem(*value, "is not true or false", "TLS hosts redirect cleartext requests (the default)");
  }
}

}  // namespace

void read_access_annotations(AnnotationReader& reader, const AnnotationOptions& options, IngressOptions& out) {
  read_source_ranges(reader, out.access);
  read_client_certificates(reader, out);
  read_rate_limits(reader, options, out.access);
  read_external_auth(reader, out.access);
  read_ssl_redirect(reader, out);
}

}  // namespace grpc_ingress
