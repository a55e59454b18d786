// The HTTP/1.1 request parser, fed as H1ServerSession feeds it: bytes arrive
// in pieces, the head is taken before the body, body bytes go to a stream
// (gRPC-Web text decoding, message limits) only as fast as its room allows,
// and pipelined requests follow on the same connection.
//   byte 0: how many bytes arrive at a time; byte 1: body room per turn;
//   byte 2: limits; the rest is what the client sent.

#include "dataplane/http1/request_parser.h"
#include "dataplane/grpc.h"
#include "dataplane/proxy_stream.h"
#include "tests/fuzz/fuzz_input.h"

#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <cstdint>

using namespace grpc_ingress;

namespace {

constexpr int kMaxRequests = 16;    // per connection

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::quiet_logs();
  fuzz::FuzzInput input(data, size);
  const size_t arrival = size_t{input.byte()} + 1;
  const size_t room = size_t{input.byte()} * 64 + 1;
  const uint8_t limits = input.byte();
  const size_t max_header_bytes = limits & 1 ? 256 : 64 * 1024;
  const uint64_t max_body_bytes = limits & 2 ? 100 : 64ull * 1024 * 1024;
  const uint32_t max_message_bytes = limits & 4 ? 16 : 0;
  fuzz::Arrivals wire(input.rest(), arrival);

  int turns = 0;
  for (int request = 1; request <= kMaxRequests; ++request) {
    H1RequestParser parser(max_header_bytes, max_body_bytes);
    ProxyStream stream(1, request, {});
    bool head_seen = false;
    for (; turns < fuzz::kMaxParserTurns; ++turns) {
      if (parser.head_done()) {
        if (stream.response.ended) {
          parser.set_body_sink(nullptr, 0);
        } else if (parser.body_room() == 0) {
          stream.request_body.clear();  // the pod took what was queued
          parser.set_body_sink(&stream, room);
        }
      }
      if (wire.buffered().empty() && !wire.receive()) return 0;  // the client closed
      boost::beast::error_code ec;
      wire.consume(parser.feed(wire.buffered().data(), wire.buffered().size(), ec));
      if (ec == boost::beast::http::error::need_more) {
        if (!wire.receive()) return 0;
        continue;
      }
      if (ec) {
        // The session answers and closes the connection.
        (void)parser.error_status(ec);
        (void)parser.error_reason(ec);
        return 0;
      }
      if (parser.head_done() && !head_seen) {
        head_seen = true;
        const H1Request& head = parser.request();
        stream.grpc_web = grpc_web_mode(head.content_type);
        stream.grpc = stream.grpc_web != GrpcWebMode::kNone || is_grpc_content_type(head.content_type);
        stream.max_message_bytes = max_message_bytes;
        parser.set_body_sink(&stream, room);
      }
      if (parser.done()) {
        if (!parser.request().keep_alive) return 0;
        break;
      }
    }
  }
  return 0;
}
