// gRPC framing read from clients and pods: the length-prefix scanner behind
// grpc-ingress.io/max-message-bytes, the grpc-timeout header, the health
// check answer, and the grpc-message encoding.
//   byte 0: scanner chunk size; byte 1: limit; then a grpc-timeout value up
//   to '\n'; the rest is a message stream.

#include "dataplane/grpc.h"
#include "tests/fuzz/fuzz_input.h"

#include <cstdint>
#include <string>

using namespace grpc_ingress;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::quiet_logs();
  fuzz::FuzzInput input(data, size);
  const size_t chunk = size_t{input.byte()} + 1;
  const uint64_t limit = uint64_t{input.byte()} << (input.byte() % 32);
  const std::string_view timeout = input.until('\n');
  const std::string_view stream = input.rest();
  const auto* bytes = reinterpret_cast<const uint8_t*>(stream.data());

  // The first message over the limit is found whatever the DATA frame
  // boundaries: in one piece or in chunks, the same length.
  GrpcMessageScanner whole;
  uint64_t over_whole = whole.feed(bytes, stream.size(), limit);
  GrpcMessageScanner pieces;
  uint64_t over_pieces = 0;
  for (size_t pos = 0; pos < stream.size() && !over_pieces; pos += chunk) {
    over_pieces = pieces.feed(bytes + pos, std::min(chunk, stream.size() - pos), limit);
  }
  fuzz::check(over_whole == over_pieces);
  fuzz::check(over_whole == 0 || over_whole > limit);
  if (!over_whole) fuzz::check(whole.messages() == pieces.messages());  // counted alike too

  if (auto parsed = parse_grpc_timeout(timeout)) fuzz::check(parsed->count() >= 0);

  if (auto status = decode_health_check_response(stream)) (void)*status;

  std::string encoded = percent_encode_grpc_message(stream);
  for (char c : encoded) fuzz::check(c >= 0x20 && c <= 0x7e);
  (void)encode_health_check_request(timeout);
  return 0;
}
