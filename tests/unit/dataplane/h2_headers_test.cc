#include "dataplane/h2_headers.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace grpc_ingress;

namespace {
std::string text(const uint8_t* bytes, size_t n) { return std::string(reinterpret_cast<const char*>(bytes), n); }
}  // namespace

TEST_CASE("an nghttp2 header list keeps every header in order, inline or beyond", "[h2_headers]") {
  for (size_t count : {size_t{0}, size_t{3}, size_t{24}, size_t{25}, size_t{100}}) {
    std::vector<std::string> names, values;
    for (size_t i = 0; i < count; ++i) {
      names.push_back("x-header-" + std::to_string(i));
      values.push_back("value-" + std::to_string(i));
    }
    NvList list;
    for (size_t i = 0; i < count; ++i) list.add(names[i], values[i]);
    INFO(count << " headers");
    REQUIRE(list.size() == count);
    for (size_t i = 0; i < count; ++i) {
      CHECK(text(list.data()[i].name, list.data()[i].namelen) == names[i]);
      CHECK(text(list.data()[i].value, list.data()[i].valuelen) == values[i]);
    }
  }
}

TEST_CASE("hop-by-hop headers are not forwarded over HTTP/2, te: trailers is", "[h2_headers]") {
  CHECK(is_connection_specific("connection", "keep-alive"));
  CHECK(is_connection_specific("transfer-encoding", "chunked"));
  CHECK(is_connection_specific("te", "gzip"));
  CHECK_FALSE(is_connection_specific("te", "trailers"));
  CHECK_FALSE(is_connection_specific("content-type", "application/grpc"));
}
