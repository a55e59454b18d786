#pragma once

#include "dataplane/proxy_stream.h"

namespace grpc_ingress {

// Toward the pod, as ingress-nginx sends them: for a route whose Ingress
// asks for client certificates (auth-tls), ssl-client-verify (SUCCESS, NONE
// or FAILED:<reason>), ssl-client-subject-dn and ssl-client-issuer-dn (RFC
// 2253), and with auth-tls-pass-certificate-to-upstream ssl-client-cert (the
// URL-escaped PEM). A client's own copies of these headers are dropped on
// every route: only the proxy says who the client is. Worker thread only;
// costs a scan of the headers and, on such routes, the added fields.
void set_client_certificate_headers(ProxyStream& stream);

// Was the connection's certificate judged by the client authority of the
// request's host? A request for another host than the TLS SNI name (HTTP/2
// connection reuse, or a forged :authority) whose host asks another CA, mode
// or depth must not borrow the verdict (nginx answers 421 there). No
// allocation when the host is the SNI name.
bool certificate_judged_for_host(const ProxyStream& stream, const ClientCertificate& certificate);

}  // namespace grpc_ingress
