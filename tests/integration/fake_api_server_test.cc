// The FakeApiServer wrapper against the real fake (tests/fakes/fake_apiserver.py): if
// these fail, the tests that drive grpc-ingress's Kubernetes client through it prove
// nothing.

#include "tests/integration/fake_api_server.h"
#include "tests/integration/harness.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

namespace grpc_ingress::testing {
namespace {

constexpr const char* kCurl = "/usr/bin/curl";
constexpr const char* kServices = "/api/v1/namespaces/default/services";

nlohmann::json service(const std::string& name, const std::string& namespace_name = "default") {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", name}, {"namespace", namespace_name}}},
          {"spec", {{"ports", {{{"name", "grpc"}, {"port", 80}}}}}}};
}

nlohmann::json ingress(const std::string& name, const std::string& namespace_name) {
  nlohmann::json path = {{"path", "/helloworld.Greeter"},
                         {"pathType", "Prefix"},
                         {"backend", {{"service", {{"name", "greeter"}, {"port", {{"number", 80}}}}}}}};
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "Ingress"},
          {"metadata", {{"name", name}, {"namespace", namespace_name}}},
          {"spec", {{"ingressClassName", "grpc"}, {"rules", {{{"http", {{"paths", {path}}}}}}}}}};
}

long resource_version(const nlohmann::json& object) {
  return std::stol(object.at("metadata").at("resourceVersion").get<std::string>());
}

// `curl -N` on a watch URL: each event is one line of its stdout; it exits when the
// stream ends (0 for a clean end, non-zero for a reset).
std::unique_ptr<Process> start_watcher(FakeApiServer& fake, const std::string& target,
                                       const std::filesystem::path& log_dir, const std::string& name) {
  return Process::start({kCurl, "-sS", "-N", "--max-time", "60", "--cacert", fake.ca_file().string(), "-H",
                         "Authorization: Bearer " + fake.token(), fake.url() + target},
                        log_dir, name);
}

