// The resilience annotations as a user meets them: canary Ingresses
// (ingress-nginx's), consistent hashing on a header, the HTTP health bridge,
// message size, deadline and stream limits, and retries. Real gRPC pods and
// clients; every wait bounded.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace grpc_ingress::testing {
namespace {

constexpr const char* kCurl = "/usr/bin/curl";
constexpr const char* kCanaryHost = "echo.example.com";

std::chrono::system_clock::time_point in(std::chrono::milliseconds d) { return std::chrono::system_clock::now() + d; }

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

std::string pod_name(int i) { return "echo-" + std::to_string(i); }

// Pods echo-0, echo-1, ... of Service "echo" (pod i started with pod_args[i]),
// routed on kEchoPath (any host) by Ingress "grpc" carrying `annotations`.
class AnnotatedService {
 public:
  AnnotatedService(const std::map<std::string, std::string>& annotations, int pod_count,
                   const std::vector<std::vector<std::string>>& pod_args = {})
      : manifests(tmp.path()) {
    for (int i = 0; i < pod_count; ++i) {
      auto args = static_cast<size_t>(i) < pod_args.size() ? pod_args[i] : std::vector<std::string>{};
      pods.push_back(Pod::start(tmp.path(), pod_name(i), next_pod_ip(), args));
    }
    manifests.write_service("echo", endpoints_of(pods));
    manifests.write_ingress({.paths = {{.path = kEchoPath, .service = "echo"}}, .annotations = annotations});
    ingress = Ingress::start(manifests.dir(), tmp.path());
  }

  Pod& pod(size_t i) { return *pods[i]; }
  std::shared_ptr<grpc::Channel> channel() const { return make_channel(ingress->target()); }

  // Calls the pods have started, summed (asked of each pod directly).
  int64_t pod_calls() {
    int64_t calls = 0;
    for (const auto& pod : pods) calls += pod_stats(pod->address(), "").calls();
    return calls;
  }

  // Declared in destruction order, reversed: the proxy stops first, the directory goes last.
  TempDir tmp;
  ManifestDir manifests;
  std::vector<std::unique_ptr<Pod>> pods;
  std::unique_ptr<Ingress> ingress;
};

// One Echo/Unary call carrying request `headers`: the pod that answered, or
// "error: <code> <message>".
std::string pod_for(test::Echo::Stub& stub, const std::map<std::string, std::string>& headers) {
  grpc::ClientContext context;
  context.set_deadline(in(5s));
  for (const auto& [name, value] : headers) context.AddMetadata(name, value);
  test::EchoReply reply;
  grpc::Status status = stub.Unary(&context, test::EchoRequest(), &reply);
  return status.ok() ? reply.pod() : "error: " + code_name(status.error_code()) + " " + status.error_message();
}

// `count` Echo/Unary calls of `request` started together over one channel.
std::vector<CallResult> concurrent_calls(const std::shared_ptr<grpc::Channel>& channel, int count,
                                         const test::EchoRequest& request) {
  std::vector<CallResult> results(count);
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      auto stub = test::Echo::NewStub(channel);
      results[i] = echo_unary(*stub, request, 10s);
    });
  }
  for (auto& thread : threads) thread.join();
  return results;
}

