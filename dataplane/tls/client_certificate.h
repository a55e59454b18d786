#pragma once

#include "dataplane/downstream/downstream_peer.h"

#include <openssl/ssl.h>

#include <string>
#include <string_view>

namespace grpc_ingress {

// What a finished server handshake that asked for a client certificate
// learned of it: presented or not, verified against the host's CA or why not,
// its subject and issuer (RFC 2253, as nginx's $ssl_client_s_dn) and its PEM
// escaped as nginx's $ssl_client_escaped_cert. Made once per connection.
ClientCertificate client_certificate_of(SSL* ssl);

// `text` percent-encoded as nginx's ngx_escape_uri(NGX_ESCAPE_URI_COMPONENT):
// letters, digits and -._~!'()* stay, every other byte is %XX (upper case).
std::string escape_uri_component(std::string_view text);

}  // namespace grpc_ingress
