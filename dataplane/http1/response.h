#pragma once

#include "dataplane/proxy_stream.h"

#include <cstdint>
#include <optional>
#include <string>

namespace grpc_ingress {

// How an HTTP/1.1 response delimits its body.
enum class H1Framing {
  kNone,           // HEAD, 1xx, 204, 304: no body whatever the headers say
  kContentLength,  // the length is known
  kChunked,        // HTTP/1.1 client, length unknown
  kUntilClose,     // HTTP/1.0 client, length unknown: the body ends with the connection
};

struct H1ResponseHead {
  int status = 200;
  H1Framing framing = H1Framing::kContentLength;
  uint64_t content_length = 0;  // kContentLength only
  bool keep_alive = true;       // false: "Connection: close"
  int version = 11;             // the client's: 10 or 11
};

// How to frame a response to a client request of `method` / `version`:
// `complete_body` is set when the whole body is already known (a proxy-made
// answer, an ended stream), `declared_length` is the pod's content-length.
H1ResponseHead frame_response(std::string_view method, int version, int status,
                              std::optional<uint64_t> complete_body,
                              std::optional<uint64_t> declared_length);

// The pod's content-length header, if it is a valid number.
std::optional<uint64_t> content_length_of(const HeaderList& headers);

// Status line and headers. Our framing replaces the pod's content-length
// (except for kNone, where it describes the body a GET would get).
std::string serialize_response_head(const H1ResponseHead& head, const HeaderList& headers);

// One chunk of a chunked body; and the last chunk with its trailer section.
void append_chunk(std::string& out, const uint8_t* data, size_t size);
void append_last_chunk(std::string& out, const HeaderList* trailers);

}  // namespace grpc_ingress
