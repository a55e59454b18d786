#pragma once

#include "controller/translate/k8s_objects.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The JSON field reader the object decoders share (object_decoder.cc for the
// core kinds, gateway_object_decoder.cc for the Gateway API). Internal to them:
// everything here throws DecodeError, which only decode_object_as may catch.
namespace grpc_ingress::decode {

constexpr int64_t kMaxPort = 65535;

// Thrown by the decoders only; decode_object_as turns it into an InvalidObject.
class DecodeError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A JSON value and its path in the object ("spec.rules[0].host"), so that
// every error names the field. JSON null reads as absent, as in the API.
// The value must outlive the Field.
class Field {
 public:
  Field(const nlohmann::json& value, std::string path) : value_(&value), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  bool is_null() const { return value_->is_null(); }

  [[noreturn]] void fail(std::string_view what) const;

  // The member, or nullopt when it is absent or null. This must be an object.
  std::optional<Field> get(const char* key) const;

  void require_object() const;

  // Array elements; an absent array reads as empty.
  std::vector<Field> items() const;

  std::string string() const;
  bool boolean() const;
  int64_t integer(int64_t min, int64_t max) const;
  int32_t port() const { return static_cast<int32_t>(integer(1, kMaxPort)); }

  // An int-or-string port: 1..65535 or a non-empty name.
  PortRef port_ref() const;

  std::map<std::string, std::string> string_map() const;
  std::vector<std::string> strings() const;

 private:
  std::string join(std::string_view key) const;
  std::string quoting_hint() const;

  const nlohmann::json* value_;
  std::string path_;
};

std::optional<std::string> optional_string(const Field& parent, const char* key);
std::string string_or_empty(const Field& parent, const char* key);
std::vector<Field> items_of(const Field& parent, const char* key);

// A list the CRD bounds (maxItems); an absent list reads as empty.
std::vector<Field> list_of(const Field& parent, const char* key, size_t max_items);

// A list the CRD requires, with at least one item.
std::vector<Field> required_list(const Field& parent, const char* key, size_t max_items);

// A value as an error quotes it: cut when long, so a reason stays short, and
// control characters escaped, so a reason cannot break a log line.
std::string quote_value(std::string_view text);

// A string syntax of the API (a pattern or length in the CRD), and how an error describes it.
struct Syntax {
  bool (*valid)(std::string_view);
  const char* description;
};

std::string checked_string(const Field& field, const Syntax& syntax);
std::string required_string(const Field& parent, const char* key, const Syntax& syntax);
std::string optional_checked(const Field& parent, const char* key, const Syntax& syntax,
                             std::string_view fallback = "");

// One value of an enum the CRD lists.
template <typename T>
struct EnumValue {
  std::string_view name;
  T value;
};

template <typename T, size_t N>
T enum_value(const Field& field, const EnumValue<T> (&values)[N]) {
  std::string text = field.string();
  std::string names;
  for (size_t i = 0; i < N; ++i) {
    if (values[i].name == text) return values[i].value;
    names += i == 0 ? "" : i + 1 == N ? " or " : ", ";
    names += values[i].name;
  }
  field.fail(quote_value(text) + " is not " + names);
}

template <typename T, size_t N>
T optional_enum(const Field& parent, const char* key, const EnumValue<T> (&values)[N], T fallback) {
  auto field = parent.get(key);
  return field ? enum_value(*field, values) : fallback;
}

// Kubernetes' IsDNS1123Subdomain, which object and section names follow: at
// most 253 characters, dot-separated parts of [a-z0-9-] that start and end
// alphanumeric, with no 63-character limit per part (DNS names have one:
// is_dns_subdomain).
bool is_object_subdomain(std::string_view name);

// metadata, which every kind carries; a namespaced kind without a namespace is in "default".
ObjectMeta decode_meta(const Field& root, ObjectKind kind);

// spec, or an empty object when absent (every field in it is optional).
Field spec_of(const Field& root);

}  // namespace grpc_ingress::decode
