#pragma once

#include "common/route_table.h"
#include "dataplane/header_list.h"
#include "dataplane/proxy_stream.h"

#include <string>
#include <string_view>

namespace grpc_ingress {

// The Gateway API filters a route carries, applied to one stream. Only
// routes that have them pay for them. Worker thread only.

// RequestHeaderModifier: set replaces every field of the name (or adds one),
// add appends a field, remove drops every field of the name.
void edit_headers(HeaderList& headers, const HeaderEdits& edits);

// URLRewrite: the host and path the pod sees.
void rewrite_request(ProxyStream& stream, const Route& route);

// RequestRedirect: the Location for a request to `authority` + `path` (with
// its query, kept), arriving over TLS or not.
std::string redirect_location(const Route& route, std::string_view authority, std::string_view path, bool tls);
// Answers the stream with the route's redirect.
void answer_redirect(ProxyStream& stream, const Route& route);

}  // namespace grpc_ingress
