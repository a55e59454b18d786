#pragma once

#include "common/result.h"
#include "controller/translate/k8s_objects.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

namespace grpc_ingress {

// Manifest files as kubectl reads them: YAML (several documents split by
// "---") or JSON, holding objects or kind: List of objects.

// Bounds on what one file may cost: a larger file, or YAML whose aliases
// expand it (a "billion laughs"), is an error rather than a stall. Without
// aliases every node takes at least a byte of text, so the node bound is the
// text's size plus this slack.
inline constexpr size_t kMaxManifestFileBytes = 8 << 20;
inline constexpr size_t kManifestNodeSlack = 64;
inline constexpr int kMaxManifestDepth = 128;

enum class ManifestFormat { kYaml, kJson };

// By extension: .yaml and .yml are YAML, .json is JSON, anything else nullopt.
std::optional<ManifestFormat> manifest_format(const std::filesystem::path& file);

// The objects in a manifest's text, lists flattened into their items. A YAML
// plain scalar becomes a number, boolean or null where YAML 1.2 says so; a
// quoted one stays a string. The error names the line: "line 3, column 5: ...".
Result<std::vector<nlohmann::json>> parse_manifest(std::string_view text, ManifestFormat format);

// Reads, parses and decodes one file. Documents that are not objects, and
// objects of kinds we do not use, are skipped (with a log line).
Result<std::vector<Object>> read_manifest_file(const std::filesystem::path& file);

}  // namespace grpc_ingress
