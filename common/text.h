#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grpc_ingress {

// Without the spaces and tabs around it (HTTP's optional whitespace).
inline std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// `text` with ASCII letters in lower case (header names, hosts, annotation
// values: never locale-dependent).
inline std::string lower_case(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// `parts` with `separator` between them (for log lines and messages).
inline std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

// The host and port of an HTTP authority ("a.example.com:8080", "[::1]:80");
// the port is "" when there is none.
inline std::pair<std::string_view, std::string_view> split_authority(std::string_view authority) {
  if (authority.starts_with('[')) {  // [v6] or [v6]:port
    auto close = authority.find(']');
    if (close == std::string_view::npos) return {authority, {}};
    std::string_view rest = authority.substr(close + 1);
    return {authority.substr(0, close + 1), rest.starts_with(':') ? rest.substr(1) : std::string_view()};
  }
  auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) return {authority, {}};
  return {authority.substr(0, colon), authority.substr(colon + 1)};
}

// A request target's path and query (without the '?'); the query is "" when there is none.
inline std::pair<std::string_view, std::string_view> split_query(std::string_view target) {
  auto mark = target.find('?');
  if (mark == std::string_view::npos) return {target, {}};
  return {target.substr(0, mark), target.substr(mark + 1)};
}

}  // namespace grpc_ingress
