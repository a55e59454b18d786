#include "dataplane/http1/response.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;

TEST_CASE("an HTTP/1.1 response is framed by what is known about its body") {
  // The whole body is known (a proxy-made answer, or the pod already finished).
  auto known = frame_response("GET", 11, 200, 12, std::nullopt);
  CHECK(known.framing == H1Framing::kContentLength);
  CHECK(known.content_length == 12);
  // The pod said how long it is.
  auto declared = frame_response("GET", 11, 200, std::nullopt, 5000);
  CHECK(declared.framing == H1Framing::kContentLength);
  CHECK(declared.content_length == 5000);
  // Unknown: chunked for HTTP/1.1, until close for HTTP/1.0.
  CHECK(frame_response("GET", 11, 200, std::nullopt, std::nullopt).framing == H1Framing::kChunked);
  auto old = frame_response("GET", 10, 200, std::nullopt, std::nullopt);
  CHECK(old.framing == H1Framing::kUntilClose);
  CHECK_FALSE(old.keep_alive);
  // No body at all.
  CHECK(frame_response("HEAD", 11, 200, std::nullopt, 5000).framing == H1Framing::kNone);
  CHECK(frame_response("GET", 11, 204, 0, std::nullopt).framing == H1Framing::kNone);
  CHECK(frame_response("GET", 11, 304, std::nullopt, std::nullopt).framing == H1Framing::kNone);
}

TEST_CASE("the response head carries our framing, not the pod's") {
  HeaderList headers = {{"content-type", "text/plain"}, {"content-length", "99"}, {"x-pod", "a"}};
  H1ResponseHead head{.status = 200, .framing = H1Framing::kChunked};
  std::string text = serialize_response_head(head, headers);
  CHECK(text ==
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-pod: a\r\ntransfer-encoding: chunked\r\n\r\n");

  H1ResponseHead closing{.status = 404, .framing = H1Framing::kContentLength, .content_length = 3, .keep_alive = false};
  CHECK(serialize_response_head(closing, {}) == "HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\nconnection: close\r\n\r\n");

  // HEAD keeps the length a GET would have had.
  H1ResponseHead head_only{.status = 200, .framing = H1Framing::kNone};
  CHECK(serialize_response_head(head_only, headers).find("content-length: 99\r\n") != std::string::npos);

  H1ResponseHead http10{.status = 299, .framing = H1Framing::kContentLength, .version = 10};
  CHECK(serialize_response_head(http10, {}) ==
        "HTTP/1.1 299 Status\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n");
}

TEST_CASE("chunks and the last chunk with trailers") {
  std::string out;
  const uint8_t data[] = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!', '!', '!', '!', '!', '!'};
  append_chunk(out, data, sizeof(data));
  append_chunk(out, data, 0);  // nothing: an empty chunk would end the body
  HeaderList trailers = {{"grpc-status", "0"}};
  append_last_chunk(out, &trailers);
  CHECK(out == "11\r\nhello world!!!!!!\r\n0\r\ngrpc-status: 0\r\n\r\n");
  std::string plain;
  append_last_chunk(plain, nullptr);
  CHECK(plain == "0\r\n\r\n");
}

TEST_CASE("the pod's content-length is read only when it is a plain number") {
  CHECK(content_length_of({{"content-length", "42"}}) == 42u);
  CHECK_FALSE(content_length_of({{"content-length", "4 2"}}));
  CHECK_FALSE(content_length_of({{"content-length", ""}}));
  CHECK_FALSE(content_length_of({{"x", "1"}}));
}
