#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace grpc_ingress {

inline constexpr std::string_view kOurAnnotationPrefix = "grpc-ingress.io/";
inline constexpr std::string_view kNginxAnnotationPrefix = "nginx.ingress.kubernetes.io/";

// What grpc-ingress does with an annotation it knows
// (docs/migrating-from-ingress-nginx.md). Never silently weaker: whatever would have protected a
// service is honoured or refuses the Ingress.
enum class AnnotationClass : uint8_t {
  kSupported,            // honoured (read by read_annotations or the TLS translator)
  kIgnored,              // harmless here (buffers, nginx-only tuning): no message
  kUnsupported,          // changes behaviour, protects nothing: a warning, the Ingress is served
  kUnsupportedSecurity,  // would protect: the Ingress is refused (unless the operator accepts it)
};
const char* to_string(AnnotationClass kind);

struct AnnotationInfo {
  std::string_view name;  // without the prefix
  AnnotationClass kind;
  // What it does in ingress-nginx and why grpc-ingress treats it so (a
  // clause, for messages and the migration table).
  std::string_view note;
  // A value (lower-case) that asks for nothing, so the annotation is then
  // harmless whatever `kind` says: enable-modsecurity "false", satisfy "all".
  std::string_view inert_value = {};
};

// ingress-nginx's annotations (current and retired ones), by name without
// the prefix; nullptr for a name it never had.
const AnnotationInfo* find_nginx_annotation(std::string_view name);
std::span<const AnnotationInfo> nginx_annotations();

// Ours (grpc-ingress.io/<name>), sorted.
bool is_our_annotation(std::string_view name);
std::span<const std::string_view> our_annotations();

// The known name of ours closest to `name` (a typo), or "" when none is
// close (an edit distance of at most a third of the name, and 3).
std::string closest_our_annotation(std::string_view name);

}  // namespace grpc_ingress
