#include "dataplane/route_filters.h"

namespace grpc_ingress {
namespace {

// "host" and "port" of an authority ("[v6]:port" included); port "" when none.
std::pair<std::string_view, std::string_view> split_authority(std::string_view authority) {
  size_t host_end = authority.starts_with('[') ? authority.find(']') : authority.rfind(':');
  if (authority.starts_with('[')) {
    if (host_end == std::string_view::npos) return {authority, {}};
    ++host_end;
    if (host_end >= authority.size() || authority[host_end] != ':') return {authority.substr(0, host_end), {}};
  }
  if (host_end == std::string_view::npos) return {authority, {}};
  return {authority.substr(0, host_end), authority.substr(host_end + 1)};
}

std::pair<std::string_view, std::string_view> split_path(std::string_view path) {
  auto mark = path.find('?');
  if (mark == std::string_view::npos) return {path, {}};
  return {path.substr(0, mark), path.substr(mark)};
}

}  // namespace

void edit_headers(HeaderList& headers, const HeaderEdits& edits) {
  for (const std::string& name : edits.remove) headers.remove(name);
  for (const auto& [name, value] : edits.set) {
    headers.remove(name);
    headers.push_back({name, value});
  }
  for (const auto& [name, value] : edits.add) headers.push_back({name, value});
}

void rewrite_request(ProxyStream& stream, const Route& route) {
  const Rewrite& rewrite = *route.filters->rewrite;
  if (!rewrite.hostname.empty()) stream.authority = stream.keep(rewrite.hostname);
  if (rewrite.path.type != PathChange::Type::kNone) {
    auto [path, query] = split_path(stream.path);
    std::string changed = rewrite.path.apply(path, route.path);
    changed += query;
    stream.path = stream.keep(changed);
  }
}

std::string redirect_location(const Route& route, std::string_view authority, std::string_view path, bool tls) {
  const Redirect& redirect = *route.filters->redirect;
  auto [host, port] = split_authority(authority);
  std::string scheme = redirect.scheme.empty() ? (tls ? "https" : "http") : redirect.scheme;
  std::string location = scheme + "://" + (redirect.hostname.empty() ? std::string(host) : redirect.hostname);
  // The spec: a port given is used; else a scheme given means its well-known
  // port; else the request's. A scheme's well-known port is left out.
  std::string out_port;
  if (redirect.port != 0) {
    out_port = std::to_string(redirect.port);
  } else if (redirect.scheme.empty()) {
    out_port = std::string(port);
  }
  if (!out_port.empty() && !(scheme == "http" && out_port == "80") && !(scheme == "https" && out_port == "443")) {
    location += ":" + out_port;
  }
  auto [bare_path, query] = split_path(path);
  location += redirect.path.apply(bare_path, route.path);
  location += query;
  return location;
}

void answer_redirect(ProxyStream& stream, const Route& route) {
  std::string location = redirect_location(route, stream.authority, stream.path, stream.downstream_tls);
  stream.stop_timers();
  stream.response.answer(route.filters->redirect->status, {{"location", location}}, "");
  if (auto side = stream.downstream()) side->response_headers_ready(stream);
}

}  // namespace grpc_ingress
