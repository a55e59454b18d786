#include "dataplane/nghttp2_memory.h"

#include <nghttp2/nghttp2.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define GRPC_INGRESS_PLAIN_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GRPC_INGRESS_PLAIN_MALLOC 1
#endif
#endif

namespace grpc_ingress {
namespace {

#ifndef GRPC_INGRESS_PLAIN_MALLOC

// Every block starts with this header (16 bytes keep the payload aligned for
// any type): which size class it is, or kLarge with its size.
struct alignas(16) BlockHeader {
  uint32_t size_class;
  uint32_t unused;
  size_t capacity;  // payload bytes
};
constexpr uint32_t kLarge = UINT32_MAX;
constexpr uint32_t kMapped = UINT32_MAX - 1;
// Blocks this large (a session's 16 KiB outbound frame buffer) get pages of
// their own: only the pages a connection writes count in RSS, so an idle
// connection does not hold a whole recycled buffer, and closing it returns them.
constexpr size_t kMapAtLeast = 12 * 1024;
constexpr size_t kSmallest = 32;                 // payload of class 0
// Per-call objects (streams, queued frames, header buffers) are smaller than
// 1 KiB; larger blocks (the session itself, its frame buffer) are allocated
// once per connection and keep their exact size.
constexpr size_t kClasses = 6;                   // 32 B .. 1 KiB payloads
constexpr size_t kMaxCachedBytes = 1024 * 1024;  // per thread

constexpr size_t class_capacity(uint32_t size_class) { return kSmallest << size_class; }

uint32_t class_for(size_t size) {
  uint32_t size_class = 0;
  while (size_class < kClasses && class_capacity(size_class) < size) ++size_class;
  return size_class < kClasses ? size_class : kLarge;
}

struct FreeBlock {
  FreeBlock* next;
};

BlockHeader* header_of(void* payload) { return static_cast<BlockHeader*>(payload) - 1; }

void* new_block(size_t capacity, uint32_t size_class) {
  BlockHeader* header = nullptr;
  if (size_class == kLarge && capacity >= kMapAtLeast) {
    void* pages = mmap(nullptr, sizeof(BlockHeader) + capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
    if (pages == MAP_FAILED) return nullptr;
    header = static_cast<BlockHeader*>(pages);
    size_class = kMapped;
  } else {
    header = static_cast<BlockHeader*>(std::malloc(sizeof(BlockHeader) + capacity));
  }
  if (!header) return nullptr;
  header->size_class = size_class;
  header->capacity = capacity;
  return header + 1;
}

void delete_block(BlockHeader* header) {
  if (header->size_class == kMapped) {
    munmap(header, sizeof(BlockHeader) + header->capacity);
  } else {
    std::free(header);
  }
}

// Set once this thread's cache is destroyed (thread exit): blocks freed later
// go straight back to malloc. A plain bool, so it outlives the cache.
thread_local bool cache_gone = false;

class ThreadCache {
 public:
  ~ThreadCache() {
    cache_gone = true;
    for (FreeBlock*& list : lists_) {
      while (list) {
        FreeBlock* next = list->next;
        std::free(header_of(list));
        list = next;
      }
    }
  }

  void* allocate(size_t size) {
    uint32_t size_class = class_for(size);
    if (size_class == kLarge) return new_block(size, kLarge);
    if (FreeBlock* block = lists_[size_class]) {
      lists_[size_class] = block->next;
      cached_bytes_ -= class_capacity(size_class);
      return block;
    }
    return new_block(class_capacity(size_class), size_class);
  }

  void release(void* payload) {
    uint32_t size_class = header_of(payload)->size_class;
    if (size_class >= kClasses || cached_bytes_ + class_capacity(size_class) > kMaxCachedBytes) {
      delete_block(header_of(payload));
      return;
    }
    auto* block = static_cast<FreeBlock*>(payload);
    block->next = lists_[size_class];
    lists_[size_class] = block;
    cached_bytes_ += class_capacity(size_class);
  }

  size_t cached_bytes() const { return cached_bytes_; }

 private:
  std::array<FreeBlock*, kClasses> lists_{};
  size_t cached_bytes_ = 0;
};

ThreadCache* cache() {
  if (cache_gone) return nullptr;
  static thread_local ThreadCache thread_cache;
  return &thread_cache;
}

void* pool_malloc(size_t size, void*) {
  ThreadCache* thread_cache = cache();
  return thread_cache ? thread_cache->allocate(size) : new_block(size, kLarge);
}

void pool_free(void* ptr, void*) {
  if (!ptr) return;
  if (ThreadCache* thread_cache = cache()) {
    thread_cache->release(ptr);
  } else {
    delete_block(header_of(ptr));
  }
}

void* pool_calloc(size_t count, size_t size, void*) {
  if (size && count > SIZE_MAX / size) return nullptr;
  void* payload = pool_malloc(count * size, nullptr);
  if (payload) std::memset(payload, 0, count * size);
  return payload;
}

void* pool_realloc(void* ptr, size_t size, void*) {
  if (!ptr) return pool_malloc(size, nullptr);
  size_t capacity = header_of(ptr)->capacity;
  if (size <= capacity) return ptr;
  void* grown = pool_malloc(size, nullptr);
  if (!grown) return nullptr;  // as realloc: the old block stays valid
  std::memcpy(grown, ptr, capacity);
  pool_free(ptr, nullptr);
  return grown;
}

#else  // sanitizers: every block straight from malloc

void* pool_malloc(size_t size, void*) { return std::malloc(size); }
void pool_free(void* ptr, void*) { std::free(ptr); }
void* pool_calloc(size_t count, size_t size, void*) {
  if (size && count > SIZE_MAX / size) return nullptr;  // as the pooled build: refused, not reported
  return std::calloc(count, size);
}
void* pool_realloc(void* ptr, size_t size, void*) { return std::realloc(ptr, size); }

#endif

}  // namespace

nghttp2_mem* nghttp2_memory() {
  static nghttp2_mem memory{nullptr, pool_malloc, pool_free, pool_calloc, pool_realloc};
  return &memory;
}

size_t nghttp2_memory_cached_bytes() {
#ifndef GRPC_INGRESS_PLAIN_MALLOC
  ThreadCache* thread_cache = cache();
  return thread_cache ? thread_cache->cached_bytes() : 0;
#else
  return 0;
#endif
}

}  // namespace grpc_ingress
