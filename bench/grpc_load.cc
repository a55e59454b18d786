// grpc-load: paced unary gRPC calls over several channels for a fixed time; prints what
// the client saw as one JSON object on stdout (calls per grpc-status code, calls per
// pod, and every failure with its time).
//
//   grpc-load --target HOST:PORT --duration-ms 30000 --rate 400 [--channels 4]
//             [--concurrency 4] [--deadline-ms 2000] [--work-ms 0]
//
// --work-ms 0 calls helloworld.Greeter/SayHello (answered at once); N > 0 calls
// grpc_ingress.test.Echo/Unary asking the pod to take N ms, so calls are in flight
// when a pod stops.
//
// The robustness benchmark's client. Unlike h2load it is a real gRPC client: it
// reconnects after GOAWAY and transparently retries streams the server refused or
// never saw, so a failure here is a failure an application would see.
// Exit status 0 when the run completed (failures are data), 2 for bad arguments.

#include "grpc/examples/helloworld.grpc.pb.h"
#include "tests/proto/echo.grpc.pb.h"

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace grpc_ingress::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Failures kept per worker with their time and message; more are only counted.
constexpr size_t kMaxFailuresPerWorker = 5000;
constexpr int kMaxWorkers = 1024;

struct Options {
  std::string target;
  int duration_ms = 0;
  int rate = 0;  // calls per second, all workers together
  int channels = 4;
  int concurrency = 4;  // workers (blocking calls in flight) per channel
  int deadline_ms = 2000;
  int work_ms = 0;  // 0: SayHello; else Echo/Unary with sleep_ms
};

const char* const kUsage =
    "usage: grpc-load --target HOST:PORT --duration-ms N --rate CALLS_PER_S [--channels 4]\n"
    "                 [--concurrency 4] [--deadline-ms 2000] [--work-ms 0]\n"
    "  Paced calls over CHANNELS gRPC channels (one connection each), CONCURRENCY calls in\n"
    "  flight per channel at most; prints a JSON summary on stdout. --work-ms 0: SayHello;\n"
    "  N: Echo/Unary that the pod answers after N ms.\n";

bool parse_int(const std::string& text, int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out > 0;
}

bool parse_options(int argc, char** argv, Options& options) {
  if (argc % 2 != 1) return false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    bool ok = true;
    if (flag == "--target") {
      options.target = value;
    } else if (flag == "--duration-ms") {
      ok = parse_int(value, options.duration_ms);
    } else if (flag == "--rate") {
      ok = parse_int(value, options.rate);
    } else if (flag == "--channels") {
      ok = parse_int(value, options.channels);
    } else if (flag == "--concurrency") {
      ok = parse_int(value, options.concurrency);
    } else if (flag == "--deadline-ms") {
      ok = parse_int(value, options.deadline_ms);
    } else if (flag == "--work-ms") {
      ok = value == "0" || parse_int(value, options.work_ms);
    } else {
      ok = false;
    }
    if (!ok) return false;
  }
  return !options.target.empty() && options.duration_ms > 0 && options.rate > 0 &&
         options.channels * options.concurrency <= kMaxWorkers;
}

struct Failure {
  double time = 0;  // seconds since the epoch
  int code = 0;
  std::string message;
};

// What one worker saw; merged after every worker has stopped.
struct WorkerResult {
  std::map<int, int64_t> codes;
  std::map<std::string, int64_t> pods;
  std::vector<Failure> failures;
  int64_t failures_dropped = 0;
};

double epoch_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// "Hello <name> from <pod>" -> "<pod>".
std::string pod_of(const std::string& message) {
  auto from = message.rfind(" from ");
  return from == std::string::npos ? "(unknown)" : message.substr(from + 6);
}

// One channel (one connection) and the stubs on it.
struct Client {
  std::unique_ptr<helloworld::Greeter::Stub> greeter;
  std::unique_ptr<test::Echo::Stub> echo;
};