// The sum of the samples of metric `name` in /metrics whose labels contain
// `labels` (e.g. `side="upstream"`; "" = every sample).
double metric_sum(const Ingress& ingress, const std::string& name, const std::string& labels = "") {
  HttpResponse metrics = ingress.admin_get("/metrics");
  if (metrics.status != 200) throw std::runtime_error("GET /metrics: " + std::to_string(metrics.status) + metrics.error);
  double sum = 0;
  std::istringstream lines(metrics.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with(name) || line.size() <= name.size() || (line[name.size()] != '{' && line[name.size()] != ' ')) {
      continue;
    }
    if (!labels.empty() && line.find(labels) == std::string::npos) continue;
    sum += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return sum;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// ---- canary ----

// Services "stable" and "canary", one pod each. Ingress "main" routes
// kCanaryHost + kEchoPath to stable; Ingress "main-canary" (with
// `canary_annotations`) routes the same host and path to canary.
class CanaryScene {
 public:
  CanaryScene(const std::map<std::string, std::string>& canary_annotations, bool with_main = true)
      : manifests(tmp.path()) {
    stable = Pod::start(tmp.path(), "stable-0");
    canary = Pod::start(tmp.path(), "canary-0");
    manifests.write_service("stable", {stable->endpoint()});
    manifests.write_service("canary", {canary->endpoint()});
    if (with_main) write_main();
    manifests.write_ingress({.name = "main-canary",
                             .host = kCanaryHost,
                             .paths = {{.path = kEchoPath, .service = "canary"}},
                             .annotations = canary_annotations});
    ingress = Ingress::start(manifests.dir(), tmp.path());
  }

  void write_main() {
    manifests.write_ingress({.name = "main", .host = kCanaryHost, .paths = {{.path = kEchoPath, .service = "stable"}}});
  }
  std::unique_ptr<test::Echo::Stub> stub() const {
    return test::Echo::NewStub(make_channel(ingress->target(), kCanaryHost));
  }

  TempDir tmp;
  ManifestDir manifests;
  std::unique_ptr<Pod> stable;
  std::unique_ptr<Pod> canary;
  std::unique_ptr<Ingress> ingress;
};

// Each pod that answered `calls` calls with `headers`, and how often.
std::map<std::string, int> answers(test::Echo::Stub& stub, int calls,
                                   const std::map<std::string, std::string>& headers = {}) {
  std::map<std::string, int> out;
  for (int i = 0; i < calls; ++i) ++out[pod_for(stub, headers)];
  return out;
}

TEST_CASE("canary-weight 20 sends about a fifth of the calls to the canary service", "[proxy][resilience][canary]") {
  CanaryScene scene({{"nginx.ingress.kubernetes.io/canary", "true"},
                     {"nginx.ingress.kubernetes.io/canary-weight", "20"}});
  auto stub = scene.stub();
  constexpr int kCalls = 2000;
  auto seen = answers(*stub, kCalls);
  for (const auto& [who, count] : seen) UNSCOPED_INFO(who << ": " << count);
  CHECK(seen.size() == 2);  // no errors, both services answer
  CHECK(seen["stable-0"] + seen["canary-0"] == kCalls);
  double canary_share = 100.0 * seen["canary-0"] / kCalls;
  CHECK(canary_share >= 15.0);
  CHECK(canary_share <= 25.0);
}

TEST_CASE("canary-by-header: 'always' always reaches the canary, 'never' never does, other values fall to the weight",
          "[proxy][resilience][canary]") {
  // The weight makes 'never' meaningful: without the header half the calls go to the canary.
  CanaryScene scene({{"nginx.ingress.kubernetes.io/canary", "true"},
                     {"nginx.ingress.kubernetes.io/canary-by-header", "X-Canary"},
                     {"nginx.ingress.kubernetes.io/canary-weight", "50"}});
  auto stub = scene.stub();
  CHECK(answers(*stub, 100, {{"x-canary", "always"}}) == std::map<std::string, int>{{"canary-0", 100}});
  CHECK(answers(*stub, 100, {{"x-canary", "never"}}) == std::map<std::string, int>{{"stable-0", 100}});
  auto others = answers(*stub, 100, {{"x-canary", "sometimes"}});
  for (const auto& [who, count] : others) UNSCOPED_INFO("x-canary: sometimes -> " << who << ": " << count);
  CHECK(others.size() == 2);
  CHECK(others["stable-0"] + others["canary-0"] == 100);
}

TEST_CASE("canary-by-header-value sends only the exact value to the canary", "[proxy][resilience][canary]") {
  CanaryScene scene({{"nginx.ingress.kubernetes.io/canary", "true"},
                     {"nginx.ingress.kubernetes.io/canary-by-header", "x-user-group"},
                     {"nginx.ingress.kubernetes.io/canary-by-header-value", "beta"}});
  auto stub = scene.stub();
  CHECK(answers(*stub, 50, {{"x-user-group", "beta"}}) == std::map<std::string, int>{{"canary-0", 50}});
  // With a value to match, "always" is just another value; and matching is exact.
  for (const char* value : {"Beta", "beta2", "always", ""}) {
    INFO("x-user-group: '" << value << "'");
    CHECK(answers(*stub, 20, {{"x-user-group", value}}) == std::map<std::string, int>{{"stable-0", 20}});
  }
  CHECK(answers(*stub, 20) == std::map<std::string, int>{{"stable-0", 20}});
}

TEST_CASE("a canary Ingress without a main Ingress routes nothing and is reported until a main Ingress arrives",
          "[proxy][resilience][canary]") {
  CanaryScene scene({{"nginx.ingress.kubernetes.io/canary", "true"},
                     {"nginx.ingress.kubernetes.io/canary-weight", "100"}},
                    /*with_main=*/false);
  auto stub = scene.stub();
  std::string lone = pod_for(*stub, {});
  INFO("a call with only the canary Ingress: " << lone);
  CHECK(lone.starts_with("error: UNIMPLEMENTED (12)"));

  const std::string reason = "has no main Ingress with the same host and path";
  HttpResponse metrics = scene.ingress->admin_get("/metrics");
  REQUIRE(metrics.status == 200);
  bool reported = false;
  std::istringstream lines(metrics.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("grpc_ingress_rejected_objects{") && line.find(reason) != std::string::npos) {
      reported = true;
      UNSCOPED_INFO(line);
      CHECK(line.find("kind=\"Ingress\"") != std::string::npos);
      CHECK(line.ends_with(" 1"));
    }
  }
  CHECK(reported);
  std::string log = scene.ingress->process().stderr_text();
  CHECK(log.find("main-canary") != std::string::npos);
  CHECK(log.find(reason) != std::string::npos);

  // The main Ingress arrives: its route takes the canary (weight 100: every call).
  scene.write_main();
  std::string answered;
  bool routed = wait_until([&] { return (answered = pod_for(*stub, {})) == "canary-0"; }, 5s, 50ms);
  INFO("last answer: " << answered);
  CHECK(routed);
  CHECK(answers(*stub, 20) == std::map<std::string, int>{{"canary-0", 20}});
  bool cleared = wait_until(
      [&] { return scene.ingress->admin_get("/metrics").body.find(reason) == std::string::npos; }, 3s, 50ms);
  CHECK(cleared);
}

