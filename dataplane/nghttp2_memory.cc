#include "dataplane/nghttp2_memory.h"

#include "dataplane/recycled_memory.h"

#include <cstdint>
#include <cstring>

namespace grpc_ingress {
namespace {

// Per-call objects (streams, queued frames, header buffers) are smaller than
// 1 KiB and recycled. Larger blocks (the session itself, its frame buffer) are
// made once per connection and keep their exact size, so an idle connection
// holds no rounding; from 12 KiB (the 16 KiB outbound frame buffer) they get
// pages of their own, of which only those written count in RSS.
constexpr size_t kRecycleUpTo = 1024;
constexpr size_t kOwnPagesFrom = 12 * 1024;

LargeBlocks large_blocks(size_t size) { return size >= kOwnPagesFrom ? LargeBlocks::kOwnPages : LargeBlocks::kMalloc; }

void* session_malloc(size_t size, void*) { return recycled_allocate(size, kRecycleUpTo, large_blocks(size)); }

void session_free(void* block, void*) { recycled_free(block); }

void* session_calloc(size_t count, size_t size, void*) {
  if (size && count > SIZE_MAX / size) return nullptr;  // the product overflows: refused, not wrapped
  void* block = session_malloc(count * size, nullptr);
  if (block) std::memset(block, 0, count * size);
  return block;
}

void* session_realloc(void* block, size_t size, void*) {
  return recycled_reallocate(block, size, kRecycleUpTo, large_blocks(size));
}

}  // namespace

nghttp2_mem* nghttp2_memory() {
  static nghttp2_mem memory{nullptr, session_malloc, session_free, session_calloc, session_realloc};
  return &memory;
}

}  // namespace grpc_ingress
