#pragma once

#include <string>
#include <string_view>

namespace grpc_ingress {

// `text` with ASCII letters in lower case (header names, hosts, annotation
// values: never locale-dependent).
inline std::string lower_case(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace grpc_ingress
