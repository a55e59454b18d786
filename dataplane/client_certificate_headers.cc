#include "dataplane/client_certificate_headers.h"

#include "common/text.h"

#include <string_view>

namespace grpc_ingress {
namespace {

constexpr std::string_view kPrefix = "ssl-client-";
constexpr std::string_view kVerify = "ssl-client-verify";
constexpr std::string_view kSubject = "ssl-client-subject-dn";
constexpr std::string_view kIssuer = "ssl-client-issuer-dn";
constexpr std::string_view kCertificate = "ssl-client-cert";

bool same_name(std::string_view host, std::string_view server_name) {
  if (host.ends_with('.')) host.remove_suffix(1);
  if (host.size() != server_name.size()) return false;
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != server_name[i]) return false;
  }
  return true;
}

}  // namespace

bool certificate_judged_for_host(const ProxyStream& stream, const ClientCertificate& certificate) {
  std::string_view host = split_authority(stream.authority).first;
  if (!certificate.server_name.empty() && same_name(host, certificate.server_name)) return true;
  if (!stream.table || certificate.server_name.empty()) return false;
  const ClientAuthority* judged = stream.table->tls.find_client_authority(certificate.server_name);
  const ClientAuthority* wanted = stream.table->tls.find_client_authority(host);
  return judged && wanted && *judged == *wanted;
}

void set_client_certificate_headers(ProxyStream& stream) {
  HeaderList& headers = stream.request_headers;
  for (const Header& header : headers) {
    if (!header.name.starts_with(kPrefix)) continue;
    for (std::string_view name : {kVerify, kSubject, kIssuer, kCertificate}) headers.remove(name);
    break;
  }
  const AccessPolicy* access = stream.route ? stream.route->access.value.get() : nullptr;
  if (!access || access->client_cert == ClientCertMode::kOff) return;
  const ClientCertificate* certificate =
      stream.peer && stream.peer->certificate && stream.peer->certificate->presented ? &*stream.peer->certificate
                                                                                      : nullptr;
  if (!certificate) {
    headers.push_back({kVerify, "NONE"});
    return;
  }
  // nginx leaves out a header whose value is empty.
  headers.push_back({kVerify, certificate->verify_header});
  if (!certificate->subject.empty()) headers.push_back({kSubject, certificate->subject});
  if (!certificate->issuer.empty()) headers.push_back({kIssuer, certificate->issuer});
  if (access->pass_client_cert && !certificate->escaped_pem.empty()) {
    headers.push_back({kCertificate, certificate->escaped_pem});
  }
}

}  // namespace grpc_ingress
