// The replica's identity and the Lease's namespace from the downward API
// variables ingress-nginx reads (POD_NAME, POD_NAMESPACE), with the flags winning.

#include "controller/pod_environment.h"

#include <catch2/catch.hpp>

#include <map>

using namespace grpc_ingress;

namespace {

GetEnv env_of(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const char* name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

TEST_CASE("POD_NAME names the replica in the Lease, and without it the host name plus a random suffix", "[pod-env]") {
  PodEnvironment pod = read_pod_environment(env_of({{"POD_NAME", "grpc-ingress-7d9f-abcde"}, {"POD_NAMESPACE", "edge"}}));
  CHECK(pod.name == "grpc-ingress-7d9f-abcde");
  CHECK(pod.namespace_name == "edge");
  CHECK(replica_identity(pod) == "grpc-ingress-7d9f-abcde");

  PodEnvironment bare = read_pod_environment(env_of({}));
  CHECK(bare.name.empty());
  std::string first = replica_identity(bare), second = replica_identity(bare);
  CHECK(first != second);  // two processes on one machine never share a name
  CHECK(first.find('_') != std::string::npos);
}

TEST_CASE("the Lease's namespace: --leader-election-namespace, else POD_NAMESPACE, else the service account's", "[pod-env]") {
  PodEnvironment pod{.name = "p", .namespace_name = "edge"};
  CHECK(lease_namespace("ops", pod, "from-token") == "ops");
  CHECK(lease_namespace("", pod, "from-token") == "edge");
  CHECK(lease_namespace("", PodEnvironment{}, "from-token") == "from-token");
}
