#pragma once

// The setup most integration tests share: one Service of test pods, routed by
// one Prefix path, behind a running grpc-ingress.

#include "tests/integration/harness.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

namespace grpc_ingress::testing {

inline constexpr const char* kGreeterPath = "/helloworld.Greeter";
inline constexpr const char* kEchoPath = "/grpc_ingress.test.Echo";

class OneService {
 public:
  // Pods <service>-0 .. <service>-<pod_count - 1>, all ready; Ingress "grpc"
  // routes `path` (Prefix, any host) to them. Throws if anything fails to start.
  OneService(const std::string& service, const std::string& path, int pod_count = 1,
             const IngressOptions& options = {});

  Pod& pod(size_t i = 0) { return *pods[i]; }
  // A new channel (one HTTP/2 connection) to the proxy.
  std::shared_ptr<grpc::Channel> channel() const;

  // Declared in destruction order, reversed: the proxy stops first, the directory goes last.
  TempDir tmp;
  ManifestDir manifests;
  std::vector<std::unique_ptr<Pod>> pods;
  std::unique_ptr<Ingress> ingress;
};

}  // namespace grpc_ingress::testing
