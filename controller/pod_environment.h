#pragma once

#include "controller/kube_config.h"

#include <string>

namespace grpc_ingress {

// Who this replica is, as the downward API tells it through the variables
// ingress-nginx reads too: POD_NAME and POD_NAMESPACE (empty when unset).
struct PodEnvironment {
  std::string name;
  std::string namespace_name;
};

PodEnvironment read_pod_environment(const GetEnv& getenv);

// This replica's name in the Lease and in Events: POD_NAME, else the host's
// name plus a random suffix, so that two processes on one machine never share it.
std::string replica_identity(const PodEnvironment& pod);

// The Lease's namespace: --leader-election-namespace, else POD_NAMESPACE, else
// `config_namespace`: the service account's in cluster (where POD_NAMESPACE
// already wins), the context's with --kubeconfig.
std::string lease_namespace(const std::string& flag, const PodEnvironment& pod, const std::string& config_namespace);

}  // namespace grpc_ingress
