#include "controller/pod_environment.h"

#include <cstdio>
#include <cstring>
#include <random>

#include <unistd.h>

namespace grpc_ingress {

PodEnvironment read_pod_environment(const GetEnv& getenv) {
  auto value = [&](const char* name) { return getenv(name).value_or(""); };
  return {value("POD_NAME"), value("POD_NAMESPACE")};
}

std::string replica_identity(const PodEnvironment& pod) {
  if (!pod.name.empty()) return pod.name;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || !*host) std::strcpy(host, "grpc-ingress");
  std::random_device random;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "_%08x", random());
  return std::string(host) + suffix;
}

std::string lease_namespace(const std::string& flag, const PodEnvironment& pod, const std::string& config_namespace) {
  if (!flag.empty()) return flag;
  if (!pod.namespace_name.empty()) return pod.namespace_name;
  return config_namespace;
}

}  // namespace grpc_ingress
