#pragma once

#include "common/route_table.h"
#include "common/tls_settings.h"
#include "controller/k8s_objects.h"
#include "controller/rejection.h"
#include "controller/store.h"

#include <cstdint>
#include <string>
#include <vector>

namespace grpc_ingress {

struct TlsTranslatorOptions {
  std::string default_certificate{};  // --default-ssl-certificate "namespace/name"; empty: self-signed
  uint16_t redirect_port = 443;       // --ssl-redirect-port
  // The running table's certificates: a Secret that stops loading keeps the
  // certificate it had. Valid for the duration of a translate() call.
  const TlsSettings* last_good = nullptr;
};

// The TLS part of a translation, from the Ingresses that are ours (oldest
// first): the certificate of every host listed in spec.tls (the first
// Ingress to name a host decides), the default certificate, and the
// ssl-redirect flag on the routes of redirecting Ingresses' TLS hosts. A
// missing or broken Secret is rejected with the reason and keeps the
// certificate it had (else its hosts get the default one).
void translate_tls(const Store& store, const std::vector<const Ingress*>& ours, const TlsTranslatorOptions& options,
                   RouteTable& table, std::vector<Rejection>& rejections);

}  // namespace grpc_ingress
