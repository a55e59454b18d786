// Streams through the proxy: messages in order, trailers intact, cancellation
// passed on, and back-pressure instead of unbounded buffering.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"
#include "tests/integration/scenario.h"

#include <catch2/catch.hpp>

#include <thread>

namespace grpc_ingress::testing {
namespace {

std::chrono::system_clock::time_point in(std::chrono::milliseconds d) { return std::chrono::system_clock::now() + d; }

TEST_CASE("a server stream of 10,000 messages arrives complete, in order, with status OK", "[proxy][streaming]") {
  OneService setup("echo", kEchoPath);
  auto stub = test::Echo::NewStub(setup.channel());
  grpc::ClientContext context;
  context.set_deadline(in(60s));
  test::EchoRequest request;
  request.set_count(10'000);
  request.set_payload_bytes(100);
  auto reader = stub->ServerStream(&context, request);
  test::EchoReply reply;
  int64_t received = 0;
  int64_t out_of_order = 0;
  while (reader->Read(&reply)) {
    if (reply.sequence() != received || reply.payload().size() != 100 || reply.pod() != "echo-0") ++out_of_order;
    ++received;
  }
  grpc::Status status = reader->Finish();
  INFO(code_name(status.error_code()) << " " << status.error_message());
  CHECK(status.ok());
  CHECK(received == 10'000);
  CHECK(out_of_order == 0);
}

TEST_CASE("a bidirectional stream echoes every message and keeps the server's trailers", "[proxy][streaming]") {
  OneService setup("echo", kEchoPath);
  auto stub = test::Echo::NewStub(setup.channel());
  grpc::ClientContext context;
  context.set_deadline(in(30s));
  auto stream = stub->Bidi(&context);
  test::EchoRequest request;
  (*request.mutable_trailers())["x-trailer"] = "value";
  test::EchoReply reply;
  std::vector<std::string> echoed;

  // Ping-pong: each message comes back before the next goes out.
  for (int i = 0; i < 100; ++i) {
    request.set_message("ping-" + std::to_string(i));
    REQUIRE(stream->Write(request));
    REQUIRE(stream->Read(&reply));
    echoed.push_back(reply.message());
    request.clear_trailers();
  }
  // Then a burst, half-close, and read the rest.
  for (int i = 100; i < 200; ++i) {
    request.set_message("burst-" + std::to_string(i));
    REQUIRE(stream->Write(request));
  }
  REQUIRE(stream->WritesDone());
  while (stream->Read(&reply)) echoed.push_back(reply.message());
  grpc::Status status = stream->Finish();

  INFO(code_name(status.error_code()) << " " << status.error_message());
  CHECK(status.ok());
  REQUIRE(echoed.size() == 200);
  for (int i = 0; i < 200; ++i) {
    CHECK(echoed[i] == (i < 100 ? "ping-" : "burst-") + std::to_string(i));
  }
  auto trailers = context.GetServerTrailingMetadata();
  auto trailer = trailers.find("x-trailer");
  REQUIRE(trailer != trailers.end());
  CHECK(std::string(trailer->second.data(), trailer->second.size()) == "value");
}

TEST_CASE("a client stream reaches its pod whole and gets one reply", "[proxy][streaming]") {
  OneService setup("echo", kEchoPath);
  auto stub = test::Echo::NewStub(setup.channel());
  grpc::ClientContext context;
  context.set_deadline(in(30s));
  test::EchoReply reply;
  auto writer = stub->ClientStream(&context, &reply);
  test::EchoRequest request;
  request.set_payload(std::string(1024, 'p'));
  for (int i = 0; i < 100; ++i) REQUIRE(writer->Write(request));
  REQUIRE(writer->WritesDone());
  grpc::Status status = writer->Finish();
  INFO(code_name(status.error_code()) << " " << status.error_message());
  CHECK(status.ok());
  CHECK(reply.pod() == "echo-0");
  CHECK(reply.count() == 100);
  CHECK(reply.bytes() == 100 * 1024);
}

TEST_CASE("a 3 MiB request and its 3 MiB reply pass through whole", "[proxy][streaming]") {
  OneService setup("echo", kEchoPath);
  auto stub = test::Echo::NewStub(setup.channel());
  test::EchoRequest request;
  std::string payload(3 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + (i >> 12));
  request.set_payload(payload);
  grpc::ClientContext context;
  context.set_deadline(in(30s));
  test::EchoReply reply;
  grpc::Status status = stub->Unary(&context, request, &reply);
  INFO(code_name(status.error_code()) << " " << status.error_message());
  REQUIRE(status.ok());
  CHECK(reply.payload().size() == payload.size());
  CHECK(reply.payload() == payload);
}

TEST_CASE("a client that cancels a stream cancels it at the pod", "[proxy][streaming]") {
  OneService setup("echo", kEchoPath);
  auto stub = test::Echo::NewStub(setup.channel());
  grpc::ClientContext context;
  context.set_deadline(in(60s));
  test::EchoRequest request;
  request.set_count(1'000'000);
  request.set_interval_ms(10);
  request.set_tag("cancel-me");
  auto reader = stub->ServerStream(&context, request);
  test::EchoReply reply;
  for (int i = 0; i < 5; ++i) REQUIRE(reader->Read(&reply));
  context.TryCancel();
  // The pod is told (RST_STREAM passed upstream), so it stops working for nobody.
  bool stopped = wait_until(
      [&] {
        auto stats = pod_stats(setup.pod().address(), "cancel-me");
        return stats.finished() && stats.cancelled();
      },
      2s);
  auto stats = pod_stats(setup.pod().address(), "cancel-me");
  INFO("pod wrote " << stats.written() << " messages; finished=" << stats.finished());
  CHECK(stopped);
}

// The pod streams 100,000 x 64 KiB (6.4 GiB) to a client that reads nothing.
// With back-pressure the pod's writes block once the flow-control windows and
// buffers along the way are full (a few MiB; measured directly, without a proxy,
// the pod stalls after ~4 MiB). A proxy that read from the pod without bound would
// let the pod write on, and its own memory would grow by the same amount.
TEST_CASE("a client that stops reading stalls the pod instead of filling the proxy's memory", "[proxy][streaming][backpressure]") {
  OneService setup("echo", kEchoPath);
  auto stub = test::Echo::NewStub(setup.channel());
  constexpr int64_t kMessageBytes = 64 * 1024;
  constexpr int64_t kMaxInFlightBytes = 64 << 20;  // generous: windows + buffers on three hops
  constexpr long kMaxRssGrowthKib = 128 * 1024;

  // Warm the proxy up (connection pool, first table) before the baseline.
  for (int i = 0; i < 5; ++i) REQUIRE(echo_unary(*stub, test::EchoRequest()).ok());
  const long rss_before = setup.ingress->rss_kib();
  REQUIRE(rss_before > 0);

  grpc::ClientContext context;
  context.set_deadline(in(60s));
  test::EchoRequest request;
  request.set_count(100'000);
  request.set_payload_bytes(kMessageBytes);
  request.set_tag("slow-reader");
  auto reader = stub->ServerStream(&context, request);
  REQUIRE(wait_until([&] { return pod_stats(setup.pod().address(), "slow-reader").written() > 0; }, 5s));

  // Loopback moves GiB/s: 3 s is ample time for an unbounded proxy to swallow far more than the bound.
  std::this_thread::sleep_for(3s);
  const int64_t written = pod_stats(setup.pod().address(), "slow-reader").written();
  const long rss_during = setup.ingress->rss_kib();
  std::this_thread::sleep_for(1s);
  const int64_t written_later = pod_stats(setup.pod().address(), "slow-reader").written();
  INFO("pod wrote " << written << " x 64 KiB after 3 s, " << written_later << " after 4 s; proxy RSS "
                    << rss_before << " KiB before, " << rss_during << " KiB during");
  CHECK(written_later * kMessageBytes <= kMaxInFlightBytes);
  CHECK(written_later - written <= 16);  // stalled, not trickling at full speed
  CHECK(rss_during - rss_before <= kMaxRssGrowthKib);

  // The stalled stream is alive: reading resumes it.
  test::EchoReply reply;
  for (int i = 0; i < 200; ++i) {
    REQUIRE(reader->Read(&reply));
    REQUIRE(reply.sequence() == i);
  }
  CHECK(wait_until([&] { return pod_stats(setup.pod().address(), "slow-reader").written() > written_later; }, 5s));
  context.TryCancel();
}

}  // namespace
}  // namespace grpc_ingress::testing
