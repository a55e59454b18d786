#include "tests/integration/scenario.h"

#include "tests/integration/grpc_client.h"

namespace grpc_ingress::testing {

OneService::OneService(const std::string& service, const std::string& path, int pod_count,
                       const IngressOptions& options)
    : manifests(tmp.path()) {
  pods = start_pods(tmp.path(), service, pod_count);
  manifests.write_service(service, endpoints_of(pods));
  manifests.write_ingress({.paths = {{.path = path, .service = service}}});
  ingress = Ingress::start(manifests.dir(), tmp.path(), options);
}

std::shared_ptr<grpc::Channel> OneService::channel() const { return make_channel(ingress->target()); }

}  // namespace grpc_ingress::testing