// ---- ring_hash ----

std::string user_key(int i) { return "user-" + std::to_string(i); }

TEST_CASE("hash-by x-user-id: every key keeps its pod over 1,000 calls on two connections and calls without it still work",
          "[proxy][resilience][hash]") {
  AnnotatedService setup({{"grpc-ingress.io/hash-by", "x-user-id"}}, 3);
  // Two connections: with two workers they may land on different threads,
  // whose rings must agree.
  auto first = test::Echo::NewStub(setup.channel());
  auto second = test::Echo::NewStub(setup.channel());
  constexpr int kKeys = 50;
  std::map<std::string, std::map<std::string, int>> pods_of_key;
  std::map<std::string, int> keys_per_pod;
  for (int round = 0; round < 20; ++round) {
    for (int k = 0; k < kKeys; ++k) {
      auto& stub = (round + k) % 2 ? *first : *second;
      ++pods_of_key[user_key(k)][pod_for(stub, {{"x-user-id", user_key(k)}})];
    }
  }
  int split_keys = 0;
  for (const auto& [key, pods] : pods_of_key) {
    if (pods.size() != 1) {
      ++split_keys;
      for (const auto& [who, count] : pods) UNSCOPED_INFO(key << " -> " << who << " x" << count);
      continue;
    }
    ++keys_per_pod[pods.begin()->first];
  }
  CHECK(split_keys == 0);
  for (const auto& [who, keys] : keys_per_pod) UNSCOPED_INFO(who << " owns " << keys << " keys");
  // 50 keys over 3 pods with 100 ring points each: every pod owns some.
  CHECK(keys_per_pod.size() == 3);
  for (const auto& [who, keys] : keys_per_pod) CHECK(who.starts_with("echo-"));

  auto without = answers(*first, 30);
  for (const auto& [who, count] : without) UNSCOPED_INFO("no x-user-id -> " << who << ": " << count);
  CHECK(without.size() >= 2);  // spread, not pinned
  for (const auto& [who, count] : without) CHECK(who.starts_with("echo-"));
}

