#include "dataplane/http1/request_parser.h"

#include <boost/beast/http/error.hpp>
#include <catch2/catch.hpp>

#include <string>

using namespace grpc_ingress;

namespace {

namespace http = boost::beast::http;

struct Parsed {
  boost::beast::error_code ec;
  std::string body;
  size_t consumed = 0;
};

// Feeds all of `bytes` (in pieces of `step`), moving the body into a queue with room to spare.
Parsed parse(H1RequestParser& parser, const std::string& bytes, size_t step = SIZE_MAX) {
  Parsed out;
  ProxyStream sink(1, 1, {});
  size_t pos = 0;
  while (!parser.done()) {
    parser.set_body_sink(&sink, 1 << 20);
    size_t end = std::min(bytes.size(), pos + std::min(step, bytes.size() - pos));
    boost::beast::error_code ec;
    size_t n = parser.feed(bytes.data() + pos, end - pos, ec);
    pos += n;
    out.consumed = pos;
    if (ec == http::error::need_more && end < bytes.size()) {
      // The parser wants more than this piece: offer the next one as well.
      step = step == SIZE_MAX ? step : step * 2;
      continue;
    }
    if (ec) {
      out.ec = ec;
      break;
    }
    if (n == 0 && pos == bytes.size()) break;
  }
  while (!sink.request_body.empty()) {
    uint8_t buf[256];
    size_t n = sink.request_body.read(buf, sizeof(buf));
    out.body.append(reinterpret_cast<char*>(buf), n);
  }
  return out;
}

const std::string_view* find(const HeaderList& headers, const std::string& name) { return headers.find(name); }

}  // namespace

TEST_CASE("an HTTP/1.1 request head becomes an HTTP/2 request: Host is the authority, names lower-case") {
  H1RequestParser parser(64 * 1024, 1 << 20);
  Parsed parsed = parse(parser, "GET /a/b?c=d HTTP/1.1\r\nHost: Web.Example:8080\r\nX-Custom: Value\r\n\r\n");
  REQUIRE_FALSE(parsed.ec);
  REQUIRE(parser.done());
  const H1Request& request = parser.request();
  CHECK(request.method == "GET");
  CHECK(request.path == "/a/b?c=d");
  CHECK(request.authority == "Web.Example:8080");
  CHECK(request.version == 11);
  CHECK(request.keep_alive);
  CHECK_FALSE(request.has_body);
  REQUIRE(find(request.headers, "x-custom"));
  CHECK(*find(request.headers, "x-custom") == "Value");
  CHECK_FALSE(find(request.headers, "host"));
}

TEST_CASE("hop-by-hop headers and the headers Connection names are not forwarded") {
  H1RequestParser parser(64 * 1024, 1 << 20);
  Parsed parsed = parse(parser,
                        "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\n"
                        "Keep-Alive: timeout=5\r\nProxy-Connection: x\r\nUpgrade: h2c\r\nHTTP2-Settings: AAA\r\n"
                        "TE: trailers, deflate\r\nX-Public: 2\r\n\r\n");
  REQUIRE_FALSE(parsed.ec);
  const H1Request& request = parser.request();
  for (const char* gone : {"connection", "x-private", "keep-alive", "proxy-connection", "upgrade", "http2-settings"}) {
    INFO(gone);
    CHECK_FALSE(find(request.headers, gone));
  }
  CHECK(find(request.headers, "x-public"));
  // TE survives only as the one value HTTP/2 allows.
  REQUIRE(find(request.headers, "te"));
  CHECK(*find(request.headers, "te") == "trailers");
  CHECK(request.accepts_trailers);
}

TEST_CASE("an absolute-form target names the authority, over the Host header") {
  H1RequestParser parser(64 * 1024, 1 << 20);
  Parsed parsed = parse(parser, "GET http://api.example/v1?q HTTP/1.1\r\nHost: other\r\n\r\n");
  REQUIRE_FALSE(parsed.ec);
  CHECK(parser.request().authority == "api.example");
  CHECK(parser.request().path == "/v1?q");
}

