#pragma once

#include "controller/decode_field.h"
#include "controller/translate/k8s_objects.h"

// The Gateway API kinds (gateway.networking.k8s.io), for decode_object_as.
// Decoded as the API server would have stored them: the CRD's defaults applied,
// and what its schema and validation rules refuse refused here too, so that a
// manifest file means what the same object in a cluster means. Each throws
// DecodeError naming the offending field.
namespace grpc_ingress::decode {

GatewayClass decode_gateway_class(const Field& root);
Gateway decode_gateway(const Field& root);
GRPCRoute decode_grpc_route(const Field& root);
HTTPRoute decode_http_route(const Field& root);
ReferenceGrant decode_reference_grant(const Field& root);

}  // namespace grpc_ingress::decode
