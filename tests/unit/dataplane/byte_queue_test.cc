#include "dataplane/byte_queue.h"

#include <catch2/catch.hpp>

#include <string>

using namespace grpc_ingress;

namespace {
std::string drain(ByteQueue& queue, size_t chunk) {
  std::string out;
  uint8_t buf[64];
  while (!queue.empty()) {
    size_t n = queue.read(buf, std::min(chunk, sizeof(buf)));
    out.append(reinterpret_cast<char*>(buf), n);
  }
  return out;
}
}  // namespace

TEST_CASE("byte queue returns bytes in order across partial reads", "[byte_queue]") {
  ByteQueue queue;
  std::string a = "hello ", b = "world";
  queue.append(reinterpret_cast<const uint8_t*>(a.data()), a.size());
  queue.append(reinterpret_cast<const uint8_t*>(b.data()), b.size());
  CHECK(queue.size() == 11);
  CHECK(drain(queue, 3) == "hello world");
  CHECK(queue.empty());
}

TEST_CASE("a replayed request body goes back in front of what is still queued", "[byte_queue]") {
  ByteQueue queue;
  std::string rest = "tail";
  queue.append(reinterpret_cast<const uint8_t*>(rest.data()), rest.size());
  queue.prepend("head-");
  CHECK(drain(queue, 7) == "head-tail");
}
