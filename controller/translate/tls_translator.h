#pragma once

#include "common/result.h"
#include "common/route_table.h"
#include "common/tls_settings.h"
#include "controller/translate/annotations.h"
#include "controller/translate/k8s_objects.h"
#include "controller/translate/rejection.h"
#include "controller/translate/store.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <string>
#include <vector>

namespace grpc_ingress {

struct TlsTranslatorOptions {
  std::string default_certificate{};  // --default-ssl-certificate "namespace/name"; empty: self-signed
  uint16_t redirect_port = 443;       // --ssl-redirect-port
};

// PEM checks remembered by the bytes checked: parsing every certificate again
// on every rebuild (each endpoint change) would cost. The caller keeps one
// between translations (the publisher does); bounded.
class CertificateChecks {
 public:
  // Does the chain parse and the key match its leaf (check_certificate)?
  Status check(const std::string& cert_pem, const std::string& key_pem);
  // Does a CA bundle hold only PEM certificates, at least one (check_ca_bundle)?
  Status check_ca(const std::string& ca_pem);

 private:
  static constexpr size_t kMaxRemembered = 1024;
  std::map<std::pair<std::string, std::string>, std::string> problems_;  // "" = fine
  std::map<std::string, std::string> ca_problems_;                       // "" = fine
};

// The certificate in Secret `key` (tls.crt and tls.key), or why it cannot serve.
Result<TlsCertificate> load_certificate_secret(const Store& store, const ObjectKey& key, CertificateChecks& checks);

// The CA bundle (ca.crt) of Secret `key`, of any type (ingress-nginx's
// auth-tls-secret is often Opaque), or why it cannot verify clients.
Result<std::string> load_ca_secret(const Store& store, const ObjectKey& key, CertificateChecks& checks);

// What the TLS part reads of an Ingress's annotations.
struct IngressTlsOptions {
  // Cleartext requests to its TLS hosts are redirected (HTTP) or refused
  // (gRPC): ingress-nginx's default; ssl-redirect "false" turns it off,
  // force-ssl-redirect "true" keeps it on.
  bool redirect = true;
  // auth-tls-*: its TLS hosts ask clients for a certificate verified by the
  // CA of this Secret (mode kOff: none is asked).
  std::optional<ObjectKey> client_ca_secret;
  ClientCertMode client_cert = ClientCertMode::kOff;
  uint32_t verify_depth = 1;

  bool operator==(const IngressTlsOptions&) const = default;
};

// From the annotations as read_annotations parsed them (IngressOptions).
IngressTlsOptions tls_options_of(const ObjectMeta& meta, const IngressOptions& options);

// One Ingress of ours with spec.tls, and what its annotations say about TLS.
struct TlsIngress {
  const Ingress* ingress = nullptr;
  IngressTlsOptions options;
};

// What the TLS part of a translation takes besides the store and the flags.
struct TlsHistory {
  // The running table's certificates: a Secret that stops loading keeps the
  // certificate it had. Null on a fresh start.
  const TlsSettings* last_good = nullptr;
  CertificateChecks* checks = nullptr;  // null: every certificate is parsed
};

// The TLS part of a translation, from the Ingresses that are ours (oldest
// first): the certificate of every host listed in spec.tls (the first
// Ingress to name a host decides), the client authority of every such host
// whose Ingress sets auth-tls-secret (the oldest decides), the default
// certificate, and the ssl-redirect flag on the routes of the TLS hosts of
// redirecting Ingresses (all, unless ssl-redirect "false"). A missing or
// broken certificate Secret is rejected with the reason and keeps the
// certificate it had (else its hosts get the default one). A missing or
// broken CA Secret is rejected with the reason and fails closed: the host
// still asks for a certificate, with an empty CA that verifies none.
// `mark_redirect(ingress, host)`: that Ingress's routes of `host` redirect.
using RedirectMarker = std::function<void(const ObjectMeta& ingress, const std::string& host)>;
void translate_tls(const Store& store, const std::vector<TlsIngress>& ours, const TlsTranslatorOptions& options,
                   const TlsHistory& history, TlsSettings& tls, const RedirectMarker& mark_redirect,
                   std::vector<Rejection>& rejections);

}  // namespace grpc_ingress
