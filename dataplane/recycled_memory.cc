#include "dataplane/recycled_memory.h"

#include <algorithm>
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

#ifndef GRPC_INGRESS_PLAIN_MALLOC

namespace {

// Every block starts with this header (16 bytes keep the payload aligned for
// any type): which size class it is, or kLarge / kMapped with its size.
struct alignas(16) BlockHeader {
  uint32_t size_class;
  uint32_t unused;
  size_t capacity;  // payload bytes
};
constexpr uint32_t kLarge = UINT32_MAX;
constexpr uint32_t kMapped = UINT32_MAX - 1;
constexpr size_t kSmallest = 32;  // payload of class 0
constexpr size_t kClasses = 9;    // 32 B .. 8 KiB payloads

constexpr size_t class_capacity(uint32_t size_class) { return kSmallest << size_class; }
static_assert(class_capacity(kClasses - 1) == kMaxRecycledBlock);

uint32_t class_for(size_t size, size_t recycle_up_to) {
  if (size > recycle_up_to) return kLarge;
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
  if (size_class == kMapped) {
    void* pages = mmap(nullptr, sizeof(BlockHeader) + capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
    if (pages == MAP_FAILED) return nullptr;
    header = static_cast<BlockHeader*>(pages);
  } else {
    if (capacity > SIZE_MAX - sizeof(BlockHeader)) return nullptr;
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
    for (uint32_t size_class = 0; size_class < kClasses; ++size_class) free_first(size_class, lists_[size_class].count);
  }

  void* allocate(uint32_t size_class) {
    List& list = lists_[size_class];
    if (FreeBlock* block = list.head) {
      list.head = block->next;
      list.low_water = std::min(list.low_water, --list.count);
      cached_bytes_ -= class_capacity(size_class);
      return block;
    }
    return new_block(class_capacity(size_class), size_class);
  }

  // false: the lists are full, the caller frees the block.
  bool keep(void* payload, uint32_t size_class) {
    if (cached_bytes_ + class_capacity(size_class) > kMaxRecycledBytesPerThread) return false;
    List& list = lists_[size_class];
    auto* block = static_cast<FreeBlock*>(payload);
    block->next = list.head;
    list.head = block;
    ++list.count;
    cached_bytes_ += class_capacity(size_class);
    return true;
  }

  // Frees the blocks no allocation needed since the last trim: as many as
  // each list's shortest length in that time.
  size_t trim() {
    size_t freed = 0;
    for (uint32_t size_class = 0; size_class < kClasses; ++size_class) {
      freed += free_first(size_class, lists_[size_class].low_water);
      lists_[size_class].low_water = lists_[size_class].count;
    }
    return freed;
  }

  size_t cached_bytes() const { return cached_bytes_; }

 private:
  struct List {
    FreeBlock* head = nullptr;
    size_t count = 0;
    size_t low_water = 0;  // the fewest blocks held since the last trim
  };
  // Gives the first `count` blocks of a list back to malloc; returns their bytes.
  size_t free_first(uint32_t size_class, size_t count) {
    List& list = lists_[size_class];
    size_t freed = 0;
    for (; count > 0 && list.head; --count) {
      FreeBlock* next = list.head->next;
      std::free(header_of(list.head));
      list.head = next;
      --list.count;
      freed += class_capacity(size_class);
    }
    cached_bytes_ -= freed;
    return freed;
  }

  std::array<List, kClasses> lists_{};
  size_t cached_bytes_ = 0;
};

ThreadCache* cache() {
  if (cache_gone) return nullptr;
  static thread_local ThreadCache thread_cache;
  return &thread_cache;
}

}  // namespace

void* recycled_allocate(size_t size, size_t recycle_up_to, LargeBlocks large) {
  uint32_t size_class = class_for(size, recycle_up_to);
  if (size_class == kLarge) return new_block(size, large == LargeBlocks::kOwnPages ? kMapped : kLarge);
  ThreadCache* thread_cache = cache();
  return thread_cache ? thread_cache->allocate(size_class) : new_block(class_capacity(size_class), size_class);
}

void recycled_free(void* block) {
  if (!block) return;
  BlockHeader* header = header_of(block);
  if (header->size_class < kClasses) {
    ThreadCache* thread_cache = cache();
    if (thread_cache && thread_cache->keep(block, header->size_class)) return;
  }
  delete_block(header);
}

void* recycled_reallocate(void* block, size_t size, size_t recycle_up_to, LargeBlocks large) {
  if (!block) return recycled_allocate(size, recycle_up_to, large);
  size_t capacity = header_of(block)->capacity;
  if (size <= capacity) return block;
  void* grown = recycled_allocate(size, recycle_up_to, large);
  if (!grown) return nullptr;
  std::memcpy(grown, block, capacity);
  recycled_free(block);
  return grown;
}

size_t recycled_cached_bytes() {
  ThreadCache* thread_cache = cache();
  return thread_cache ? thread_cache->cached_bytes() : 0;
}

size_t recycled_trim() {
  ThreadCache* thread_cache = cache();
  return thread_cache ? thread_cache->trim() : 0;
}

#else  // sanitizers: every block straight from malloc

void* recycled_allocate(size_t size, size_t, LargeBlocks) { return std::malloc(size); }
void recycled_free(void* block) { std::free(block); }
void* recycled_reallocate(void* block, size_t size, size_t, LargeBlocks) { return std::realloc(block, size); }
size_t recycled_cached_bytes() { return 0; }
size_t recycled_trim() { return 0; }

#endif

}  // namespace grpc_ingress