TEST_CASE("hash-by: a fourth pod takes about a quarter of the keys and no key moves between the old pods",
          "[proxy][resilience][hash]") {
  AnnotatedService setup({{"grpc-ingress.io/hash-by", "x-user-id"}}, 3);
  auto stub = test::Echo::NewStub(setup.channel());
  constexpr int kKeys = 200;
  auto map_keys = [&] {
    std::vector<std::string> owner(kKeys);
    for (int k = 0; k < kKeys; ++k) owner[k] = pod_for(*stub, {{"x-user-id", user_key(k)}});
    return owner;
  };
  auto before = map_keys();
  for (const std::string& owner : before) REQUIRE(owner.starts_with("echo-"));

  setup.pods.push_back(Pod::start(setup.tmp.path(), pod_name(3)));
  setup.manifests.write_endpoints("echo", endpoints_of(setup.pods));
  REQUIRE(setup.ingress->wait_for_routes_containing(setup.pod(3).address(), 5s));
  // This connection's worker has the new table once some key reaches the new pod.
  bool serving = wait_until(
      [&] {
        for (int k = 0; k < kKeys; k += 7) {
          if (pod_for(*stub, {{"x-user-id", user_key(k)}}) == pod_name(3)) return true;
        }
        return false;
      },
      5s, 20ms);
  REQUIRE(serving);

  auto after = map_keys();
  int moved = 0;
  for (int k = 0; k < kKeys; ++k) {
    if (after[k] == before[k]) continue;
    ++moved;
    INFO(user_key(k) << " moved from " << before[k] << " to " << after[k]);
    CHECK(after[k] == pod_name(3));  // consistent hashing: keys only move to the new pod
  }
  double moved_share = 100.0 * moved / kKeys;
  INFO(moved << " of " << kKeys << " keys moved (" << moved_share << "%)");
  CHECK(moved_share >= 10.0);
  CHECK(moved_share <= 40.0);
}

// ---- HTTP health bridge ----

struct PlainAnswer {
  int status = 0;  // 0: no answer
  std::string body;
  std::string error;
};

// GET `url` over HTTP/2 (prior knowledge) with curl: a plain request, no gRPC content-type.
PlainAnswer curl_h2_get(const std::filesystem::path& dir, const std::string& url) {
  auto body_file = dir / "curl-body.txt";
  std::filesystem::remove(body_file);
  auto curl = Process::start({kCurl, "-sS", "--http2-prior-knowledge", "--max-time", "3", "-o", body_file.string(),
                              "-w", "%{http_code} %{http_version}", url},
                             dir, "curl-health");
  PlainAnswer answer;
  if (!curl->wait_exit(8s)) {
    answer.error = "curl did not finish within 8 s";
    return answer;
  }
  std::string out = curl->stdout_text();
  if (curl->exit_status() != 0 || out.find(" 2") == std::string::npos) {  // HTTP version 2
    answer.error = "curl exit " + std::to_string(curl->exit_status().value_or(-1)) + ", -w '" + out +
                   "': " + curl->stderr_text();
    return answer;
  }
  answer.status = std::atoi(out.c_str());
  answer.body = read_text(body_file);
  return answer;
}

