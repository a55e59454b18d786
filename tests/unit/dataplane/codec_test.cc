// Both HTTP/2 codecs wired to each other in memory, as Envoy's codec tests
// wire a client codec to a server codec: our H2ClientConnection (the codec
// that talks to pods) plays the client of a Worker whose H2ServerSession (the
// codec that talks to clients) routes to fake pods (tests/fakes/fake_pods.h). Real
// libnghttp2 frames cross a MemoryPipe; no socket, no process. What each case
// stands for is what a gRPC client would see over a real connection.

#include "dataplane/memory_pipe.h"
#include "dataplane/upstream/h2_client_connection.h"
#include "dataplane/worker.h"

#include "tests/fakes/fake_pods.h"
#include "tests/unit/run_until.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;
using namespace grpc_ingress::testing;

namespace {

constexpr std::string_view kHost = "greeter.example.com";

std::shared_ptr<const RouteTable> greeter_table() { return table_of(cluster_of(1)); }

// One client connection to a worker, through a MemoryPipe.
struct Wire {
  EndpointStates states;
  boost::asio::io_context pods_io;  // the fake pods never do I/O
  FakePods pods{pods_io};
  Worker worker{0, DownstreamOptions{}, UpstreamOptions{}, states, &pods};
  std::vector<std::string> client_failures;  // what the client connection reported as failed
  std::shared_ptr<H2ClientConnection> client;
  std::shared_ptr<MemoryPipe> client_end, server_end;

  Wire() {
    pods.handlers = {[this](const std::shared_ptr<ProxyStream>& stream, const std::string& reason,
                            UpstreamFailure failure) { worker.router().upstream_failed(stream, reason, failure); },
                     [this](const std::shared_ptr<ProxyStream>& stream) {
                       return worker.router().upstream_answered(stream);
                     }};
    worker.apply_table(greeter_table());
    std::tie(client_end, server_end) = MemoryPipe::make(worker.io());
    worker.adopt(Transport(server_end));
    UpstreamHandlers handlers{[this](const std::shared_ptr<ProxyStream>&, const std::string& reason,
                                     UpstreamFailure) { client_failures.push_back(reason); },
                              [](const std::shared_ptr<ProxyStream>&) { return true; }};
    client = std::make_shared<H2ClientConnection>(worker.io(), Endpoint{IpAddress::from("127.0.0.1"), 8080, "ingress", true},
                                                  UpstreamOptions{}, std::nullopt, handlers,
                                                  [](UpstreamConnection*) {}, nullptr);
    client->connect_over(Transport(client_end));
  }

  // Both ends closed, and every stream with them, while the worker and the
  // pods are still there to be told.
  ~Wire() {
    client->close("test over");
    run_until(worker.io(), [&] { return worker.connection_count() == 0; }, std::chrono::seconds(2));
  }

  // A unary gRPC call from the client, with `message` as its request body.
  std::shared_ptr<ProxyStream> call(const std::shared_ptr<FakeClient>& side, std::string_view message = "hello") {
    auto stream = ProxyStream::make(99, next_id += 2, std::weak_ptr<DownstreamSide>(side));
    stream->method = "POST";
    stream->scheme = "http";
    stream->authority = kHost;
    stream->path = "/helloworld.Greeter/SayHello";
    stream->request_headers = {{"content-type", "application/grpc"}, {"te", "trailers"}};
    stream->grpc = true;
    stream->request_body.append(reinterpret_cast<const uint8_t*>(message.data()), message.size());
    stream->request_ended = true;
    client->submit(*stream);
    return stream;
  }

  // The pod's side of the `n`th call the pods were given (0-based), once it is there.
  ProxyStream* at_pod(size_t n) {
    FakePod* pod = nullptr;
    run_until(worker.io(), [&] {
      pod = pods.has("10.0.0.1:50051") ? &pods.pod("10.0.0.1:50051") : nullptr;
      return pod && pod->started > static_cast<int>(n) && pod->streams.size() > 0;
    });
    if (!pod || pod->streams.empty()) return nullptr;
    return pod->streams.back();
  }
  // A call from a new client side, once the pod has it.
  struct Started {
    std::shared_ptr<FakeClient> side = std::make_shared<FakeClient>();
    std::shared_ptr<ProxyStream> call;
    ProxyStream* at_pod = nullptr;
  };
  Started start_call() {
    Started started;
    started.call = call(started.side);
    started.at_pod = at_pod(static_cast<size_t>(pods.has("10.0.0.1:50051") ? pod().started : 0));
    return started;
  }
  FakePod& pod() { return pods.pod("10.0.0.1:50051"); }
  bool run(const std::function<bool()>& done) { return run_until(worker.io(), done, std::chrono::seconds(3)); }

  int32_t next_id = 1;
};

std::string grpc_message(std::string_view payload) {
  std::string frame(5, '\0');
  frame[4] = static_cast<char>(payload.size());
  return frame + std::string(payload);
}

}  // namespace

