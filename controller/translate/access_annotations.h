#pragma once

#include "controller/translate/annotation_reader.h"
#include "controller/translate/annotations.h"

namespace grpc_ingress {

// The security annotations (docs/edge-access.md): source ranges,
// client certificates, rate limits, auth-url, ssl-redirect, into
// out.access and the TLS fields. A bad value refuses the Ingress (fail
// closed); it never drops the protection.
void read_access_annotations(AnnotationReader& reader, const AnnotationOptions& options, IngressOptions& out);

}  // namespace grpc_ingress
