#include "tests/integration/prometheus_text.h"

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace grpc_ingress::testing {

std::vector<Sample> parse_exposition(const std::string& text) {
  std::vector<Sample> samples;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    Sample sample;
    size_t i = line.find_first_of("{ ");
    if (i == std::string::npos) throw std::runtime_error("no value: " + line);
    sample.name = line.substr(0, i);
    if (line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          throw std::runtime_error("bad label: " + line);
        }
        std::string key = line.substr(i, eq - i);
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) throw std::runtime_error("unterminated label value: " + line);
        sample.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) throw std::runtime_error("unterminated labels: " + line);
      ++i;  // '}'
    }
    std::istringstream rest(line.substr(i));
    std::string value;
    rest >> value;
    sample.value = std::strtod(value.c_str(), nullptr);  // also "+Inf", "NaN"
    sample.text = value;
    samples.push_back(std::move(sample));
  }
  return samples;
}

bool matches(const Sample& sample, const std::string& name, const LabelFilter& filter) {
  if (sample.name != name) return false;
  for (const auto& [key, value] : filter) {
    auto it = sample.labels.find(key);
    // An absent label reads as "", as in Prometheus.
    if ((it == sample.labels.end() ? std::string() : it->second) != value) return false;
  }
  return true;
}

std::optional<double> sum_of(const std::vector<Sample>& samples, const std::string& name,
                             const LabelFilter& filter) {
  std::optional<double> sum;
  for (const Sample& sample : samples) {
    if (matches(sample, name, filter)) sum = sum.value_or(0) + sample.value;
  }
  return sum;
}

size_t count_of(const std::vector<Sample>& samples, const std::string& name, const LabelFilter& filter) {
  size_t n = 0;
  for (const Sample& sample : samples) n += matches(sample, name, filter) ? 1 : 0;
  return n;
}

const Sample* find_sample(const std::vector<Sample>& samples, const std::string& name) {
  for (const Sample& sample : samples) {
    if (sample.name == name) return &sample;
  }
  return nullptr;
}

double written_resolution(const std::string& text) {
  auto e = text.find_first_of("eE");
  std::string mantissa = text.substr(0, e);
  int exponent = e == std::string::npos ? 0 : std::stoi(text.substr(e + 1));
  auto dot = mantissa.find('.');
  int decimals = dot == std::string::npos ? 0 : static_cast<int>(mantissa.size() - dot - 1);
  return std::pow(10.0, exponent - decimals);
}

PromtoolResult promtool_check(const std::filesystem::path& dir, const std::string& exposition) {
  auto input = dir / "scrape.prom";
  auto output = dir / "promtool.out";
  {
    std::ofstream out(input, std::ios::binary);
    out << exposition;
  }
  std::string command = std::string(kPromtool) + " check metrics < '" + input.string() + "' > '" +
                        output.string() + "' 2>&1";
  int status = std::system(command.c_str());
  PromtoolResult result;
  result.exit_code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(output);
  std::ostringstream text;
  text << in.rdbuf();
  result.output = text.str();
  return result;
}

}  // namespace grpc_ingress::testing
