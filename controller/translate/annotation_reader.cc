#include "controller/translate/annotation_reader.h"

#include "common/flags.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

namespace grpc_ingress {

std::string trim_text(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return std::string(text);
}

bool is_header_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

std::optional<ObjectKey> parse_secret_reference(const ObjectMeta& meta, const std::string& value) {
  std::string text = trim_text(value);
  auto slash = text.find('/');
  ObjectKey key = slash == std::string::npos ? ObjectKey{meta.namespace_name, text}
                                             : ObjectKey{text.substr(0, slash), text.substr(slash + 1)};
  auto valid = [](const std::string& name) {
    return !name.empty() && name.size() <= 253 && std::all_of(name.begin(), name.end(), [](char c) {
      return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
             c == '-' || c == '.';
    });
  };
  if (!valid(key.namespace_name) || !valid(key.name)) return std::nullopt;
  return key;
}

const std::string* AnnotationReader::lookup(std::string_view prefix, std::string_view name) {
  auto it = meta_.annotations.find(std::string(prefix) + std::string(name));
  if (it == meta_.annotations.end()) return nullptr;
  found_ = it->first;
  return &it->second;
}

const std::string* AnnotationReader::find(std::string_view name, std::string_view nginx_name) {
  if (!name.empty()) {
    if (const std::string* value = lookup(kOurAnnotationPrefix, name)) return value;
  }
  if (nginx_name.empty()) return nullptr;
  return lookup(kNginxAnnotationPrefix, nginx_name);
}

const std::string* AnnotationReader::find_any(std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) {
    if (const std::string* value = lookup(kOurAnnotationPrefix, name)) return value;
  }
  for (std::string_view name : names) {
    if (const std::string* value = lookup(kNginxAnnotationPrefix, name)) return value;
  }
  return nullptr;
}

void AnnotationReader::problem(const std::string& value, const std::string& what, const std::string& instead) {
  out_.problems.push_back("annotation " + found_ + ": '" + value + "' " + what + "; " + instead);
}

void AnnotationReader::refuse(const std::string& value, const std::string& what) {
  out_.refusals.push_back("annotation " + found_ + ": '" + value + "' " + what +
                          "; the Ingress is not routed until it is fixed");
}

void AnnotationReader::uint_value(std::string_view name, uint32_t& out, uint32_t min, uint32_t max,
                                  std::string_view nginx_name) {
  const std::string* value = find(name, nginx_name);
  if (!value) return;
  uint64_t parsed = 0;
  std::string text = trim_text(*value);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || parsed < min || parsed > max) {
    problem(*value, "is not a whole number from " + std::to_string(min) + " to " + std::to_string(max),
            "using " + std::to_string(out));
    return;
  }
  out = static_cast<uint32_t>(parsed);
}

bool AnnotationReader::uint_or_refuse(const std::string& value, uint32_t& out, uint32_t min, uint32_t max) {
  uint64_t parsed = 0;
  std::string text = trim_text(value);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || parsed < min || parsed > max) {
    refuse(value, "is not a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    return false;
  }
  out = static_cast<uint32_t>(parsed);
  return true;
}

void AnnotationReader::duration_value(std::string_view name, std::chrono::milliseconds& out,
                                      std::chrono::milliseconds min) {
  const std::string* value = find(name);
  if (!value) return;
  std::chrono::milliseconds parsed{};
  auto status = parse_duration(trim_text(*value), parsed);
  if (!status || parsed < min) {
    problem(*value, status ? "is shorter than " + std::to_string(min.count()) + "ms" : status.error().message,
            "using " + std::to_string(out.count()) + "ms");
    return;
  }
  out = parsed;
}

void AnnotationReader::size_value(std::string_view name, uint32_t& out) {
  const std::string* value = find(name);
  if (!value) return;
  std::string text = trim_text(*value);
  uint64_t parsed = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  static const std::map<std::string, uint64_t> kUnits = {
      {"", 1}, {"k", 1024}, {"K", 1024}, {"Ki", 1024}, {"m", 1 << 20}, {"M", 1 << 20}, {"Mi", 1 << 20}};
  auto unit = ec == std::errc() ? kUnits.find(std::string(end, static_cast<const char*>(text.data() + text.size())))
                                : kUnits.end();
  // Divided, not multiplied: a product past 64 bits would wrap to a small size.
  if (unit == kUnits.end() || end == text.data() || parsed > (uint64_t{1} << 31) / unit->second) {
    problem(*value, "is not a size in bytes (a number, or with Ki / Mi) up to 2Gi",
            "using " + (out ? std::to_string(out) : std::string("no limit")));
    return;
  }
  out = static_cast<uint32_t>(parsed * unit->second);
}

}  // namespace grpc_ingress