// Cloud load balancers ask over HTTP/1.1 or HTTP/2 without any gRPC
// content-type; both reach the bridge on the HTTP port.
TEST_CASE("http-health-path answers a plain GET 200 while a pod is SERVING, 503 when none is, 200 again after",
          "[proxy][resilience][health]") {
  AnnotatedService setup({{"grpc-ingress.io/http-health-path", "/healthz"},
                          {"grpc-ingress.io/health-check-interval", "300ms"}},
                         2);
  const std::string url = "http://" + setup.ingress->target() + "/healthz";
  PlainAnswer h2;     // curl --http2-prior-knowledge
  HttpResponse h1;    // Beast, HTTP/1.1
  auto ask = [&] {
    h2 = curl_h2_get(setup.tmp.path(), url);
    h1 = http_get("127.0.0.1", setup.ingress->http_port(), "/healthz");
  };
  auto health_is = [&](int status) {
    return wait_until(
        [&] {
          ask();
          return h2.status == status && h1.status == status;
        },
        8s, 100ms);
  };
  auto describe = [&] {
    return "HTTP/2 " + std::to_string(h2.status) + " '" + h2.body + "' " + h2.error + "; HTTP/1.1 " +
           std::to_string(h1.status) + " '" + h1.body + "' " + h1.error;
  };
  auto stub = test::Echo::NewStub(setup.channel());
  // Every one of 10 calls answered by `pod`: the checks have seen the other one fail.
  auto only_pod_answers = [&](const std::string& pod) {
    return wait_until([&] { return answers(*stub, 10) == std::map<std::string, int>{{pod, 10}}; }, 8s, 50ms);
  };

  bool healthy = health_is(200);
  INFO("both pods SERVING; last answers: " << describe());
  REQUIRE(healthy);
  CHECK(h2.body == "ok\n");
  CHECK(h1.body == "ok\n");

  setup.pod(0).process().signal(SIGUSR1);
  REQUIRE(only_pod_answers(pod_name(1)));
  ask();
  INFO("echo-0 NOT_SERVING; answers: " << describe());
  CHECK(h2.status == 200);
  CHECK(h1.status == 200);

  setup.pod(1).process().signal(SIGUSR1);
  bool unhealthy = health_is(503);
  INFO("both NOT_SERVING; last answers: " << describe());
  REQUIRE(unhealthy);
  CHECK(h2.body.find("passes its gRPC health check") != std::string::npos);
  CHECK(h1.body.find("passes its gRPC health check") != std::string::npos);

  setup.pod(0).process().signal(SIGUSR2);
  healthy = health_is(200);
  INFO("echo-0 SERVING again; last answers: " << describe());
  CHECK(healthy);
  CHECK(only_pod_answers(pod_name(0)));
}

// ---- limits ----

