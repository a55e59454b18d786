#pragma once

#include "controller/translate/annotation_catalog.h"
#include "controller/translate/annotations.h"

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grpc_ingress {

std::string trim_text(std::string_view text);
bool is_header_name(std::string_view name);
// "name" (in the Ingress's namespace) or "namespace/name"; nullopt when either is not a valid name.
std::optional<ObjectKey> parse_secret_reference(const ObjectMeta& meta, const std::string& value);

// Finds an Ingress's annotations by name (ours, then ingress-nginx's) and
// words what is wrong with a value. Used by the annotation readers only.
class AnnotationReader {
 public:
  AnnotationReader(const ObjectMeta& meta, IngressOptions& out) : meta_(meta), out_(out) {}

  const ObjectMeta& meta() const { return meta_; }

  // The value of grpc-ingress.io/<name> (unless `name` is empty), else of nginx.ingress.kubernetes.io/<nginx_name>.
  const std::string* find(std::string_view name, std::string_view nginx_name = {});
  // The first of grpc-ingress.io/<each name>, else of nginx.ingress.kubernetes.io/<each name>
  // (ours win over ingress-nginx's whatever the spelling).
  const std::string* find_any(std::initializer_list<std::string_view> names);

  // The full name of the annotation find() last found.
  const std::string& found() const { return found_; }

  // A warning: the Ingress is served, `instead` says how.
  void problem(const std::string& value, const std::string& what, const std::string& instead);
  // The Ingress is not routed (a security annotation that cannot be honoured as written).
  void refuse(const std::string& value, const std::string& what);

  // A whole number from min to max, else a problem and `out` unchanged.
  void uint_value(std::string_view name, uint32_t& out, uint32_t min, uint32_t max, std::string_view nginx_name = {});
  // The same, refusing the Ingress on a bad value; false then.
  bool uint_or_refuse(const std::string& value, uint32_t& out, uint32_t min, uint32_t max);
  void duration_value(std::string_view name, std::chrono::milliseconds& out, std::chrono::milliseconds min);
  // "4194304", "512Ki", "4Mi", "4M" (as nginx's sizes, M = Mi).
  void size_value(std::string_view name, uint32_t& out);

 private:
  const std::string* lookup(std::string_view prefix, std::string_view name);

  const ObjectMeta& meta_;
  IngressOptions& out_;
  std::string found_;
};

}  // namespace grpc_ingress
