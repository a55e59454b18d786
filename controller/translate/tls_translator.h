#pragma once

#include "common/result.h"
#include "common/route_table.h"
#include "common/tls_settings.h"
#include "controller/translate/k8s_objects.h"
#include "controller/translate/rejection.h"
#include "controller/translate/store.h"

#include <cstdint>
#include <functional>
#include <map>
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

 private:
  static constexpr size_t kMaxRemembered = 1024;
  std::map<std::pair<std::string, std::string>, std::string> problems_;  // "" = fine
};

// The certificate in Secret `key` (tls.crt and tls.key), or why it cannot serve.
Result<TlsCertificate> load_certificate_secret(const Store& store, const ObjectKey& key, CertificateChecks& checks);

// What the TLS part of a translation takes besides the store and the flags.
struct TlsHistory {
  // The running table's certificates: a Secret that stops loading keeps the
  // certificate it had. Null on a fresh start.
  const TlsSettings* last_good = nullptr;
  CertificateChecks* checks = nullptr;  // null: every certificate is parsed
};

// The TLS part of a translation, from the Ingresses that are ours (oldest
// first): the certificate of every host listed in spec.tls (the first
// Ingress to name a host decides), the default certificate, and the
// ssl-redirect flag on the routes of redirecting Ingresses' TLS hosts. A
// missing or broken Secret is rejected with the reason and keeps the
// certificate it had (else its hosts get the default one).
// `mark_redirect(ingress, host)`: that Ingress's routes of `host` redirect.
using RedirectMarker = std::function<void(const ObjectMeta& ingress, const std::string& host)>;
void translate_tls(const Store& store, const std::vector<const Ingress*>& ours, const TlsTranslatorOptions& options,
                   const TlsHistory& history, TlsSettings& tls, const RedirectMarker& mark_redirect,
                   std::vector<Rejection>& rejections);

}  // namespace grpc_ingress
