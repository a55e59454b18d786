// gRPC-Web: base64 both ways, and a stream's text-mode body path (request
// bytes decoded a chunk at a time, response bytes and trailers encoded) with
// the flow-control credit that converts between the two sizes.
//   byte 0: request chunk size; byte 1: limits; then the content type up to
//   '\n'; the rest is the body.

#include "common/base64.h"
#include "dataplane/grpc.h"
#include "dataplane/proxy_stream.h"
#include "tests/fuzz/fuzz_input.h"

#include <algorithm>
#include <cstdint>
#include <string>

using namespace grpc_ingress;

namespace {

// What the stream queued for the pod, while a reader takes it in pieces and
// hands back the credit each piece is worth; the credit never exceeds the
// bytes received.
void drain_request(ProxyStream& stream, uint64_t received, uint64_t& credited, std::string& forwarded) {
  uint8_t piece[97];
  while (!stream.request_body.empty()) {
    size_t n = stream.request_body.read(piece, sizeof(piece));
    forwarded.append(reinterpret_cast<const char*>(piece), n);
    credited += stream.request_credit(n);
  }
  fuzz::check(credited <= received);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::quiet_logs();
  fuzz::FuzzInput input(data, size);
  const size_t chunk = size_t{input.byte()} + 1;
  const uint8_t limits = input.byte();
  const std::string_view content_type = input.until('\n');
  const std::string_view body = input.rest();

  // Base64: what decodes re-encodes to something that decodes the same.
  if (auto decoded = decode_base64(body)) fuzz::check(decode_base64(encode_base64(*decoded)) == *decoded);
  fuzz::check(decode_base64(encode_base64(body)) == std::string(body));

  GrpcWebMode mode = grpc_web_mode(content_type);
  (void)is_grpc_content_type(content_type);

  ProxyStream stream(1, 1, {});
  stream.grpc_web = mode == GrpcWebMode::kNone ? GrpcWebMode::kText : mode;
  stream.grpc = true;
  stream.max_message_bytes = limits & 1 ? 64 : 0;

  // Request: as DATA frames of `chunk` bytes arrive.
  uint64_t received = 0, credited = 0;
  std::string forwarded;
  bool refused = false;
  for (size_t pos = 0; pos < body.size() && !refused; pos += chunk) {
    std::string_view piece = body.substr(pos, chunk);
    received += piece.size();
    refused = !stream.take_request_body(reinterpret_cast<const uint8_t*>(piece.data()), piece.size());
    drain_request(stream, received, credited, forwarded);
  }
  // Chunk boundaries never change the bytes: a whole body of unbroken base64
  // groups reaches the pod as it decodes in one piece.
  if (stream.grpc_web == GrpcWebMode::kText && !refused && !stream.max_message_bytes && body.size() % 4 == 0 &&
      body.find_first_of("\r\n") == std::string_view::npos) {
    if (auto whole = decode_base64(body)) fuzz::check(forwarded == *whole);
  }

  // Response: the same bytes from the pod, then trailers, towards the browser.
  ProxyStream response(1, 3, {});
  response.grpc_web = stream.grpc_web;
  response.grpc = true;
  response.max_message_bytes = stream.max_message_bytes;
  response.response.headers = {{"content-type", "application/grpc"}};
  response.cors_origin = limits & 2 ? "*" : "";
  response.prepare_response_headers();
  uint64_t sent = 0, returned = 0;
  for (size_t pos = 0; pos < body.size(); pos += chunk) {
    std::string_view piece = body.substr(pos, chunk);
    if (!response.take_response_body(reinterpret_cast<const uint8_t*>(piece.data()), piece.size())) break;
    sent += piece.size();
    size_t queued = response.response.body.size();
    response.response.body.clear();
    returned += response.response_credit(queued);
    fuzz::check(returned <= sent);
  }
  std::string message = percent_encode_grpc_message(content_type);
  response.response.trailers = {{"grpc-status", "0"}, {"grpc-message", message}};
  response.trailers_into_body();
  returned += response.response_credit(response.response.body.size());
  fuzz::check(returned <= sent);
  return 0;
}
