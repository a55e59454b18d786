#include "dataplane/tls_redirect.h"

#include "common/text.h"

namespace grpc_ingress {

std::string tls_redirect_location(std::string_view authority, std::string_view path, uint16_t https_port) {
  std::string_view host = split_authority(authority).first;
  std::string url = "https://" + std::string(host);
  if (https_port != 443) url += ":" + std::to_string(https_port);
  url += path.starts_with('/') ? std::string(path) : "/" + std::string(path);
  return url;
}

void answer_tls_redirect(ProxyStream& stream, uint16_t https_port, WorkerStats& stats) {
  if (stream.grpc) {
    bump(stats.access_refused[kRefusedCleartext]);
    std::string_view host = split_authority(stream.authority).first;
    stream.fail(GrpcStatus::kPermissionDenied,
                "host '" + std::string(host) + "' requires TLS (its Ingress lists it in spec.tls): call it over TLS, port " +
                    std::to_string(https_port) + "; cleartext calls are refused unless ssl-redirect is \"false\"");
    return;
  }
  std::string location = tls_redirect_location(stream.authority, stream.path, https_port);
  stream.stop_timers();
  stream.response.answer(308, {{"location", location}, {"content-type", "text/plain; charset=utf-8"}},
                         "this host requires TLS: " + location + "\n");
  if (auto side = stream.downstream()) side->response_headers_ready(stream);
}

}  // namespace grpc_ingress
