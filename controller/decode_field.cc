#include "controller/decode_field.h"

#include "controller/translate/k8s_names.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>

namespace grpc_ingress::decode {

using nlohmann::json;

void Field::fail(std::string_view what) const {
  throw DecodeError(path_.empty() ? std::string(what) : path_ + ": " + std::string(what));
}

std::optional<Field> Field::get(const char* key) const {
  require_object();
  auto it = value_->find(key);
  if (it == value_->end() || it->is_null()) return std::nullopt;
  return Field(*it, join(key));
}

void Field::require_object() const {
  if (!value_->is_object()) fail("must be an object");
}

std::vector<Field> Field::items() const {
  std::vector<Field> out;
  if (is_null()) return out;
  if (!value_->is_array()) fail("must be a list");
  out.reserve(value_->size());
  for (size_t i = 0; i < value_->size(); ++i) {
    out.emplace_back((*value_)[i], path_ + "[" + std::to_string(i) + "]");
  }
  return out;
}

std::string Field::string() const {
  if (!value_->is_string()) fail("must be a string" + quoting_hint());
  return value_->get<std::string>();
}

bool Field::boolean() const {
  if (!value_->is_boolean()) fail("must be true or false");
  return value_->get<bool>();
}

int64_t Field::integer(int64_t min, int64_t max) const {
  std::string range = " in " + std::to_string(min) + ".." + std::to_string(max);
  if (!value_->is_number_integer()) fail("must be an integer" + range);
  if (value_->is_number_unsigned()) {
    uint64_t value = value_->get<uint64_t>();
    if (value > static_cast<uint64_t>(max) || static_cast<int64_t>(value) < min) {
      fail("must be an integer" + range);
    }
    return static_cast<int64_t>(value);
  }
  int64_t value = value_->get<int64_t>();
  if (value < min || value > max) fail("must be an integer" + range);
  return value;
}

PortRef Field::port_ref() const {
  if (value_->is_string()) {
    std::string name = string();
    if (name.empty()) fail("must be a port number or a non-empty port name");
    return {0, name};
  }
  return {port(), ""};
}

std::map<std::string, std::string> Field::string_map() const {
  std::map<std::string, std::string> out;
  require_object();
  for (const auto& [key, value] : value_->items()) {
    out[key] = Field(value, join(key)).string();
  }
  return out;
}

std::vector<std::string> Field::strings() const {
  std::vector<std::string> out;
  for (const Field& item : items()) out.push_back(item.string());
  return out;
}

std::string Field::join(std::string_view key) const {
  std::string out = path_;
  // Annotation keys carry dots and slashes: bracket them so the path stays readable.
  if (key.find_first_of("./") != std::string_view::npos) {
    out += "[\"" + std::string(key) + "\"]";
  } else {
    if (!out.empty()) out += '.';
    out += key;
  }
  return out;
}

// YAML turns unquoted true, 80 or 1.5 into non-strings; say what to do.
std::string Field::quoting_hint() const {
  if (value_->is_boolean() || value_->is_number()) return " (quote the value in YAML)";
  return "";
}

std::optional<std::string> optional_string(const Field& parent, const char* key) {
  auto field = parent.get(key);
  if (!field) return std::nullopt;
  return field->string();
}

std::string string_or_empty(const Field& parent, const char* key) {
  return optional_string(parent, key).value_or("");
}

std::vector<Field> items_of(const Field& parent, const char* key) {
  auto field = parent.get(key);
  return field ? field->items() : std::vector<Field>{};
}

std::vector<Field> list_of(const Field& parent, const char* key, size_t max_items) {
  auto field = parent.get(key);
  if (!field) return {};
  std::vector<Field> items = field->items();
  if (items.size() > max_items) field->fail("must have at most " + std::to_string(max_items) + " items");
  return items;
}

std::vector<Field> required_list(const Field& parent, const char* key, size_t max_items) {
  auto field = parent.get(key);
  if (!field) parent.fail(std::string(key) + " is required");
  std::vector<Field> items = list_of(parent, key, max_items);
  if (items.empty()) field->fail("must have at least 1 item");
  return items;
}

std::string quote_value(std::string_view text) {
  constexpr size_t kMaxQuoted = 64;
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out = "'";
  for (char c : text.substr(0, kMaxQuoted)) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out + (text.size() > kMaxQuoted ? "...'" : "'");
}

std::string checked_string(const Field& field, const Syntax& syntax) {
  std::string text = field.string();
  if (!syntax.valid(text)) field.fail(quote_value(text) + " is not " + syntax.description);
  return text;
}

std::string required_string(const Field& parent, const char* key, const Syntax& syntax) {
  auto field = parent.get(key);
  if (!field) parent.fail(std::string(key) + " is required");
  return checked_string(*field, syntax);
}

std::string optional_checked(const Field& parent, const char* key, const Syntax& syntax,
                             std::string_view fallback) {
  auto field = parent.get(key);
  return field ? checked_string(*field, syntax) : std::string(fallback);
}

bool is_object_subdomain(std::string_view name) {
  constexpr size_t kMaxLength = 253;
  if (name.empty() || name.size() > kMaxLength) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (size_t start = 0; start <= name.size();) {
    size_t end = std::min(name.find('.', start), name.size());
    std::string_view part = name.substr(start, end - start);
    if (part.empty() || !alnum(part.front()) || !alnum(part.back())) return false;
    if (!std::all_of(part.begin(), part.end(), [&](char c) { return alnum(c) || c == '-'; })) return false;
    start = end + 1;
  }
  return true;
}

namespace {

// RFC 3339 as the API server writes it: "2024-05-01T10:00:00Z"; fractional
// seconds and numeric offsets are accepted, the fraction is dropped.
std::chrono::sys_seconds parse_timestamp(const Field& field) {
  std::string text = field.string();
  auto bad = [&]() -> std::chrono::sys_seconds {
    field.fail("must be an RFC 3339 time such as 2024-05-01T10:00:00Z");
  };
  std::string_view rest = text;
  auto number = [&](size_t digits, char then) -> int {
    if (rest.size() < digits) bad();
    int value = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + digits, value);
    if (ec != std::errc() || ptr != rest.data() + digits) bad();
    rest.remove_prefix(digits);
    if (then != '\0') {
      if (rest.empty() || (rest.front() != then && !(then == 'T' && rest.front() == 't'))) bad();
      rest.remove_prefix(1);
    }
    return value;
  };
  int year = number(4, '-');
  int month = number(2, '-');
  int day = number(2, 'T');
  int hour = number(2, ':');
  int minute = number(2, ':');
  int second = number(2, '\0');
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    if (digits == 0) bad();
    rest.remove_prefix(digits);
  }
  int offset_minutes = 0;
  if (rest == "Z" || rest == "z") {
    rest = {};
  } else if (!rest.empty() && (rest.front() == '+' || rest.front() == '-')) {
    int sign = rest.front() == '+' ? 1 : -1;
    rest.remove_prefix(1);
    int offset_hours = number(2, ':');
    offset_minutes = sign * (offset_hours * 60 + number(2, '\0'));
  } else {
    bad();
  }
  if (!rest.empty()) bad();