// The HTTP status curl gets for GET `target` with `token`.
std::string status_with_token(FakeApiServer& fake, const std::string& target, const std::string& token,
                              const std::filesystem::path& log_dir) {
  auto curl = Process::start({kCurl, "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                              fake.ca_file().string(), "-H", "Authorization: Bearer " + token, fake.url() + target},
                             log_dir, "curl-status");
  REQUIRE(curl->wait_exit(15s));
  return curl->stdout_text();
}

int open_watches(FakeApiServer& fake, const std::string& path) { return fake.watches().value(path, 0); }

TEST_CASE("fake API server: apply creates or replaces objects, and get, list and remove see them", "[fakeapi]") {
  TempDir tmp;
  auto fake = FakeApiServer::start(tmp.path());
  CHECK(fake->url() == "https://127.0.0.1:" + std::to_string(fake->port()));
  CHECK(std::filesystem::exists(fake->kubeconfig()));
  CHECK_FALSE(fake->token().empty());

  nlohmann::json created = fake->apply(service("greeter"));
  CHECK(created.at("metadata").at("uid").get<std::string>().size() > 0);
  CHECK(created.at("spec").at("clusterIP").get<std::string>().starts_with("10.96."));
  nlohmann::json labelled = service("greeter");
  labelled["metadata"]["labels"] = {{"app", "greeter"}};
  nlohmann::json replaced = fake->apply(labelled);
  CHECK(replaced.at("metadata").at("uid") == created.at("metadata").at("uid"));
  CHECK(resource_version(replaced) > resource_version(created));
  CHECK(fake->get(std::string(kServices) + "/greeter")->at("metadata").at("labels").at("app") == "greeter");

  // A namespace that does not exist yet is created on the way.
  nlohmann::json web = fake->apply(ingress("web", "team-a"));
  CHECK(web.at("metadata").at("generation") == 1);
  CHECK(fake->get("/api/v1/namespaces/team-a").has_value());
  nlohmann::json ingresses = fake->list("/apis/networking.k8s.io/v1/ingresses");
  REQUIRE(ingresses.at("items").size() == 1);
  CHECK(ingresses.at("items")[0].at("metadata").at("name") == "web");
  CHECK(std::stol(ingresses.at("metadata").at("resourceVersion").get<std::string>()) >= resource_version(web));

  // Status goes through the status subresource; a stale resourceVersion there is a 409.
  nlohmann::json with_status = ingress("web", "team-a");
  with_status["status"] = {{"loadBalancer", {{"ingress", {{{"ip", "10.0.0.7"}}}}}}};
  nlohmann::json published = fake->apply(with_status);
  CHECK(published.at("status").at("loadBalancer").at("ingress")[0].at("ip") == "10.0.0.7");
  CHECK_THROWS_WITH(fake->update_status(web), Catch::Contains("409"));

  fake->remove_object(web);
  CHECK_FALSE(fake->get(FakeApiServer::path_of(web)).has_value());
  fake->remove(FakeApiServer::path_of(web));  // already gone: fine
  CHECK(fake->request("GET", kServices, "", "application/json", /*authenticated=*/false).status == 401);
  CHECK_THROWS_AS(FakeApiServer::path_of({{"apiVersion", "v1"}, {"kind", "Pod"}}), std::invalid_argument);
  CHECK(fake->process().stop() == 0);
}

TEST_CASE("fake API server: watches are counted, dropped and expired, and the fault endpoints change the answers",
          "[fakeapi]") {
  TempDir tmp;
  auto fake = FakeApiServer::start(tmp.path());
  std::string watch_target = std::string(kServices) + "?watch=1";

  auto watcher = start_watcher(*fake, watch_target, tmp.path(), "watch-1");
  REQUIRE(wait_until([&] { return open_watches(*fake, kServices) == 1; }, 10s));
  nlohmann::json added = fake->apply(service("w"));
  CHECK(watcher->wait_for_line("{\"type\": \"ADDED\"", 5s).has_value());
  fake->drop_watches();
  REQUIRE(watcher->wait_exit(5s));
  CHECK(watcher->exit_status() != 0);  // a reset, not a clean end
  CHECK(wait_until([&] { return open_watches(*fake, kServices) == 0; }, 5s));

  // A watch from an old resourceVersion, then compaction: ERROR 410 and a clean end.
  auto from_rv = start_watcher(*fake, watch_target + "&resourceVersion=" + std::to_string(resource_version(added)),
                               tmp.path(), "watch-2");
  REQUIRE(wait_until([&] { return open_watches(*fake, kServices) == 1; }, 10s));
  fake->compact();
  auto error = from_rv->wait_for_line("{\"type\": \"ERROR\"", 5s);
  REQUIRE(error.has_value());
  CHECK_THAT(*error, Catch::Contains("\"code\": 410"));
  REQUIRE(from_rv->wait_exit(5s));
  CHECK(from_rv->exit_status() == 0);

  fake->fail_requests(503, 60s);
  CHECK(fake->request("GET", kServices).status == 503);
  CHECK_THROWS_WITH(fake->list(kServices), Catch::Contains("503"));
  fake->fail_requests(503, 0s);  // ends the failure now
  CHECK(fake->request("GET", kServices).status == 200);

  fake->stall(1s);
  auto started = Clock::now();
  CHECK(fake->list(kServices).at("items").size() == 1);
  CHECK(Clock::now() - started > 700ms);

  std::string old_token = fake->token();
  std::string new_token = fake->rotate_token();
  CHECK(new_token != old_token);
  CHECK(fake->token() == new_token);
  CHECK(status_with_token(*fake, kServices, old_token, tmp.path()) == "401");
  CHECK(fake->get(std::string(kServices) + "/w").has_value());  // the wrapper reads the new token

  fake->reset_log();
  fake->list(kServices);
  nlohmann::json log = fake->requests();
  REQUIRE(log.size() == 1);
  CHECK(log[0].at("path") == kServices);
  CHECK(log[0].at("status") == 200);
  CHECK(log[0].at("user_agent").get<std::string>().starts_with("grpc-ingress-tests"));
  CHECK(fake->state().at("failing") == false);
}

TEST_CASE("fake API server: without the Gateway API CRDs its group is 404 until install_gateway_api, then its "
          "objects and their status go through apply and update_status",
          "[fakeapi]") {
  TempDir tmp;
  auto fake = FakeApiServer::start(tmp.path(), {.gateway_api = false});
  const std::string group = "/apis/gateway.networking.k8s.io";
  nlohmann::json route = {{"apiVersion", "gateway.networking.k8s.io/v1"},
                          {"kind", "GRPCRoute"},
                          {"metadata", {{"name", "greeter"}, {"namespace", "apps"}}},
                          {"spec",
                           {{"parentRefs", {{{"name", "gateway"}}}},
                            {"rules", {{{"backendRefs", {{{"name", "greeter"}, {"port", 50051}}}}}}}}}};
  CHECK(fake->request("GET", group).status == 404);
  CHECK(fake->request("GET", group + "/v1/grpcroutes").json().at("reason") == "NotFound");
  CHECK_THROWS_WITH(fake->apply(route), Catch::Contains("404"));

  fake->install_gateway_api();
  CHECK(fake->list("/apis").dump().find("gateway.networking.k8s.io") != std::string::npos);
  nlohmann::json created = fake->apply(route);
  CHECK(created.at("metadata").at("generation") == 1);
  CHECK(created.at("spec").at("rules")[0].at("backendRefs")[0].at("weight") == 1);  // the schema's default
  nlohmann::json with_status = created;
  with_status["status"] = {{"parents",
                            {{{"parentRef", {{"name", "gateway"}}},
                              {"controllerName", "grpc-ingress.io/gateway-controller"},
                              {"conditions",
                               {{{"type", "Accepted"},
                                 {"status", "True"},
                                 {"reason", "Accepted"},
                                 {"message", ""},
                                 {"observedGeneration", 1},
                                 {"lastTransitionTime", "2024-01-01T00:00:00Z"}}}}}}}};
  fake->update_status(with_status);
  std::optional<nlohmann::json> stored = fake->get_object(route);
  REQUIRE(stored.has_value());
  CHECK(stored->at("status").at("parents")[0].at("conditions")[0].at("status") == "True");
  CHECK(stored->at("metadata").at("generation") == 1);  // a status write is not a spec change
  fake->install_gateway_api();  // applying again changes nothing
  CHECK(fake->get_object(route).has_value());

  fake->uninstall_gateway_api();
  CHECK(fake->request("GET", FakeApiServer::path_of(route)).status == 404);
  CHECK(fake->request("GET", group).status == 404);
  CHECK(fake->process().stop() == 0);
}

}  // namespace
}  // namespace grpc_ingress::testing