TEST_CASE("a chunked request body arrives whole, with its trailers, however the bytes are split") {
  const std::string bytes =
      "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Checksum: 42\r\nKeep-Alive: 9\r\n\r\n";
  for (size_t step : {size_t{1}, size_t{7}, SIZE_MAX}) {
    INFO("step " << step);
    H1RequestParser parser(64 * 1024, 1 << 20);
    Parsed parsed = parse(parser, bytes, step);
    REQUIRE_FALSE(parsed.ec);
    CHECK(parser.done());
    CHECK(parsed.body == "hello world");
    CHECK(parser.request().has_body);
    CHECK_FALSE(find(parser.request().headers, "transfer-encoding"));
    REQUIRE(parser.request().trailers.size() == 1);  // hop-by-hop fields are dropped here too
    CHECK(parser.request().trailers[0].name == "x-checksum");
  }
}

TEST_CASE("the body goes only as far as the room the caller gives") {
  H1RequestParser parser(64 * 1024, 1 << 20);
  std::string bytes = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789";
  boost::beast::error_code ec;
  size_t n = parser.feed(bytes.data(), bytes.size(), ec);
  REQUIRE(parser.head_done());
  ProxyStream sink(1, 1, {});
  parser.set_body_sink(&sink, 4);
  n += parser.feed(bytes.data() + n, bytes.size() - n, ec);
  CHECK(sink.request_body.size() == 4);
  CHECK(parser.body_room() == 0);
  CHECK_FALSE(parser.done());
  parser.set_body_sink(&sink, 100);
  n += parser.feed(bytes.data() + n, bytes.size() - n, ec);
  CHECK(sink.request_body.size() == 10);
  CHECK(parser.done());
  CHECK(n == bytes.size());
}

TEST_CASE("HTTP/1.1 request errors map to the status the client gets") {
  struct Case {
    std::string bytes;
    int status;
  };
  std::string big_header = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(2000, 'x') + "\r\n\r\n";
  for (const Case& c : {
           Case{big_header, 431},
           Case{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n", 413},
           Case{"GET / HTTP/1.1\r\n\r\n", 400},                                       // no Host
           Case{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},                 // two Hosts
           Case{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
           Case{"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505},
           Case{"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 405},
           Case{"GET nowhere HTTP/1.1\r\nHost: a\r\n\r\n", 400},
       }) {
    INFO(c.bytes.substr(0, 80));
    H1RequestParser parser(1024, 1000);
    Parsed parsed = parse(parser, c.bytes);
    REQUIRE(parsed.ec);
    CHECK(parser.error_status(parsed.ec) == c.status);
    CHECK_FALSE(parser.error_reason(parsed.ec).empty());
  }
}

TEST_CASE("a chunked body over the limit is refused with 413 once it crosses it") {
  H1RequestParser parser(1024, 8);
  Parsed parsed = parse(parser, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n");
  REQUIRE(parsed.ec);
  CHECK(parser.error_status(parsed.ec) == 413);
}

TEST_CASE("HTTP/1.0 closes unless it asks for keep-alive, Host may be missing") {
  H1RequestParser plain(1024, 1000);
  REQUIRE_FALSE(parse(plain, "GET / HTTP/1.0\r\n\r\n").ec);
  CHECK_FALSE(plain.request().keep_alive);
  CHECK(plain.request().authority.empty());

  H1RequestParser keep(1024, 1000);
  REQUIRE_FALSE(parse(keep, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").ec);
  CHECK(keep.request().keep_alive);

  H1RequestParser close(1024, 1000);
  REQUIRE_FALSE(parse(close, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").ec);
  CHECK_FALSE(close.request().keep_alive);
}

TEST_CASE("Expect: 100-continue and the content-type are noted, not forwarded as-is") {
  H1RequestParser parser(1024, 1000);
  REQUIRE_FALSE(parse(parser, "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Type: application/grpc\r\n"
                              "Content-Length: 0\r\n\r\n")
                     .ec);
  CHECK(parser.request().expect_continue);
  CHECK(parser.request().content_type == "application/grpc");
  CHECK_FALSE(find(parser.request().headers, "expect"));
  CHECK(find(parser.request().headers, "content-length"));
}
