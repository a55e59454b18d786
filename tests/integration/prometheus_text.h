#pragma once

// Reading a /metrics scrape as Prometheus does: the text format parsed into
// samples, sums over label filters, and promtool's verdict.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace grpc_ingress::testing {

inline constexpr const char* kPromtool = "/usr/bin/promtool";  // Debian package prometheus

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
  std::string text;  // the value as written
};

// Parses "name{a="x",b="y"} value [timestamp]" lines; comments skipped.
// Throws on a line it cannot read (promtool reports the details).
std::vector<Sample> parse_exposition(const std::string& text);

using LabelFilter = std::map<std::string, std::string>;

// An absent label reads as "", as in Prometheus.
bool matches(const Sample& sample, const std::string& name, const LabelFilter& filter);
// Sum of the samples of `name` whose labels include `filter`; nullopt if none.
std::optional<double> sum_of(const std::vector<Sample>& samples, const std::string& name,
                             const LabelFilter& filter = {});
size_t count_of(const std::vector<Sample>& samples, const std::string& name, const LabelFilter& filter = {});
const Sample* find_sample(const std::vector<Sample>& samples, const std::string& name);

// The step between neighbouring values at the precision a number is written
// with: "1795461795.25" -> 0.01, "1.7954618e+09" -> 100, "1795461795" -> 1.
double written_resolution(const std::string& text);

struct PromtoolResult {
  int exit_code = -1;
  std::string output;
};
// `promtool check metrics < exposition`, run in `dir`.
PromtoolResult promtool_check(const std::filesystem::path& dir, const std::string& exposition);

}  // namespace grpc_ingress::testing
