#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace grpc_ingress {

// Standard base64 (RFC 4648 alphabet, '=' padding), as Kubernetes writes
// Secret data and kubeconfig *-data fields. Line breaks are skipped;
// nullopt for anything else that is not base64.
std::optional<std::string> decode_base64(std::string_view text);

// Several base64 texts one after another, each with its own padding
// ("AA==AAAA"), as the gRPC-Web spec lets a text body be sent in chunks.
std::optional<std::string> decode_base64_chunks(std::string_view text);

std::string encode_base64(std::string_view bytes);

}  // namespace grpc_ingress