  std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(month),
                                   std::chrono::day(day)};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) bad();
  return std::chrono::sys_days(date) + std::chrono::hours(hour) +
         std::chrono::minutes(minute - offset_minutes) + std::chrono::seconds(second);
}

}  // namespace

ObjectMeta decode_meta(const Field& root, ObjectKind kind) {
  auto metadata = root.get("metadata");
  if (!metadata) root.fail("metadata is required");
  ObjectMeta meta;
  auto name = metadata->get("name");
  if (!name) metadata->fail("name is required");
  meta.name = name->string();
  if (!is_object_subdomain(meta.name)) {
    name->fail("'" + meta.name + "' is not a valid name (lower-case RFC 1123 subdomain)");
  }
  if (is_namespaced(kind)) {
    // kubectl puts a namespace-less manifest in "default"; so do we.
    meta.namespace_name = "default";
    if (auto ns = metadata->get("namespace")) {
      meta.namespace_name = ns->string();
      if (!is_dns_subdomain(meta.namespace_name)) {
        ns->fail("'" + meta.namespace_name + "' is not a valid namespace");
      }
    }
  }
  meta.uid = string_or_empty(*metadata, "uid");
  if (auto generation = metadata->get("generation")) {
    meta.generation = generation->integer(0, std::numeric_limits<int64_t>::max());
  }
  if (auto created = metadata->get("creationTimestamp")) {
    meta.creation_timestamp = parse_timestamp(*created);
  }
  if (auto labels = metadata->get("labels")) meta.labels = labels->string_map();
  if (auto annotations = metadata->get("annotations")) meta.annotations = annotations->string_map();
  return meta;
}

Field spec_of(const Field& root) {
  static const json kEmpty = json::object();
  auto spec = root.get("spec");
  if (!spec) return Field(kEmpty, "spec");
  spec->require_object();
  return *spec;
}

}  // namespace grpc_ingress::decode