TEST_CASE("max-message-bytes 1024: a larger request or response message gets RESOURCE_EXHAUSTED, small ones pass",
          "[proxy][resilience][limits]") {
  AnnotatedService setup({{"grpc-ingress.io/max-message-bytes", "1024"}}, 1);
  auto stub = test::Echo::NewStub(setup.channel());

  SECTION("a unary request of 4 KiB is refused before it reaches the pod's handler") {
    test::EchoRequest big;
    big.set_payload(std::string(4096, 'b'));
    big.set_tag("big-unary");
    CallResult result = echo_unary(*stub, big, 5s);
    INFO(code_name(result.code) << " " << result.message);
    CHECK(result.code == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK(result.message.find("larger than the limit of 1024") != std::string::npos);
    CHECK(result.message.find("max-message-bytes") != std::string::npos);
    CHECK_FALSE(pod_stats(setup.pod(0).address(), "big-unary").known());

    test::EchoRequest small;
    small.set_payload(std::string(500, 's'));
    CallResult ok = echo_unary(*stub, small, 5s);
    INFO(code_name(ok.code) << " " << ok.message);
    CHECK(ok.ok());
  }

  SECTION("a client stream of 200 messages of 500 bytes passes whole") {
    grpc::ClientContext context;
    context.set_deadline(in(20s));
    test::EchoReply reply;
    auto writer = stub->ClientStream(&context, &reply);
    test::EchoRequest request;
    request.set_payload(std::string(500, 'p'));
    int written = 0;
    while (written < 200 && writer->Write(request)) ++written;
    CHECK(written == 200);
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    INFO(code_name(status.error_code()) << " " << status.error_message());
    CHECK(status.ok());
    CHECK(reply.count() == 200);
    CHECK(reply.bytes() == 200 * 500);
  }

  SECTION("a server-streamed reply over the limit ends the call with RESOURCE_EXHAUSTED") {
    test::EchoRequest request;
    request.set_count(3);
    request.set_payload_bytes(2000);
    grpc::ClientContext context;
    context.set_deadline(in(10s));
    auto reader = stub->ServerStream(&context, request);
    test::EchoReply reply;
    int received = 0;
    while (received < 10 && reader->Read(&reply)) ++received;
    grpc::Status status = reader->Finish();
    INFO(code_name(status.error_code()) << " " << status.error_message());
    CHECK(received == 0);
    CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK(status.error_message().find("response message of") != std::string::npos);

    // Replies under the limit stream through.
    test::EchoRequest small;
    small.set_count(5);
    small.set_payload_bytes(500);
    grpc::ClientContext small_context;
    small_context.set_deadline(in(10s));
    auto small_reader = stub->ServerStream(&small_context, small);
    int small_received = 0;
    while (small_received < 10 && small_reader->Read(&reply)) ++small_received;
    grpc::Status small_status = small_reader->Finish();
    INFO(code_name(small_status.error_code()) << " " << small_status.error_message());
    CHECK(small_status.ok());
    CHECK(small_received == 5);
  }
}

TEST_CASE("max-timeout 300ms ends a 2 s call with DEADLINE_EXCEEDED and the pod sees it cancelled",
          "[proxy][resilience][limits][deadline]") {
  AnnotatedService setup({{"grpc-ingress.io/max-timeout", "300ms"}}, 1);
  auto stub = test::Echo::NewStub(setup.channel());

  auto check_capped = [&](const std::string& tag, std::optional<std::chrono::milliseconds> client_deadline) {
    test::EchoRequest request;
    request.set_sleep_ms(2000);
    request.set_tag(tag);
    grpc::ClientContext context;
    if (client_deadline) context.set_deadline(in(*client_deadline));
    test::EchoReply reply;
    auto start = Clock::now();
    grpc::Status status = stub->Unary(&context, request, &reply);
    auto took = since(start);
    INFO(tag << ": " << code_name(status.error_code()) << " " << status.error_message() << " after " << took.count()
              << " ms");
    CHECK(status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
    CHECK(took >= 250ms);
    CHECK(took < 1500ms);
    test::StatsReply stats;
    bool finished = wait_until(
        [&] {
          stats = pod_stats(setup.pod(0).address(), tag);
          return stats.finished();
        },
        3s, 20ms);
    CHECK(finished);
    CHECK(stats.cancelled());
    CHECK(stats.elapsed_ms() < 1500);
  };
  check_capped("no-deadline", std::nullopt);
  check_capped("deadline-10s", 10s);

  // The cap never lengthens a shorter deadline, and a fast call is untouched.
  test::EchoRequest quick;
  quick.set_sleep_ms(2000);
  CallResult shorter = echo_unary(*stub, quick, 100ms);
  CHECK(shorter.code == grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK(shorter.elapsed < 250ms);
  quick.set_sleep_ms(20);
  CallResult fast = echo_unary(*stub, quick, 10s);
  INFO(code_name(fast.code) << " " << fast.message);
  CHECK(fast.ok());
}

TEST_CASE("max-streams-per-endpoint 2 with one pod: 2 of 5 concurrent calls run, 3 get RESOURCE_EXHAUSTED at once",
          "[proxy][resilience][limits]") {
  AnnotatedService setup({{"grpc-ingress.io/max-streams-per-endpoint", "2"}}, 1);
  auto channel = setup.channel();
  {
    auto stub = test::Echo::NewStub(channel);
    REQUIRE(echo_unary(*stub, test::EchoRequest(), 5s).ok());  // connected, and idle again
  }
  test::EchoRequest slow;
  slow.set_sleep_ms(1000);
  auto results = concurrent_calls(channel, 5, slow);
  int ok = 0, refused = 0;
  for (const CallResult& result : results) {
    INFO(code_name(result.code) << " " << result.message << " after " << result.elapsed.count() << " ms");
    if (result.ok()) {
      ++ok;
      CHECK(result.elapsed >= 900ms);
    } else {
      ++refused;
      CHECK(result.code == grpc::StatusCode::RESOURCE_EXHAUSTED);
      CHECK(result.message.find("max-streams-per-endpoint") != std::string::npos);
      CHECK(result.elapsed < 800ms);  // refused, not queued behind the running calls
    }
  }
  CHECK(ok == 2);
  CHECK(refused == 3);
  CHECK(metric_sum(*setup.ingress, "grpc_ingress_upstream_over_limit_total") == 3);
}

TEST_CASE("max-streams-per-endpoint 2 with two pods: 4 concurrent calls all run, two on each pod",
          "[proxy][resilience][limits]") {
  AnnotatedService setup({{"grpc-ingress.io/max-streams-per-endpoint", "2"}}, 2);
  auto channel = setup.channel();
  {
    auto stub = test::Echo::NewStub(channel);
    REQUIRE(echo_unary(*stub, test::EchoRequest(), 5s).ok());
  }
  test::EchoRequest slow;
  slow.set_sleep_ms(1000);
  auto results = concurrent_calls(channel, 4, slow);
  std::map<std::string, int> per_pod;
  for (const CallResult& result : results) {
    INFO(code_name(result.code) << " " << result.message << " after " << result.elapsed.count() << " ms");
    CHECK(result.ok());
    ++per_pod[result.pod];
  }
  CHECK(per_pod == std::map<std::string, int>{{pod_name(0), 2}, {pod_name(1), 2}});
}

// ---- retries ----

constexpr const char* kOutliersOff = "grpc-ingress.io/outlier-consecutive-failures";

// echo-0 resets every call (RST_STREAM before any header); the others answer.
std::vector<std::vector<std::string>> first_pod_resets() { return {{"--reset-calls"}}; }

TEST_CASE("a pod that resets calls: retries hide it within the 20% retry budget and with retries 0 callers see it",
          "[proxy][resilience][retries]") {
  constexpr int kCalls = 100;
  std::vector<std::string> outcomes;  // the pod that answered, or the status
  auto run_calls = [&](AnnotatedService& setup) {
    auto stub = test::Echo::NewStub(setup.channel());
    for (int i = 0; i < kCalls; ++i) {
      CallResult result = echo_unary(*stub, test::EchoRequest(), 5s);
      outcomes.push_back(result.ok() ? result.pod : code_name(result.code));
    }
  };
  auto tally = [&] {
    std::map<std::string, int> out;
    for (const std::string& outcome : outcomes) ++out[outcome];
    for (const auto& [what, count] : out) UNSCOPED_INFO(what << ": " << count);
    return out;
  };
  const std::string unavailable = code_name(grpc::StatusCode::UNAVAILABLE);
  const std::string upstream_internal_resets = "side=\"upstream\",reason=\"INTERNAL_ERROR\"";

  SECTION("one resetting pod of six: the budget covers every retry and no call fails") {
    // About one call in six meets the broken pod first, under the 20% that calls earn.
    AnnotatedService setup({{kOutliersOff, "0"}}, 6, first_pod_resets());
    run_calls(setup);
    auto seen = tally();
    CHECK(seen.count(unavailable) == 0);
    CHECK(seen.count(pod_name(0)) == 0);
    int answered = 0;
    for (int i = 1; i < 6; ++i) answered += seen[pod_name(i)];
    CHECK(answered == kCalls);
    // Every call the broken pod reset was tried again on another pod.
    double resets = metric_sum(*setup.ingress, "grpc_ingress_stream_resets_total", upstream_internal_resets);
    double retries = metric_sum(*setup.ingress, "grpc_ingress_upstream_retries_total");
    INFO("echo-0 reset " << resets << " calls; retries_total " << retries);
    CHECK(resets >= 5);
    CHECK(retries == resets);
  }

  SECTION("one resetting pod of two: retries stop at the budget and the rest fail with UNAVAILABLE") {
    // Most calls meet the broken pod first: more retries than 20% of the calls.
    AnnotatedService setup({{kOutliersOff, "0"}}, 2, first_pod_resets());
    const auto started = std::chrono::steady_clock::now();
    run_calls(setup);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    auto seen = tally();
    CHECK(seen.size() == 2);
    CHECK(seen[pod_name(1)] + seen[unavailable] == kCalls);
    // The budget starts with 10 retries: the first calls all succeed.
    for (int i = 0; i < 10; ++i) CHECK(outcomes[i] == pod_name(1));
    double retries = metric_sum(*setup.ingress, "grpc_ingress_upstream_retries_total");
    double over_budget = metric_sum(*setup.ingress, "grpc_ingress_upstream_retries_over_budget_total");
    INFO("retries " << retries << ", over budget " << over_budget << ", calls took " << seconds << " s");
    CHECK(retries >= 10);
    // A burst of 10, then 0.2 per call, plus the floor of 10 a second (a slow
    // run, e.g. under ASan, earns some of it).
    CHECK(retries <= 10 + 0.2 * kCalls + 10 * std::ceil(seconds) + 1);
    CHECK(over_budget == seen[unavailable]);   // each failed call is one retry refused
    CHECK(seen[unavailable] > 0);
  }

  SECTION("retries 0: calls the broken pod takes fail with UNAVAILABLE") {
    AnnotatedService setup({{kOutliersOff, "0"}, {"grpc-ingress.io/retries", "0"}}, 2, first_pod_resets());
    run_calls(setup);
    auto seen = tally();
    CHECK(seen.size() == 2);
    CHECK(seen[pod_name(1)] > 0);
    CHECK(seen[unavailable] > 0);
    CHECK(seen[pod_name(1)] + seen[unavailable] == kCalls);
    CHECK(metric_sum(*setup.ingress, "grpc_ingress_upstream_retries_total") == 0);
  }
}

// Pods that answer RESOURCE_EXHAUSTED: a status the client asked the proxy to retry.
std::vector<CallResult> exhausted_calls(AnnotatedService& setup, int calls) {
  auto stub = test::Echo::NewStub(setup.channel());
  test::EchoRequest request;
  request.set_fail_code(static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  request.set_fail_message("quota used up");
  std::vector<CallResult> results;
  for (int i = 0; i < calls; ++i) results.push_back(echo_unary(*stub, request, 5s));
  return results;
}

TEST_CASE("retry-on resource_exhausted tries other pods up to the retries limit and the caller gets the pod's answer",
          "[proxy][resilience][retries]") {
  // Few calls: each is retried, and the retry budget (20% of calls, 10 to start) must not run out.
  constexpr int kCalls = 5;

  SECTION("three pods, retries 1: two attempts per call") {
    AnnotatedService setup({{kOutliersOff, "0"}, {"grpc-ingress.io/retry-on", "resource_exhausted"},
                            {"grpc-ingress.io/retries", "1"}},
                           3);
    for (const CallResult& result : exhausted_calls(setup, kCalls)) {
      INFO(code_name(result.code) << " " << result.message);
      CHECK(result.code == grpc::StatusCode::RESOURCE_EXHAUSTED);
      CHECK(result.message == "quota used up");
    }
    CHECK(setup.pod_calls() == 2 * kCalls);
    CHECK(metric_sum(*setup.ingress, "grpc_ingress_upstream_retries_total") == kCalls);
  }

  SECTION("two pods, default retries (2): both pods tried, then the last answer goes to the caller") {
    AnnotatedService setup({{kOutliersOff, "0"}, {"grpc-ingress.io/retry-on", "resource_exhausted"}}, 2);
    for (const CallResult& result : exhausted_calls(setup, kCalls)) {
      INFO(code_name(result.code) << " " << result.message);
      CHECK(result.code == grpc::StatusCode::RESOURCE_EXHAUSTED);
      CHECK(result.message == "quota used up");
    }
    CHECK(setup.pod_calls() == 2 * kCalls);
  }

  SECTION("without retry-on: one attempt per call") {
    AnnotatedService setup({{kOutliersOff, "0"}}, 3);
    for (const CallResult& result : exhausted_calls(setup, kCalls)) {
      INFO(code_name(result.code) << " " << result.message);
      CHECK(result.code == grpc::StatusCode::RESOURCE_EXHAUSTED);
    }
    CHECK(setup.pod_calls() == kCalls);
    CHECK(metric_sum(*setup.ingress, "grpc_ingress_upstream_retries_total") == 0);
  }
}

}  // namespace
}  // namespace grpc_ingress::testing