TEST_CASE("codecs: a unary call crosses both HTTP/2 codecs: the pod sees the request, the client its answer",
          "[codec]") {
  Wire wire;
  auto side = std::make_shared<FakeClient>();
  auto call = wire.call(side, grpc_message("world"));
  ProxyStream* at_pod = wire.at_pod(0);
  REQUIRE(at_pod != nullptr);
  REQUIRE(wire.run([&] { return wire.pod().request_bytes == 10; }));
  CHECK(at_pod->path == "/helloworld.Greeter/SayHello");
  CHECK(at_pod->authority == kHost);
  CHECK(at_pod->grpc);
  REQUIRE(at_pod->request_headers.find("te") != nullptr);
  CHECK(*at_pod->request_headers.find("te") == "trailers");
  CHECK(at_pod->request_headers.find("x-request-id") != nullptr);  // the worker gave the call an id

  wire.pod().respond(*at_pod, grpc_message("hello world"), 0);
  REQUIRE(wire.run([&] { return side->ended; }));
  CHECK(side->http_status == 200);
  CHECK(side->body == grpc_message("hello world"));
  CHECK(side->grpc_status == 0);
  CHECK(wire.client_failures.empty());
  CHECK(call->upstream() == nullptr);  // the client connection let go of the finished stream
}

TEST_CASE("codecs: a client that stops reading holds back only its own stream", "[codec]") {
  Wire wire;
  auto slow = std::make_shared<FakeClient>();
  slow->reading = false;
  auto stalled = wire.call(slow);
  ProxyStream* stalled_at_pod = wire.at_pod(0);
  REQUIRE(stalled_at_pod != nullptr);
  REQUIRE(wire.pod().start_response(*stalled_at_pod));
  const std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 16; ++i) wire.pod().send(*stalled_at_pod, chunk);  // 1 MiB from the pod
  // The server sends until the client's stream window (256 KiB) is spent,
  // and takes from the pod only what it sent.
  REQUIRE(wire.run([&] { return wire.pod().consumed >= 256 * 1024; }));
  for (int i = 0; i < 20; ++i) wire.worker.io().poll();
  CHECK(wire.pod().consumed == 256 * 1024);
  CHECK(slow->body.empty());

  // Another call on the same connection is not held up.
  auto quick = std::make_shared<FakeClient>();
  auto other = wire.call(quick);
  ProxyStream* other_at_pod = wire.at_pod(1);
  REQUIRE(other_at_pod != nullptr);
  wire.pod().respond(*other_at_pod, grpc_message("fast"), 0);
  REQUIRE(wire.run([&] { return quick->ended; }));
  CHECK(quick->grpc_status == 0);

  // The slow client reads: the rest flows.
  slow->reading = true;
  slow->take(*stalled);
  REQUIRE(wire.run([&] {
    slow->take(*stalled);
    return slow->body.size() == 16 * chunk.size();
  }));
  // (The quick call's attempt ended with its whole answer handed over: no credit to give back.)
  CHECK(wire.pod().consumed == 16 * chunk.size());
}

TEST_CASE("codecs: a client's RST_STREAM cancels the pod's attempt", "[codec]") {
  Wire wire;
  auto side = std::make_shared<FakeClient>();
  auto call = wire.call(side);
  REQUIRE(wire.at_pod(0) != nullptr);
  call->cancel_upstream();  // the client codec resets the stream
  REQUIRE(wire.run([&] { return wire.pod().cancelled == 1; }));
  CHECK(wire.pod().streams.empty());
  CHECK(call->upstream() == nullptr);
}

TEST_CASE("codecs: a pod that breaks off after its answer began gives the client UNAVAILABLE in the trailers",
          "[codec]") {
  Wire wire;
  auto [side, call, at_pod] = wire.start_call();
  REQUIRE(at_pod != nullptr);
  REQUIRE(wire.pod().start_response(*at_pod));
  wire.pod().send(*at_pod, grpc_message("part"));
  wire.pod().reset(*at_pod);
  REQUIRE(wire.run([&] { return side->ended; }));
  CHECK(side->http_status == 200);
  CHECK(side->body == grpc_message("part"));
  CHECK(side->grpc_status == static_cast<int>(GrpcStatus::kUnavailable));
}

TEST_CASE("codecs: after the server's GOAWAY the running call finishes and the client opens no new stream",
          "[codec]") {
  Wire wire;
  auto [side, call, at_pod] = wire.start_call();
  REQUIRE(at_pod != nullptr);
  wire.worker.shutdown_sessions();
  REQUIRE(wire.run([&] { return !wire.client->accepting_streams(); }));
  wire.pod().respond(*at_pod, grpc_message("bye"), 0);
  REQUIRE(wire.run([&] { return side->ended; }));
  CHECK(side->grpc_status == 0);
  CHECK(side->body == grpc_message("bye"));
  // With nothing left to serve, the server closes the connection.
  REQUIRE(wire.run([&] { return wire.worker.connection_count() == 0; }));
}

TEST_CASE("codecs: bytes that are not HTTP/2 close the client's connection and nothing reaches a pod", "[codec]") {
  EndpointStates states;
  boost::asio::io_context pods_io;
  FakePods pods{pods_io};
  Worker worker{0, DownstreamOptions{}, UpstreamOptions{}, states, &pods};
  worker.apply_table(greeter_table());
  auto [client_end, server_end] = MemoryPipe::make(worker.io());
  worker.adopt(Transport(server_end));
  std::string garbage = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + std::string(64, '\xff');
  client_end->async_write(boost::asio::buffer(garbage), [](boost::system::error_code, size_t) {});
  bool eof = false;
  std::array<char, 4096> sink;
  std::function<void()> drain = [&] {
    client_end->async_read_some(boost::asio::buffer(sink), [&](boost::system::error_code ec, size_t) {
      if (ec) {
        eof = true;
      } else {
        drain();
      }
    });
  };
  drain();
  REQUIRE(run_until(worker.io(), [&] { return eof && worker.connection_count() == 0; }, std::chrono::seconds(3)));
  CHECK_FALSE(pods.has("10.0.0.1:50051"));
  CHECK(worker.stats().downstream_protocol_errors >= 1);
}
