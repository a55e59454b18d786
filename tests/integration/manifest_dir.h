#pragma once

// A --manifests directory of Kubernetes YAML written by the tests.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace grpc_ingress::testing {

// One pod address in an EndpointSlice.
struct EndpointSpec {
  std::string ip{};
  uint16_t port = 0;
  std::string pod{};
  bool ready = true;
  bool serving = true;
  bool terminating = false;
};

struct IngressPath {
  std::string path{};
  std::string path_type = "Prefix";  // Exact | Prefix | ImplementationSpecific
  std::string service{};
  uint16_t service_port = 80;
};

struct IngressSpec {
  std::string name = "grpc";
  std::string host{};  // "" = every host
  std::vector<IngressPath> paths{};
  std::string ingress_class = "grpc";
  std::map<std::string, std::string> annotations{};
  std::string tls_secret{};  // non-empty: spec.tls lists `host` with this Secret
};

// A --manifests directory of Kubernetes YAML. Every write goes to a staging
// file that is then renamed into place, so the proxy's file watcher never reads
// half a file. All objects live in namespace "default".
class ManifestDir {
 public:
  static constexpr const char* kNamespace = "default";
  static constexpr const char* kPortName = "grpc";

  // Creates <root>/manifests (the watched dir) and <root>/staging, and writes
  // the IngressClass "grpc" (controller grpc-ingress.io/controller).
  explicit ManifestDir(const std::filesystem::path& root);

  const std::filesystem::path& dir() const { return dir_; }

  // The port's appProtocol unless a test asks for another (nullopt: none).
  static constexpr const char* kDefaultAppProtocol = "kubernetes.io/h2c";

  // service-<name>.yaml: Service <name>, port 80 named "grpc", with
  // `app_protocol` on the Service port and its EndpointSlice ports.
  // endpoints-<name>.yaml: its EndpointSlices, one per distinct pod port.
  void write_service(const std::string& name, const std::vector<EndpointSpec>& endpoints,
                     const std::optional<std::string>& app_protocol = kDefaultAppProtocol);
  // Keeps the appProtocol the Service was last written with.
  void write_endpoints(const std::string& service, const std::vector<EndpointSpec>& endpoints);
  // ingress-<name>.yaml
  void write_ingress(const IngressSpec& ingress);
  // secret-<name>.yaml: a kubernetes.io/tls Secret with these PEMs.
  void write_tls_secret(const std::string& name, const std::string& cert_pem, const std::string& key_pem);
  // secret-<name>.yaml: a Secret of `type` with these keys (e.g. {"ca.crt", pem}).
  void write_secret(const std::string& name, const std::map<std::string, std::string>& data,
                    const std::string& type = "Opaque");
  // Writes <dir>/<file> atomically (staging file + rename).
  void write_file(const std::string& file, const std::string& content);
  void remove_file(const std::string& file);

  static std::string ingress_class_yaml();
  static std::string service_yaml(const std::string& name,
                                  const std::optional<std::string>& app_protocol = kDefaultAppProtocol);
  static std::string endpoint_slices_yaml(const std::string& service, const std::vector<EndpointSpec>& endpoints,
                                          const std::optional<std::string>& app_protocol = kDefaultAppProtocol);
  static std::string ingress_yaml(const IngressSpec& ingress);
  static std::string tls_secret_yaml(const std::string& name, const std::string& cert_pem, const std::string& key_pem);
  static std::string secret_yaml(const std::string& name, const std::map<std::string, std::string>& data,
                                 const std::string& type = "Opaque");

 private:
  std::filesystem::path dir_;
  std::filesystem::path staging_;
  uint64_t writes_ = 0;
  std::map<std::string, std::optional<std::string>> app_protocols_;  // by Service name
};

}  // namespace grpc_ingress::testing
