// The harness itself, without the proxy: if these fail, the integration tests
// that build on them prove nothing.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"

#include "grpc/health/v1/health.grpc.pb.h"

#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#ifndef GRPC_CALLER_BINARY
#error "GRPC_CALLER_BINARY must name the grpc-caller binary (set by CMake)"
#endif

namespace grpc_ingress::testing {
namespace {

TEST_CASE("harness: a test pod serves Greeter, Echo and health, naming itself in replies", "[harness]") {
  TempDir tmp;
  auto pod = Pod::start(tmp.path(), "greeter-0");
  CHECK(pod->ip().starts_with("127.0."));
  auto channel = make_channel(pod->address());

  auto greeter = helloworld::Greeter::NewStub(channel);
  CallResult hello = say_hello(*greeter);
  REQUIRE(hello.ok());
  CHECK(hello.pod == "greeter-0");

  auto echo = test::Echo::NewStub(channel);
  test::EchoRequest request;
  request.set_message("ping");
  CallResult echoed = echo_unary(*echo, request);
  REQUIRE(echoed.ok());
  CHECK(echoed.pod == "greeter-0");

  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 2s);
  grpc::health::v1::HealthCheckRequest health_request;
  grpc::health::v1::HealthCheckResponse health_response;
  REQUIRE(health->Check(&context, health_request, &health_response).ok());
  CHECK(health_response.status() == grpc::health::v1::HealthCheckResponse::SERVING);

