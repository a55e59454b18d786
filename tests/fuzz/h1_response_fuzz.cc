// The parser of a pod's HTTP/1.1 responses, fed as H1ClientConnection feeds
// it: bytes arrive in pieces, interim (1xx) heads restart it, body bytes go
// to the stream only as far as its window allows, and the pod may close the
// connection to end a body.
//   byte 0: how many bytes arrive at a time; byte 1: the stream window;
//   byte 2: request kind and stream mode; the rest is what the pod sent.

#include "dataplane/grpc.h"
#include "dataplane/proxy_stream.h"
#include "dataplane/http1/response_parser.h"
#include "tests/fuzz/fuzz_input.h"

#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>

using namespace grpc_ingress;

namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::quiet_logs();
  fuzz::FuzzInput input(data, size);
  const size_t arrival = size_t{input.byte()} + 1;
  const size_t window = size_t{input.byte()} * 64 + 1;
  const uint8_t mode = input.byte();
  const bool head_request = mode & 1;
  fuzz::Arrivals wire(input.rest(), arrival);

  ProxyStream stream(1, 1, {});
  stream.method = head_request ? "HEAD" : "POST";
  stream.grpc_web = static_cast<GrpcWebMode>((mode >> 1) % 3);
  stream.grpc = stream.grpc_web != GrpcWebMode::kNone || (mode & 8);
  stream.max_message_bytes = mode & 16 ? 16 : 0;

  std::optional<H1ResponseParser> parser(std::in_place, kMaxHeaderBytes, head_request);
  bool head_delivered = false;
  for (int turn = 0; turn < fuzz::kMaxParserTurns && !parser->done(); ++turn) {
    size_t room = SIZE_MAX;
    if (head_delivered) {
      size_t queued = stream.response.body.size();
      if (queued >= window) {
        stream.response.body.clear();  // the client read what was queued
        continue;
      }
      room = window - queued;
    }
    if (wire.buffered().empty() && !wire.receive()) break;
    boost::beast::error_code ec;
    size_t used = parser->feed(stream, wire.buffered().data(), wire.buffered().size(), room, ec);
    wire.consume(used);
    if (ec == boost::beast::http::error::need_more) {
      if (!wire.receive()) break;
      continue;
    }
    if (ec) return 0;  // the connection closes as malformed
    if (parser->head_done() && !head_delivered) {
      int status = parser->status();
      if (status >= 100 && status < 200) {
        if (status == 101) return 0;
        parser.emplace(kMaxHeaderBytes, head_request);
        continue;
      }
      head_delivered = true;
      stream.prepare_response_headers();
      continue;
    }
    if (used == 0 && parser->body_taken() == 0 && !parser->done()) {
      stream.response.body.clear();  // no room: the client reads
    }
  }
  if (!parser->done() && wire.all_consumed()) {
    // The pod closed the connection: that may end a body without a length.
    boost::beast::error_code ec;
    parser->feed_eof(ec);
  }
  if (parser->done()) {
    (void)parser->keep_alive();
    stream.trailers_into_body();
  }
  return 0;
}
