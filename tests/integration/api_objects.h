#pragma once

// The objects ManifestDir writes as files, written through the fake API
// server instead, so API-mode tests read like the manifests-mode ones.

#include "tests/integration/fake_api_server.h"
#include "tests/integration/harness.h"
#include "tests/integration/manifest_dir.h"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace grpc_ingress::testing {

// Every document of a YAML text as JSON (plain scalars typed as YAML 1.2 core
// reads them: integers, true/false, null; quoted scalars stay strings).
std::vector<nlohmann::json> yaml_documents(const std::string& yaml);

class ApiObjects {
 public:
  // Applies the IngressClass "grpc" (controller grpc-ingress.io/controller).
  explicit ApiObjects(FakeApiServer& api);

  void apply_yaml(const std::string& yaml);
  // Service <name> and its EndpointSlices, as ManifestDir::write_service.
  void write_service(const std::string& name, const std::vector<EndpointSpec>& endpoints);
  // The Service's EndpointSlices become exactly these: new ones are applied
  // first, then slices that are no longer needed are deleted (as the
  // EndpointSlice controller does).
  void write_endpoints(const std::string& service, const std::vector<EndpointSpec>& endpoints);
  void write_ingress(const IngressSpec& ingress);
  void remove_ingress(const std::string& name);

 private:
  FakeApiServer& api_;
  std::map<std::string, std::set<std::string>> slices_;  // by service: slice API paths applied
};

// A fake API server for one test, in the test's TempDir, holding the
// IngressClass "grpc"; the test writes its objects through `objects`.
struct FakeCluster {
  FakeCluster() : api(FakeApiServer::start(tmp.path() / "api")), objects(*api) {}

  // Declared in destruction order, reversed: the server stops before its directory goes.
  TempDir tmp;
  std::unique_ptr<FakeApiServer> api;
  ApiObjects objects;
};

// grpc-ingress in Kubernetes API mode (--kubeconfig of the fake), waiting for /readyz.
std::unique_ptr<Ingress> start_api_mode(const FakeApiServer& api, const std::filesystem::path& log_dir,
                                        IngressOptions options = {});

// The value of the /metrics sample `series` (name and labels exactly as
// exposed), or -1 when there is no such sample.
double metric_value(const Ingress& ingress, const std::string& series);

// The pod addresses of every cluster in GET /debug/routes, sorted.
std::vector<std::string> routed_endpoints(const Ingress& ingress);

}  // namespace grpc_ingress::testing
