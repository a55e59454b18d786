#include "common/tls_settings.h"

namespace grpc_ingress {
namespace {

// The entry for an SNI name in a map by host: exact, then the one-label wildcard.
template <typename T>
const T* find_by_server_name(const std::map<std::string, T>& by_host, std::string_view server_name) {
  if (by_host.empty()) return nullptr;
  std::string name(server_name);
  if (!name.empty() && name.back() == '.') name.pop_back();
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (auto it = by_host.find(name); it != by_host.end()) return &it->second;
  size_t dot = name.find('.');
  if (dot == std::string::npos || dot == 0) return nullptr;
  if (auto it = by_host.find("*" + name.substr(dot)); it != by_host.end()) return &it->second;
  return nullptr;
}

}  // namespace

const TlsCertificate* TlsSettings::find(std::string_view server_name) const {
  return find_by_server_name(certificates, server_name);
}

const ClientAuthority* TlsSettings::find_client_authority(std::string_view server_name) const {
  return find_by_server_name(client_authorities, server_name);
}

}  // namespace grpc_ingress
