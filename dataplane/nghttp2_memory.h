#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>

namespace grpc_ingress {

// The allocator every HTTP/2 session of this process hands libnghttp2: small
// blocks (streams, frames queued to send, header buffers: about fifteen per
// call) are recycled through free lists of the calling thread instead of going
// to malloc each time. Each worker runs its sessions on one thread, so the
// lists need no lock; a block freed on another thread joins that thread's
// lists. What the lists hold is capped (kMaxCachedBytes a thread), so a burst
// does not pin its memory. Sanitizer builds pass straight to malloc, so ASan
// still sees every block.
nghttp2_mem* nghttp2_memory();

// Blocks this thread holds in its free lists, in bytes (for tests).
size_t nghttp2_memory_cached_bytes();

}  // namespace grpc_ingress
