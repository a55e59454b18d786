#include "controller/manifest_reader.h"

#include "controller/object_decoder.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace grpc_ingress {
namespace {

using nlohmann::json;

class ConvertError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::optional<json> integer_scalar(std::string_view text) {
  std::string_view digits = text;
  int base = 10;
  bool negative = false;
  if (digits.starts_with("0x")) {
    base = 16;
    digits.remove_prefix(2);
  } else if (digits.starts_with("0o")) {
    base = 8;
    digits.remove_prefix(2);
  } else {
    if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) {
      negative = digits.front() == '-';
      digits.remove_prefix(1);
    }
    if (!all_digits(digits)) return std::nullopt;
  }
  if (digits.empty()) return std::nullopt;
  uint64_t magnitude = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (ptr != digits.data() + digits.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    // Too big for 64 bits: keep it a number, so the decoder reports it out of range.
    return json(std::strtod(std::string(text).c_str(), nullptr));
  }
  if (ec != std::errc()) return std::nullopt;
  if (!negative) {
    if (magnitude > static_cast<uint64_t>(INT64_MAX)) return json(magnitude);
    return json(static_cast<int64_t>(magnitude));
  }
  if (magnitude > static_cast<uint64_t>(INT64_MAX) + 1) return json(-static_cast<double>(magnitude));
  return json(static_cast<int64_t>(0 - magnitude));
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
std::optional<json> float_scalar(std::string_view text) {
  std::string_view rest = text;
  if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) rest.remove_prefix(1);
  size_t mantissa_end = rest.find_first_of("eE");
  std::string_view mantissa = rest.substr(0, mantissa_end);
  size_t dot = mantissa.find('.');
  std::string_view whole = mantissa.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "" : mantissa.substr(dot + 1);
  if (whole.empty() && fraction.empty()) return std::nullopt;
  if (!whole.empty() && !all_digits(whole)) return std::nullopt;
  if (!fraction.empty() && !all_digits(fraction)) return std::nullopt;
  if (dot == std::string_view::npos && mantissa_end == std::string_view::npos) return std::nullopt;
  if (mantissa_end != std::string_view::npos) {
    std::string_view exponent = rest.substr(mantissa_end + 1);
    if (!exponent.empty() && (exponent.front() == '-' || exponent.front() == '+')) {
      exponent.remove_prefix(1);
    }
    if (!all_digits(exponent)) return std::nullopt;
  }
  return json(std::strtod(std::string(text).c_str(), nullptr));
}

// YAML 1.2 core schema for plain (unquoted) scalars.
json plain_scalar(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (auto number = integer_scalar(text)) return *number;
  if (auto number = float_scalar(text)) return *number;
  return text;
}

class YamlConverter {
 public:
  explicit YamlConverter(size_t text_size) : max_nodes_(text_size + kManifestNodeSlack) {}

  json convert(const YAML::Node& node, int depth) {
    if (++nodes_ > max_nodes_) fail(node, "aliases expand to more nodes than the text has bytes");
    if (depth > kMaxManifestDepth) fail(node, "nested too deep (more than 128 levels)");
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nullptr;
      case YAML::NodeType::Scalar:
        return scalar(node);
      case YAML::NodeType::Sequence: {
        json out = json::array();
        for (const YAML::Node& item : node) out.push_back(convert(item, depth + 1));
        return out;
      }
      case YAML::NodeType::Map: {
        json out = json::object();
        for (const auto& entry : node) {
          if (!entry.first.IsScalar()) fail(entry.first, "a mapping key must be a scalar");
          const std::string& key = entry.first.Scalar();
          if (out.contains(key)) fail(entry.first, "duplicate key '" + key + "'");
          out[key] = convert(entry.second, depth + 1);
        }
        return out;
      }
    }
    return nullptr;
  }

 private:
  static json scalar(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    // yaml-cpp tags every quoted or block scalar "!" and every plain one "?".
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return node.Scalar();
    if (tag == "?" || tag.starts_with("tag:yaml.org,2002:")) return plain_scalar(node.Scalar());
    return node.Scalar();  // an application tag: keep the text
  }

  [[noreturn]] static void fail(const YAML::Node& node, const std::string& what) {
    YAML::Mark mark = node.Mark();
    if (mark.is_null()) throw ConvertError(what);
    throw ConvertError("line " + std::to_string(mark.line + 1) + ", column " +
                       std::to_string(mark.column + 1) + ": " + what);
  }

  const size_t max_nodes_;
  size_t nodes_ = 0;
};

// yaml-cpp 0.7 never gets past a token that cannot start a node at the top
// of a document ("," or "!!str ,"): LoadAll then adds empty documents, each
// starting at that token, until memory runs out. This pass over the same
// parse throws where a document starts no later than the one before it.
class DocumentProgress : public YAML::EventHandler {
 public:
  explicit DocumentProgress(const std::string& text) : text_(text) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (mark.pos <= last_start_) {
      size_t at = static_cast<size_t>(mark.pos);
      throw YAML::ParserException(
          mark, at < text_.size() ? "unexpected '" + text_.substr(at, 1) + "'" : "a document makes no progress");
    }
    last_start_ = mark.pos;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  const std::string& text_;
  int last_start_ = -1;
};

