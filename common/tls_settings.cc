#include "common/tls_settings.h"

namespace grpc_ingress {

const TlsCertificate* TlsSettings::find(std::string_view server_name) const {
  std::string name(server_name);
  if (!name.empty() && name.back() == '.') name.pop_back();
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (auto it = certificates.find(name); it != certificates.end()) return &it->second;
  size_t dot = name.find('.');
  if (dot == std::string::npos || dot == 0) return nullptr;
  if (auto it = certificates.find("*" + name.substr(dot)); it != certificates.end()) return &it->second;
  return nullptr;
}

}  // namespace grpc_ingress
