#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace grpc_ingress {

// Memory for what the request path makes and drops on every call (streams,
// header bytes, body queues, nghttp2's frames, Asio's handler operations):
// blocks up to 8 KiB are recycled through free lists of the calling thread
// instead of going to malloc each time. Each worker runs its connections on
// one thread, so the lists need no lock; a block freed on another thread joins
// that thread's lists. What the lists hold is capped (kMaxRecycledBytesPerThread:
// a worker's working set at a thousand streams in flight), and each worker
// trims what stayed unused for a while (recycled_trim), so a burst does not pin
// its memory. Sanitizer builds pass straight to malloc, so ASan still sees
// every block.

// The largest block recycled; larger ones have exactly their size.
constexpr size_t kMaxRecycledBlock = 8 * 1024;
constexpr size_t kMaxRecycledBytesPerThread = 8 * 1024 * 1024;

// Blocks that are not recycled: from malloc, or pages of their own (only the
// pages written count in RSS, and freeing returns them at once).
enum class LargeBlocks { kMalloc, kOwnPages };

// A block of at least `size` bytes aligned for any type, or nullptr. Sizes up
// to `recycle_up_to` (at most kMaxRecycledBlock) are rounded up to a power of
// two and recycled; larger ones are made as `large` says.
void* recycled_allocate(size_t size, size_t recycle_up_to = kMaxRecycledBlock,
                        LargeBlocks large = LargeBlocks::kMalloc);
// Frees a block from recycled_allocate (nullptr is ignored).
void recycled_free(void* block);
// `block` (or nullptr) with room for `size` bytes, its bytes kept, as realloc:
// nullptr on failure, `block` then still valid.
void* recycled_reallocate(void* block, size_t size, size_t recycle_up_to = kMaxRecycledBlock,
                          LargeBlocks large = LargeBlocks::kMalloc);
// Bytes this thread holds in its free lists (for tests).
size_t recycled_cached_bytes();
// Frees this thread's blocks that no allocation needed since its last trim
// (each list's shortest length in that time); returns the bytes freed.
size_t recycled_trim();

// A standard allocator over recycled_allocate (for allocate_shared, containers
// and Asio's handler operations).
template <typename T>
struct RecycledAllocator {
  using value_type = T;
  RecycledAllocator() = default;
  template <typename U>
  RecycledAllocator(const RecycledAllocator<U>&) {}
  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_alloc();
    void* block = recycled_allocate(n * sizeof(T));
    if (!block) throw std::bad_alloc();
    return static_cast<T*>(block);
  }
  void deallocate(T* block, size_t) { recycled_free(block); }
  template <typename U>
  bool operator==(const RecycledAllocator<U>&) const {
    return true;
  }
};

// A completion handler whose Asio operation (the memory a pending read, write,
// wait or post holds) comes from recycled blocks; Asio caches only one such
// block per thread itself, and a worker has hundreds pending. Post it to the
// io_context itself: an any_io_executor drops the handler's allocator.
template <typename Handler>
class RecycledHandler {
 public:
  using allocator_type = RecycledAllocator<void>;
  explicit RecycledHandler(Handler handler) : handler_(std::move(handler)) {}
  allocator_type get_allocator() const { return {}; }
  template <typename... Args>
  void operator()(Args&&... args) {
    handler_(std::forward<Args>(args)...);
  }

 private:
  Handler handler_;
};

template <typename Handler>
RecycledHandler<std::decay_t<Handler>> recycled(Handler&& handler) {
  return RecycledHandler<std::decay_t<Handler>>(std::forward<Handler>(handler));
}

}  // namespace grpc_ingress