// One call; sets `pod` to the name of the pod that answered.
grpc::Status call_once(Client& client, const Options& options, std::string& pod) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(options.deadline_ms));
  if (options.work_ms == 0) {
    helloworld::HelloRequest request;
    request.set_name("grpc-load");
    helloworld::HelloReply reply;
    grpc::Status status = client.greeter->SayHello(&context, request, &reply);
    pod = pod_of(reply.message());
    return status;
  }
  test::EchoRequest request;
  request.set_message("grpc-load");
  request.set_sleep_ms(options.work_ms);
  test::EchoReply reply;
  grpc::Status status = client.echo->Unary(&context, request, &reply);
  pod = reply.pod();
  return status;
}

// Calls at start + (slot + n * slots) / rate for n = 0, 1, ... until the end; a call that
// comes back late makes the next one go at once (no catching up beyond that).
void run_worker(Client& client, const Options& options, int slot, int slots,
                Clock::time_point start, Clock::time_point end, WorkerResult& result) {
  const auto period = std::chrono::duration<double>(static_cast<double>(slots) / options.rate);
  auto next = start + std::chrono::duration_cast<Clock::duration>(period * slot / slots);
  while (next < end) {
    std::this_thread::sleep_until(next);
    next += std::chrono::duration_cast<Clock::duration>(period);
    std::string pod;
    grpc::Status status = call_once(client, options, pod);
    ++result.codes[status.error_code()];
    if (status.ok()) {
      ++result.pods[pod];
    } else if (result.failures.size() < kMaxFailuresPerWorker) {
      result.failures.push_back({epoch_seconds(), status.error_code(), status.error_message()});
    } else {
      ++result.failures_dropped;
    }
    next = std::max(next, Clock::now() - std::chrono::duration_cast<Clock::duration>(period));
  }
}

int run(const Options& options) {
  std::vector<Client> clients;
  for (int i = 0; i < options.channels; ++i) {
    grpc::ChannelArguments args;
    // Its own subchannel pool: each channel is its own connection, as separate clients.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
    clients.push_back({helloworld::Greeter::NewStub(channel), test::Echo::NewStub(channel)});
  }
  const int slots = options.channels * options.concurrency;
  std::vector<WorkerResult> results(static_cast<size_t>(slots));
  const double started_at = epoch_seconds();
  const auto start = Clock::now();
  const auto end = start + std::chrono::milliseconds(options.duration_ms);
  {
    std::vector<std::jthread> workers;
    for (int slot = 0; slot < slots; ++slot) {
      workers.emplace_back([&, slot] {
        run_worker(clients[static_cast<size_t>(slot % options.channels)], options, slot, slots, start, end,
                   results[static_cast<size_t>(slot)]);
      });
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  nlohmann::json codes = nlohmann::json::object();
  nlohmann::json pods = nlohmann::json::object();
  nlohmann::json failures = nlohmann::json::array();
  int64_t calls = 0;
  int64_t dropped = 0;
  std::vector<Failure> all_failures;
  for (const WorkerResult& result : results) {
    for (const auto& [code, count] : result.codes) {
      codes[std::to_string(code)] = codes.value(std::to_string(code), int64_t{0}) + count;
      calls += count;
    }
    for (const auto& [pod, count] : result.pods) pods[pod] = pods.value(pod, int64_t{0}) + count;
    all_failures.insert(all_failures.end(), result.failures.begin(), result.failures.end());
    dropped += result.failures_dropped;
  }
  std::sort(all_failures.begin(), all_failures.end(),
            [](const Failure& a, const Failure& b) { return a.time < b.time; });
  for (const Failure& f : all_failures) {
    failures.push_back({{"time", f.time}, {"code", f.code}, {"message", f.message}});
  }
  nlohmann::json summary = {{"target", options.target}, {"started", started_at}, {"elapsed_s", elapsed},
                            {"calls", calls}, {"codes", codes}, {"pods", pods}, {"failures", failures},
                            {"failures_dropped", dropped}};
  // Error messages come from the network: replace bytes that are not UTF-8.
  std::cout << summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return 0;
}

}  // namespace
}  // namespace grpc_ingress::bench

int main(int argc, char** argv) {
  grpc_ingress::bench::Options options;
  if (!grpc_ingress::bench::parse_options(argc, argv, options)) {
    std::cerr << grpc_ingress::bench::kUsage;
    return 2;
  }
  return grpc_ingress::bench::run(options);
}