Result<std::vector<json>> parse_yaml(std::string_view text) {
  std::vector<json> documents;
  try {
    const std::string copy(text);
    std::istringstream in(copy);
    YAML::Parser parser(in);
    DocumentProgress progress(copy);
    while (parser.HandleNextDocument(progress)) {
    }
    YamlConverter converter(text.size());
    for (const YAML::Node& document : YAML::LoadAll(copy)) {
      documents.push_back(converter.convert(document, 0));
    }
  } catch (const YAML::DeepRecursion& error) {
    // yaml-cpp's own text for this one is "bad file".
    return Error{"line " + std::to_string(error.mark.line + 1) + ": nested too deep"};
  } catch (const YAML::Exception& error) {
    if (error.mark.is_null()) return Error{error.msg};
    return Error{"line " + std::to_string(error.mark.line + 1) + ", column " +
                 std::to_string(error.mark.column + 1) + ": " + error.msg};
  } catch (const std::exception& error) {
    return Error{error.what()};
  }
  return documents;
}

Result<std::vector<json>> parse_json(std::string_view text) {
  try {
    return std::vector<json>{json::parse(text)};
  } catch (const json::parse_error& error) {
    size_t end = std::min<size_t>(error.byte, text.size());
    size_t line = 1, column = 1;
    for (size_t i = 0; i + 1 < end; ++i) {
      column = text[i] == '\n' ? 1 : column + 1;
      if (text[i] == '\n') ++line;
    }
    std::string what = error.what();
    // nlohmann's text repeats the position; keep only the reason after it.
    if (auto colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
    return Error{"line " + std::to_string(line) + ", column " + std::to_string(column) + ": " +
                 what};
  } catch (const std::exception& error) {
    return Error{error.what()};
  }
}

// kind: List, and typed lists (IngressList) whose items may omit kind.
bool is_list(const json& document) {
  if (!document.is_object()) return false;
  auto kind = document.find("kind");
  auto items = document.find("items");
  return kind != document.end() && kind->is_string() &&
         kind->get_ref<const std::string&>().ends_with("List") && items != document.end() &&
         (items->is_array() || items->is_null());
}

void flatten(json document, std::vector<json>& out) {
  if (!is_list(document)) {
    out.push_back(std::move(document));
    return;
  }
  std::string list_kind = document["kind"].get<std::string>();
  std::string item_kind = list_kind == "List" ? "" : list_kind.substr(0, list_kind.size() - 4);
  json list_version = document.value("apiVersion", json());
  for (json& item : document["items"]) {
    if (item.is_object() && !item_kind.empty()) {
      if (!item.contains("kind")) item["kind"] = item_kind;
      if (!item.contains("apiVersion") && !list_version.is_null()) item["apiVersion"] = list_version;
    }
    out.push_back(std::move(item));
  }
}

}  // namespace

std::optional<ManifestFormat> manifest_format(const std::filesystem::path& file) {
  std::string extension = file.extension().string();
  if (extension == ".yaml" || extension == ".yml") return ManifestFormat::kYaml;
  if (extension == ".json") return ManifestFormat::kJson;
  return std::nullopt;
}

Result<std::vector<json>> parse_manifest(std::string_view text, ManifestFormat format) {
  auto documents = format == ManifestFormat::kYaml ? parse_yaml(text) : parse_json(text);
  if (!documents) return documents.error();
  std::vector<json> objects;
  for (json& document : *documents) {
    if (document.is_null()) continue;  // an empty document: "---" at the end
    flatten(std::move(document), objects);
  }
  return objects;
}

Result<std::vector<Object>> read_manifest_file(const std::filesystem::path& file) {
  auto format = manifest_format(file);
  if (!format) return Error{"not a .yaml, .yml or .json file"};
  std::error_code size_error;
  uintmax_t size = std::filesystem::file_size(file, size_error);
  if (size_error) return Error{"cannot read: " + size_error.message()};
  if (size > kMaxManifestFileBytes) {
    return Error{"larger than " + std::to_string(kMaxManifestFileBytes) + " bytes"};
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{std::string("cannot open: ") + std::strerror(errno)};
  // A file that grows meanwhile is cut here; its new signature brings a re-read.
  std::string text;
  text.resize(static_cast<size_t>(size));
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return Error{std::string("cannot read: ") + std::strerror(errno)};
  text.resize(static_cast<size_t>(in.gcount()));

  auto documents = parse_manifest(text, *format);
  if (!documents) return documents.error();
  std::vector<Object> objects;
  for (size_t i = 0; i < documents->size(); ++i) {
    const json& document = (*documents)[i];
    if (!document.is_object() || !document.contains("kind")) {
      spdlog::warn("manifests: {}: object {} has no kind; skipped", file.string(), i + 1);
      continue;
    }
    if (auto object = decode_object(document)) objects.push_back(std::move(*object));
  }
  return objects;
}

}  // namespace grpc_ingress