  CHECK(pod->process().stop() == 0);  // SIGTERM: clean exit
}

TEST_CASE("harness: a test pod answers the status, message and trailers it is asked for", "[harness]") {
  TempDir tmp;
  auto pod = Pod::start(tmp.path(), "echo-0");
  auto echo = test::Echo::NewStub(make_channel(pod->address()));
  test::EchoRequest request;
  request.set_fail_code(grpc::StatusCode::NOT_FOUND);
  request.set_fail_message("no such user");
  (*request.mutable_trailers())["x-trailer"] = "value";
  CallResult result = echo_unary(*echo, request);
  CHECK(result.code == grpc::StatusCode::NOT_FOUND);
  CHECK(result.message == "no such user");
  auto trailer = result.trailers.find("x-trailer");
  REQUIRE(trailer != result.trailers.end());
  CHECK(trailer->second == "value");
}

TEST_CASE("harness: a killed pod is reaped and reported as killed", "[harness]") {
  TempDir tmp;
  auto pod = Pod::start(tmp.path(), "victim");
  pod->process().kill_hard();
  CHECK_FALSE(pod->process().running());
  CHECK(pod->process().exit_status() == -SIGKILL);
  CHECK(::kill(pod->process().pid(), 0) != 0);  // gone, not a zombie
}

TEST_CASE("harness: waiting for a line gives up as soon as the process exits", "[harness]") {
  TempDir tmp;
  auto process = Process::start({TEST_POD_BINARY, "--no-such-flag"}, tmp.path(), "bad-pod");
  auto start = Clock::now();
  CHECK_FALSE(process->wait_for_line("LISTENING ", 10s));
  CHECK(Clock::now() - start < 5s);
  CHECK(process->exit_status() == 2);
  CHECK(process->stderr_text().find("usage:") != std::string::npos);
}

TEST_CASE("harness: grpc-caller prints the per-pod spread and exits 0 only if every call succeeded", "[harness]") {
  TempDir tmp;
  auto pod = Pod::start(tmp.path(), "greeter-0");
  auto good = Process::start({GRPC_CALLER_BINARY, "--target", pod->address(), "--calls", "25"}, tmp.path(), "caller");
  REQUIRE(good->wait_exit(30s));
  CHECK(good->exit_status() == 0);
  std::string out = good->stdout_text();
  INFO(out);
  CHECK(out.find("greeter-0") != std::string::npos);
  CHECK(out.find("25 calls") != std::string::npos);
  CHECK(out.find("100.0%") != std::string::npos);
  CHECK(out.find("25 ok, 0 failed") != std::string::npos);

  // Nothing listens on a fresh port: every call fails, and the exit status says so.
  std::string nowhere = "127.0.0.1:" + std::to_string(free_port());
  auto bad = Process::start({GRPC_CALLER_BINARY, "--target", nowhere, "--calls", "3", "--deadline-ms", "300"},
                            tmp.path(), "caller-bad");
  REQUIRE(bad->wait_exit(30s));
  CHECK(bad->exit_status() == 1);
  CHECK(bad->stdout_text().find("FAILED") != std::string::npos);
}

// The back-pressure test reads the pod's write count; that only means
// something if a pod's writes stop when nobody reads.
TEST_CASE("harness: a pod's stream writes stall when its client stops reading", "[harness]") {
  TempDir tmp;
  auto pod = Pod::start(tmp.path(), "streamer");
  auto echo = test::Echo::NewStub(make_channel(pod->address()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 60s);
  test::EchoRequest request;
  request.set_count(100'000);
  request.set_payload_bytes(64 * 1024);
  request.set_tag("stall");
  auto reader = echo->ServerStream(&context, request);
  REQUIRE(wait_until([&] { return pod_stats(pod->address(), "stall").written() > 0; }, 5s));
  std::this_thread::sleep_for(2s);
  int64_t written = pod_stats(pod->address(), "stall").written();
  std::this_thread::sleep_for(500ms);
  int64_t later = pod_stats(pod->address(), "stall").written();
  INFO("written after 2 s: " << written << ", 0.5 s later: " << later);
  CHECK(later < 256);  // 16 MiB: flow-control windows and socket buffers, not the 6 GiB stream
  CHECK(later == written);
  context.TryCancel();
  CHECK(wait_until([&] { return pod_stats(pod->address(), "stall").finished(); }, 5s));
}

TEST_CASE("harness: manifests are Kubernetes YAML with one EndpointSlice per pod port", "[harness]") {
  std::vector<EndpointSpec> endpoints = {{.ip = "127.0.0.2", .port = 5000, .pod = "a"},
                                         {.ip = "127.0.0.3", .port = 5000, .pod = "b", .ready = false},
                                         {.ip = "127.0.0.4", .port = 6000, .pod = "c"}};
  auto slices = YAML::LoadAll(ManifestDir::endpoint_slices_yaml("greeter", endpoints));
  REQUIRE(slices.size() == 2);
  CHECK(slices[0]["kind"].as<std::string>() == "EndpointSlice");
  CHECK(slices[0]["metadata"]["labels"]["kubernetes.io/service-name"].as<std::string>() == "greeter");
  CHECK(slices[0]["ports"][0]["port"].as<int>() == 5000);
  CHECK(slices[0]["ports"][0]["name"].as<std::string>() == "grpc");
  REQUIRE(slices[0]["endpoints"].size() == 2);
  CHECK(slices[0]["endpoints"][1]["addresses"][0].as<std::string>() == "127.0.0.3");
  CHECK(slices[0]["endpoints"][1]["conditions"]["ready"].as<bool>() == false);
  CHECK(slices[0]["endpoints"][1]["targetRef"]["name"].as<std::string>() == "b");
  CHECK(slices[1]["ports"][0]["port"].as<int>() == 6000);

  auto empty = YAML::LoadAll(ManifestDir::endpoint_slices_yaml("greeter", {}));
  REQUIRE(empty.size() == 1);
  CHECK(empty[0]["endpoints"].size() == 0);

  auto service = YAML::Load(ManifestDir::service_yaml("greeter"));
  CHECK(service["kind"].as<std::string>() == "Service");
  CHECK(service["spec"]["ports"][0]["name"].as<std::string>() == "grpc");
  CHECK(service["spec"]["ports"][0]["port"].as<int>() == 80);

  IngressSpec spec{.name = "routes", .host = "api.example.com",
                   .paths = {{.path = "/helloworld.Greeter", .service = "greeter"},
                             {.path = "/grpc_ingress.test.Echo", .path_type = "Exact", .service = "echo"}},
                   .annotations = {{"grpc-ingress.io/load-balance", "round_robin"}}};
  auto ingress = YAML::Load(ManifestDir::ingress_yaml(spec));
  CHECK(ingress["spec"]["ingressClassName"].as<std::string>() == "grpc");
  CHECK(ingress["metadata"]["annotations"]["grpc-ingress.io/load-balance"].as<std::string>() == "round_robin");
  auto rule = ingress["spec"]["rules"][0];
  CHECK(rule["host"].as<std::string>() == "api.example.com");
  CHECK(rule["http"]["paths"][1]["pathType"].as<std::string>() == "Exact");
  CHECK(rule["http"]["paths"][1]["backend"]["service"]["name"].as<std::string>() == "echo");
  CHECK(rule["http"]["paths"][1]["backend"]["service"]["port"]["number"].as<int>() == 80);

  auto ingress_class = YAML::Load(ManifestDir::ingress_class_yaml());
  CHECK(ingress_class["spec"]["controller"].as<std::string>() == "grpc-ingress.io/controller");
}

TEST_CASE("harness: a reader of a rewritten manifest sees the old or the new file, never half of one", "[harness]") {
  TempDir tmp;
  ManifestDir manifests(tmp.path());
  const std::string small = ManifestDir::service_yaml("a");
  std::string big;
  for (int i = 0; i < 200; ++i) big += ManifestDir::service_yaml("b" + std::to_string(i)) + "---\n";
  manifests.write_file("svc.yaml", small);

  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done) {
      std::ifstream in(manifests.dir() / "svc.yaml", std::ios::binary);
      std::ostringstream content;
      content << in.rdbuf();
      if (content.str() != small && content.str() != big) ++torn;
      ++reads;
    }
  });
  for (int i = 0; i < 300; ++i) manifests.write_file("svc.yaml", i % 2 ? small : big);
  done = true;
  reader.join();
  CHECK(reads > 0);
  CHECK(torn == 0);
  // Only the files we wrote are in the watched directory: no temp files.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(manifests.dir())) {
    ++files;
    CHECK(entry.path().extension() == ".yaml");
  }
  CHECK(files == 2);  // ingressclass.yaml, svc.yaml
}

TEST_CASE("harness: http_get gives up on a server that never answers", "[harness]") {
  // A listening socket nobody accepts from: connect succeeds, no reply ever comes.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  auto start = Clock::now();
  HttpResponse response = http_get("127.0.0.1", ntohs(addr.sin_port), "/readyz", 300ms);
  CHECK(response.status == 0);
  CHECK_FALSE(response.error.empty());
  CHECK(Clock::now() - start < 2s);
  ::close(fd);
}

}  // namespace
}  // namespace grpc_ingress::testing
