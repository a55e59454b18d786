// Accept hand-off (STYLE.md): gRPC clients hold few, long-lived connections,
// which kernel SO_REUSEPORT hashing could pile on one worker; the acceptor
// deals them to the workers in turn, so 8 connections to a 4-worker process
// land 2 on every worker, and 8 more make it 4.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace grpc_ingress::testing {
namespace {

constexpr int kWorkers = 4;

// GET /debug/workers -> {"connections":[n0,n1,...]}; empty on any error.
std::vector<int64_t> connections_per_worker(const Ingress& ingress) {
  HttpResponse response = ingress.admin_get("/debug/workers");
  if (response.status != 200) return {};
  auto doc = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("connections") || !doc["connections"].is_array()) return {};
  std::vector<int64_t> counts;
  for (const auto& n : doc["connections"]) counts.push_back(n.is_number_integer() ? n.get<int64_t>() : -1);
  return counts;
}

int64_t total(const std::vector<int64_t>& counts) {
  int64_t sum = 0;
  for (int64_t n : counts) sum += n;
  return sum;
}

std::string show(const std::vector<int64_t>& counts) { return nlohmann::json(counts).dump(); }

// A channel of its own: a distinct argument keeps gRPC from sharing one
// subchannel (one TCP connection) between channels with equal arguments.
std::shared_ptr<grpc::Channel> own_channel(const std::string& target, int index) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("grpc_ingress.test.channel_index", index);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

TEST_CASE("8 gRPC connections to a 4-worker process land 2 on each worker, and 8 more make 4 on each",
          "[proxy][accept]") {
  OneService setup("greeter", kGreeterPath, 1, {.threads = kWorkers});
  Ingress& ingress = *setup.ingress;
  REQUIRE(connections_per_worker(ingress) == std::vector<int64_t>(kWorkers, 0));

  std::vector<std::shared_ptr<grpc::Channel>> channels;  // kept open to the end
  for (int round = 1; round <= 2; ++round) {
    for (int i = 0; i < 8; ++i) {
      auto channel = own_channel(ingress.target(), static_cast<int>(channels.size()));
      auto stub = helloworld::Greeter::NewStub(channel);
      CallResult result = say_hello(*stub);
      INFO("channel " << channels.size() << ": " << code_name(result.code) << " '" << result.message << "'");
      REQUIRE(result.ok());
      channels.push_back(channel);
    }
    const int64_t expected_total = 8 * round;
    std::vector<int64_t> counts;
    wait_until(
        [&] {
          counts = connections_per_worker(ingress);
          return total(counts) >= expected_total;
        },
        2s);
    INFO("round " << round << ": /debug/workers connections " << show(counts));
    CHECK(counts == std::vector<int64_t>(kWorkers, 2 * round));
  }
  for (const auto& channel : channels) CHECK(channel->GetState(false) == GRPC_CHANNEL_READY);
}

}  // namespace
}  // namespace grpc_ingress::testing
