// grpc-caller: makes N sequential SayHello calls over ONE gRPC channel and
// prints which pod answered each, to show per-call balancing.
//
//   grpc-caller --target 127.0.0.1:8080 --calls 300 [--authority HOST] [--deadline-ms N]
//
// Exit status 0 iff every call succeeded.

#include "grpc/examples/helloworld.grpc.pb.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>

namespace grpc_ingress::testing {
namespace {

struct Options {
  std::string target;
  std::string authority;
  int calls = 300;
  int deadline_ms = 2000;
  std::string name = "grpc-caller";
};

const char* const kUsage =
    "usage: grpc-caller --target HOST:PORT [--calls N] [--authority HOST] [--deadline-ms N] [--name NAME]\n"
    "  Makes N sequential helloworld.Greeter/SayHello calls over one channel (one HTTP/2\n"
    "  connection) and prints how many calls each pod answered.\n";

bool parse_int(const std::string& text, int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out > 0;
}

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--target") {
      options.target = value;
    } else if (flag == "--authority") {
      options.authority = value;
    } else if (flag == "--name") {
      options.name = value;
    } else if (flag == "--calls") {
      if (!parse_int(value, options.calls)) return false;
    } else if (flag == "--deadline-ms") {
      if (!parse_int(value, options.deadline_ms)) return false;
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && !options.target.empty();
}

// "Hello <name> from <pod>" -> "<pod>".
std::string pod_of(const std::string& message) {
  auto from = message.rfind(" from ");
  return from == std::string::npos ? "(unknown: '" + message + "')" : message.substr(from + 6);
}

int run(const Options& options) {
  grpc::ChannelArguments args;
  if (!options.authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, options.authority);
  auto channel = grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
  auto stub = helloworld::Greeter::NewStub(channel);

  std::map<std::string, int> per_pod;
  std::map<std::string, int> failures;  // "CODE message" -> count
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < options.calls; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(options.deadline_ms));
    helloworld::HelloRequest request;
    request.set_name(options.name);
    helloworld::HelloReply reply;
    grpc::Status status = stub->SayHello(&context, request, &reply);
    if (status.ok()) {
      ++per_pod[pod_of(reply.message())];
    } else {
      ++failures["status " + std::to_string(status.error_code()) + " '" + status.error_message() + "'"];
    }
  }
  auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started).count();

  std::printf("%d calls to %s over one channel in %lld ms\n", options.calls, options.target.c_str(),
              static_cast<long long>(elapsed_ms));
  for (const auto& [pod, count] : per_pod) {
    std::printf("  %-24s %5d calls  %5.1f%%\n", pod.c_str(), count, 100.0 * count / options.calls);
  }
  int failed = 0;
  for (const auto& [what, count] : failures) {
    std::printf("  FAILED %5d calls: %s\n", count, what.c_str());
    failed += count;
  }
  std::printf("%d ok, %d failed\n", options.calls - failed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace grpc_ingress::testing

int main(int argc, char** argv) {
  grpc_ingress::testing::Options options;
  if (!grpc_ingress::testing::parse_options(argc, argv, options)) {
    std::cerr << grpc_ingress::testing::kUsage;
    return 2;
  }
  return grpc_ingress::testing::run(options);
}
