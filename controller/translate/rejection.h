#pragma once

#include <string>

namespace grpc_ingress {

// An object, or part of one, that the translator could not route, and why.
struct Rejection {
  std::string kind;            // "Ingress", "EndpointSlice", ...
  std::string namespace_name;  // empty for IngressClass
  std::string name;
  std::string reason;

  bool operator==(const Rejection&) const = default;
};

}  // namespace grpc_ingress
