#include "dataplane/buffer_account.h"

#include "dataplane/byte_queue.h"
#include "dataplane/proxy_stream.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace grpc_ingress;

namespace {
void put(ByteQueue& queue, size_t n) {
  std::string bytes(n, 'x');
  queue.append(reinterpret_cast<const uint8_t*>(bytes.data()), n);
}
}  // namespace

TEST_CASE("bytes queued for a stream count in its connection's and its worker's accounts until they leave", "[buffers]") {
  BufferAccount worker;
  auto connection = std::make_shared<BufferAccount>(&worker);
  BufferAccount stream(connection.get());
  {
    ByteQueue request(&stream), response(&stream);
    put(request, 100);
    put(response, 1000);
    CHECK(stream.bytes() == 1100);
    CHECK(connection->bytes() == 1100);
    CHECK(worker.bytes() == 1100);
    uint8_t out[300];
    CHECK(response.read(out, sizeof(out)) == 300);
    CHECK(worker.bytes() == 800);
    request.prepend(std::string(50, 'r'));  // a replayed body counts again
    CHECK(connection->bytes() == 850);
    request.clear();
    CHECK(stream.bytes() == 700);
  }
  // A queue that goes away takes its bytes out of every account.
  CHECK(stream.bytes() == 0);
  CHECK(worker.bytes() == 0);
}

TEST_CASE("an account tells its owner once each time it goes over its limit", "[buffers]") {
  int told = 0;
  BufferAccount worker(nullptr, 1000, [&] { ++told; });
  BufferAccount stream(&worker);
  stream.add(1000);
  CHECK(told == 0);  // at the limit is not over it
  CHECK_FALSE(worker.over_limit());
  stream.add(1);
  CHECK(told == 1);
  CHECK(worker.over_limit());
  stream.add(500);
  CHECK(told == 1);  // still over: no second call
  stream.remove(600);
  stream.add(100);
  CHECK(told == 2);  // went under, then over again
}

TEST_CASE("the worker gauge mirrors the bytes held, and stops when the worker goes", "[buffers]") {
  std::atomic<uint64_t> gauge{0};
  BufferAccount worker;
  worker.mirror_into(&gauge);
  worker.add(42);
  CHECK(gauge.load() == 42);
  worker.remove(40);
  CHECK(gauge.load() == 2);
  worker.mirror_into(nullptr);
  worker.remove(2);
  CHECK(gauge.load() == 2);
}

TEST_CASE("over a budget the streams holding the most bytes are shed first, and only as many as needed", "[buffers]") {
  BufferAccount worker;
  auto connection = std::make_shared<BufferAccount>(&worker, 1000);
  std::vector<std::shared_ptr<ProxyStream>> streams;
  for (size_t i = 0; i < 4; ++i) {
    auto stream = ProxyStream::make(1, static_cast<int32_t>(2 * i + 1), std::weak_ptr<DownstreamSide>(),
                                                connection);
    stream->grpc = true;
    put(stream->response.body, 200 * (i + 1));  // 200, 400, 600, 800 bytes: 2000 in all
    streams.push_back(stream);
  }
  CHECK(connection->bytes() == 2000);
  auto candidates = streams;
  size_t shed = shed_largest_streams(candidates, *connection, "over the test budget");
  // The 800- and 600-byte streams go (2000 -> 600); the two small ones keep their bytes.
  CHECK(shed == 2);
  CHECK(streams[3]->buffered_bytes() == 0);
  CHECK(streams[2]->buffered_bytes() == 0);
  CHECK(streams[1]->buffered_bytes() == 400);
  CHECK(streams[0]->buffered_bytes() == 200);
  CHECK(connection->bytes() == 600);
  CHECK(worker.bytes() == 600);
  // A gRPC stream that had not answered yet is answered RESOURCE_EXHAUSTED (8), trailers-only.
  CHECK(streams[3]->response.ended);
  CHECK(streams[3]->response.trailers_only);
  bool resource_exhausted = false;
  for (const Header& header : streams[3]->response.headers) {
    if (header.name == "grpc-status") resource_exhausted = header.value == "8";
  }
  CHECK(resource_exhausted);
}
