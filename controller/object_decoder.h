#pragma once

#include "controller/translate/k8s_objects.h"

#include <nlohmann/json.hpp>

#include <optional>

namespace grpc_ingress {

// The decoding boundary: JSON from a manifest file or the API server in, typed
// objects out. Never throws; whatever the input, a known kind comes back as
// its object or as an InvalidObject whose reason names the offending field.

// For an object that carries apiVersion and kind (a manifest document, a watch
// event). nullopt for a kind we do not use. A known kind with another
// apiVersion (extensions/v1beta1 Ingress) is invalid.
std::optional<Object> decode_object(const nlohmann::json& json);

// For an object whose kind the caller knows: items of a typed list may omit
// apiVersion and kind; when present they must match.
Object decode_object_as(ObjectKind kind, const nlohmann::json& json);

}  // namespace grpc_ingress
