#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>

namespace grpc_ingress {

// The allocator every HTTP/2 session of this process hands libnghttp2:
// its small blocks (streams, frames queued to send, header buffers: about
// fifteen per call) are recycled (recycled_memory.h).
nghttp2_mem* nghttp2_memory();

}  // namespace grpc_ingress
