// The PROXY protocol header parser, fed as ProxyProtocolReader feeds it: the
// bytes that have arrived so far, growing, until it completes or fails.
//   byte 0: how many bytes arrive at a time; the rest is what the balancer
//   (or an attacker in its place) sent.

#include "dataplane/downstream/proxy_protocol.h"
#include "tests/fuzz/fuzz_input.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace grpc_ingress;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::quiet_logs();
  fuzz::FuzzInput input(data, size);
  const size_t arrival = size_t{input.byte()} + 1;
  std::string_view wire = input.rest();
  for (size_t seen = std::min(arrival, wire.size());; seen = std::min(seen + arrival, wire.size())) {
    std::string_view so_far = wire.substr(0, seen);
    ProxyParse parse = parse_proxy_header(so_far);
    if (parse.status == ProxyParseStatus::kDone) {
      // The header never reaches past what arrived, nor past its bounds.
      if (parse.header.length == 0 || parse.header.length > so_far.size() ||
          parse.header.length > kProxyHeaderMaxBytes) {
        std::abort();
      }
      if (parse.header.version == 1 && parse.header.length > kProxyV1MaxBytes) std::abort();
      // More bytes after a complete header change nothing.
      ProxyParse again = parse_proxy_header(wire);
      if (again.status != ProxyParseStatus::kDone || again.header.length != parse.header.length) std::abort();
      return 0;
    }
    if (parse.status == ProxyParseStatus::kError) {
      if (parse.error == nullptr || *parse.error == '\0') std::abort();
      return 0;
    }
    // Needing more is only possible below the bounds.
    if (so_far.size() >= kProxyHeaderMaxBytes) std::abort();
    if (seen == wire.size()) return 0;
  }
}
