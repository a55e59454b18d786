#pragma once

#include "common/result.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace grpc_ingress {

// Where the Kubernetes API server is and how to authenticate to it: from the
// pod's service account (in-cluster) or from a kubeconfig file. Certificates
// and keys are loaded here, so a bad path fails at start-up, naming the field.
struct KubeConfig {
  std::string server;      // "https://10.96.0.1:443", as configured
  std::string host;        // parsed from server: a DNS name or an IP (no brackets)
  uint16_t port = 443;
  std::string path_prefix;  // a server URL's path ("/k8s" behind a proxy), "" normally

  std::string ca_pem;  // trusted CAs for the server; empty: the system's roots
  std::string client_cert_pem;  // client certificate authentication, both or neither
  std::string client_key_pem;
  std::string token;                 // bearer token, if any
  std::filesystem::path token_file;  // re-read when it changes; wins over `token`
  bool insecure_skip_tls_verify = false;

  std::string namespace_name = "default";  // in-cluster: the pod's; kubeconfig: the context's
  std::string description;                 // for logs: "in-cluster service account", "kubeconfig F, context C"
};

// "https://host[:port][/path]"; the port defaults to 443, IPv6 hosts come in brackets.
// Plain http is refused: tokens must not travel in the clear.
Status parse_server_url(std::string_view url, KubeConfig& config);

// The pod's service account, as client-go's rest.InClusterConfig reads it:
// KUBERNETES_SERVICE_HOST/PORT, and token, ca.crt and namespace under
// /var/run/secrets/kubernetes.io/serviceaccount. POD_NAMESPACE, when set,
// names the namespace. GRPC_INGRESS_SERVICE_ACCOUNT_DIR replaces the
// directory (tests; a projected volume elsewhere).
using GetEnv = std::function<std::optional<std::string>(const char*)>;
std::optional<std::string> process_env(const char* name);  // a GetEnv reading this process's environment
Result<KubeConfig> in_cluster_config(const GetEnv& getenv);
Result<KubeConfig> in_cluster_config();  // from the process environment

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";
inline constexpr const char* kServiceAccountDirEnv = "GRPC_INGRESS_SERVICE_ACCOUNT_DIR";

// A kubeconfig file: its current-context's cluster (server,
// certificate-authority[-data], insecure-skip-tls-verify) and user (token,
// tokenFile, client-certificate[-data], client-key[-data]). Relative paths are
// relative to the file, as kubectl reads them. exec and auth-provider plugins
// and basic auth are refused with an error that says so.
Result<KubeConfig> load_kubeconfig(const std::filesystem::path& file);

}  // namespace grpc_ingress
