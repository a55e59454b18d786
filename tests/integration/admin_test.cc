// The admin port (/readyz, /healthz, /debug/routes) and a graceful SIGTERM, as an
// operator and a kubelet see them.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <set>
#include <thread>

namespace grpc_ingress::testing {
namespace {

// The route for `path` in host "*" of a /debug/routes document, or null.
nlohmann::json find_route(const nlohmann::json& routes, const std::string& path) {
  for (const auto& host : routes.value("hosts", nlohmann::json::array())) {
    if (host.value("host", "") != "*") continue;
    for (const auto& route : host.value("routes", nlohmann::json::array())) {
      if (route.value("path", "") == path) return route;
    }
  }
  return nullptr;
}

nlohmann::json find_cluster(const nlohmann::json& routes, const std::string& name) {
  for (const auto& cluster : routes.value("clusters", nlohmann::json::array())) {
    if (cluster.value("name", "") == name) return cluster;
  }
  return nullptr;
}

TEST_CASE("/readyz is 200 once the table serves, and /debug/routes shows the live routes as JSON", "[proxy][admin]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  auto pods = start_pods(tmp.path(), "greeter", 2);
  manifests.write_service("greeter", endpoints_of(pods));
  manifests.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}}});
  auto ingress = Ingress::start(manifests.dir(), tmp.path());  // waits for /readyz 200

  // Ready means routing: the first call after readiness succeeds.
  auto stub = helloworld::Greeter::NewStub(make_channel(ingress->target()));
  CallResult hello = say_hello(*stub);
  INFO(code_name(hello.code) << " '" << hello.message << "'");
  CHECK(hello.ok());
  CHECK(ingress->admin_get("/readyz").status == 200);
  CHECK(ingress->admin_get("/healthz").status == 200);

  HttpResponse response = ingress->admin_get("/debug/routes");
  INFO("/debug/routes: " << response.status << " " << response.error << "\n" << response.body);
  REQUIRE(response.status == 200);
  nlohmann::json routes = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  REQUIRE_FALSE(routes.is_discarded());
  nlohmann::json route = find_route(routes, "/helloworld.Greeter");
  REQUIRE_FALSE(route.is_null());
  CHECK(route.value("pathType", "") == "Prefix");
  CHECK(route.value("ingress", "") == "default/grpc");
  nlohmann::json cluster = find_cluster(routes, route.value("cluster", ""));
  REQUIRE_FALSE(cluster.is_null());
  CHECK(cluster.value("service", "") == "greeter");
  std::set<std::string> addresses;
  for (const auto& endpoint : cluster["endpoints"]) addresses.insert(endpoint.value("address", ""));
  CHECK(addresses == std::set<std::string>{pods[0]->address(), pods[1]->address()});

  // A new path shows up in the live table within a second of the file change.
  manifests.write_service("echo", endpoints_of(pods));
  manifests.write_ingress({.name = "echo", .paths = {{.path = kEchoPath, .service = "echo"}}});
  CHECK(ingress->wait_for_routes_containing("/grpc_ingress.test.Echo", 1s));
}

// DESIGN.md: SIGTERM turns /readyz 503, listeners keep serving for the drain
// period, in-flight streams finish, exit 0.
TEST_CASE("SIGTERM turns /readyz 503, lets an in-flight stream finish, and exits 0", "[proxy][admin][shutdown]") {
  OneService setup("echo", kEchoPath, 1, {.extra_args = {"--shutdown-drain", "1s", "--shutdown-grace", "10s"}});
  Ingress& ingress = *setup.ingress;
  auto stub = test::Echo::NewStub(setup.channel());

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  test::EchoRequest request;
  request.set_count(30);
  request.set_interval_ms(100);  // 3 s: outlives the drain period
  auto reader = stub->ServerStream(&context, request);
  test::EchoReply reply;
  REQUIRE(reader->Read(&reply));

  const auto signalled = Clock::now();
  ingress.process().signal(SIGTERM);
  CHECK(wait_until([&] { return ingress.admin_get("/readyz", 200ms).status == 503; }, 500ms));

  int received = 1;
  while (reader->Read(&reply)) ++received;
  grpc::Status status = reader->Finish();
  INFO(code_name(status.error_code()) << " '" << status.error_message() << "', " << received << " messages");
  CHECK(status.ok());
  CHECK(received == 30);

  REQUIRE(ingress.process().wait_exit(10s));
  INFO("exited " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - signalled).count()
                 << " ms after SIGTERM");
  CHECK(ingress.process().exit_status() == 0);
}

}  // namespace
}  // namespace grpc_ingress::testing
