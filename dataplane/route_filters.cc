#include "dataplane/route_filters.h"

#include "common/text.h"

namespace grpc_ingress {

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
    std::string_view path = split_query(stream.path).first;
    std::string changed = rewrite.path.apply(path, route.path);
    changed += stream.path.substr(path.size());  // the query, '?' included
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
  std::string_view bare_path = split_query(path).first;
  location += redirect.path.apply(bare_path, route.path);
  location += path.substr(bare_path.size());  // the query, '?' included
  return location;
}

void answer_redirect(ProxyStream& stream, const Route& route) {
  std::string location = redirect_location(route, stream.authority, stream.path, stream.downstream_tls);
  stream.stop_timers();
  stream.response.answer(route.filters->redirect->status, {{"location", location}}, "");
  if (auto side = stream.downstream()) side->response_headers_ready(stream);
}

}  // namespace grpc_ingress
