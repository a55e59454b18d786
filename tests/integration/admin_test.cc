// The admin port (/readyz, /healthz, /debug/routes) and a graceful SIGTERM, as an
// operator and a kubelet see them.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <sys/ptrace.h>
#include <sys/wait.h>

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

TEST_CASE("the admin port listens on --admin-bind-address alone, and --admin-debug-access=off answers /debug with 403 naming the flag, probes and metrics still answer",
          "[admin]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  auto pods = start_pods(tmp.path(), "greeter", 1);
  manifests.write_service("greeter", endpoints_of(pods));
  manifests.write_ingress({.paths = {{.path = kGreeterPath, .service = "greeter"}}});
  auto ingress = Ingress::start(manifests.dir(), tmp.path(),
                                {.extra_args = {"--admin-debug-access", "off"}, .admin_address = "127.0.0.3"});

  CHECK(ingress->admin_get("/healthz").status == 200);
  CHECK(ingress->admin_get("/metrics").status == 200);
  HttpResponse refused = ingress->admin_get("/debug/routes");
  INFO(refused.body);
  CHECK(refused.status == 403);
  CHECK(refused.body.find("--admin-debug-access") != std::string::npos);
  CHECK(ingress->admin_get("/debug/workers").status == 403);
  // Traffic still binds --bind-address (127.0.0.1); the admin port does not.
  HttpResponse elsewhere = http_get("127.0.0.1", ingress->admin_port(), "/healthz", 500ms);
  INFO(elsewhere.error);
  CHECK(elsewhere.status == 0);
  auto stub = helloworld::Greeter::NewStub(make_channel(ingress->target()));
  CHECK(say_hello(*stub).ok());
}

// One thread of a process stopped with ptrace while the others run on: from
// outside, exactly a worker stuck in a blocking call. Resumed on destruction.
class StoppedThread {
 public:
  StoppedThread(pid_t pid, const std::string& name) {
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
      std::ifstream comm(task.path() / "comm");
      std::string text;
      if (std::getline(comm, text) && text == name) tid_ = std::stoi(task.path().filename().string());
    }
    if (tid_ == 0) throw std::runtime_error("no thread named " + name);
    if (::ptrace(PTRACE_SEIZE, tid_, nullptr, nullptr) != 0) {
      // A sandbox that forbids ptrace (seccomp, Yama scope 3) cannot run this check.
      if (errno == EPERM || errno == EACCES) {
        denied_ = std::strerror(errno);
        return;
      }
      throw std::runtime_error(std::string("ptrace: ") + std::strerror(errno));
    }
    if (::ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr) != 0) {
      throw std::runtime_error(std::string("ptrace: ") + std::strerror(errno));
    }
    int status = 0;
    if (::waitpid(tid_, &status, __WALL) != tid_ || !WIFSTOPPED(status)) throw std::runtime_error("thread did not stop");
  }
  ~StoppedThread() {
    if (denied_.empty()) ::ptrace(PTRACE_DETACH, tid_, nullptr, nullptr);
  }
  // Why this machine does not let us stop the thread; empty when it is stopped.
  const std::string& denied() const { return denied_; }
  StoppedThread(const StoppedThread&) = delete;
  StoppedThread& operator=(const StoppedThread&) = delete;

 private:
  pid_t tid_ = 0;
  std::string denied_;
};

TEST_CASE("/healthz answers 503 naming a worker whose event loop stopped turning, and 200 once it turns again",
          "[admin][healthz]") {
  OneService setup("echo", kEchoPath, 1, {.extra_args = {"--healthz-stall-timeout", "2s"}});
  Ingress& ingress = *setup.ingress;
  REQUIRE(ingress.admin_get("/healthz").status == 200);

  HttpResponse stalled;
  {
    StoppedThread stopped(ingress.process().pid(), "worker-1");
    if (!stopped.denied().empty()) {
      WARN("SKIPPED: this machine does not allow ptrace (" << stopped.denied() << "), so no worker can be stopped");
      return;
    }
    const auto since = Clock::now();
    CHECK(wait_until([&] { return (stalled = ingress.admin_get("/healthz", 500ms)).status == 503; }, 6s, 100ms));
    INFO(stalled.body);
    CHECK(stalled.body.find("worker-1: its event loop has not turned for") != std::string::npos);
    CHECK(stalled.body.find("worker-0") == std::string::npos);
    // Not before the bound: a worker gets the full --healthz-stall-timeout.
    CHECK(Clock::now() - since >= 2s);
    CHECK(ingress.admin_get("/readyz").status == 200);  // readiness is about routing, not liveness
  }
  CHECK(wait_until([&] { return ingress.admin_get("/healthz", 500ms).status == 200; }, 3s, 50ms));
  std::string log = ingress.process().stderr_text();
  CHECK(log.find("reason=WorkerStalled") != std::string::npos);
  CHECK(log.find("reason=WorkersTurning") != std::string::npos);
}

}  // namespace
}  // namespace grpc_ingress::testing
