#include "tests/integration/allocation_counter.h"

#include <atomic>
#include <cerrno>
#include <cstddef>

#include <malloc.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GRPC_INGRESS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define GRPC_INGRESS_SANITIZED 1
#endif
#endif

#ifndef GRPC_INGRESS_SANITIZED

// glibc's own entry points, under the names it exports them by.
extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* block, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* block);
}

namespace {
std::atomic<uint64_t> allocations{0};
void count() { allocations.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

// Defined in the executable, these come before libc's for every library of
// the process (libstdc++'s operator new, libnghttp2, OpenSSL).
extern "C" {
void* malloc(size_t size) noexcept {
  count();
  return __libc_malloc(size);
}
void* calloc(size_t count_of, size_t size) noexcept {
  count();
  return __libc_calloc(count_of, size);
}
void* realloc(void* block, size_t size) noexcept {
  count();
  return __libc_realloc(block, size);
}
void free(void* block) noexcept { __libc_free(block); }
void* memalign(size_t alignment, size_t size) noexcept {
  count();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) noexcept {
  count();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  count();
  void* block = __libc_memalign(alignment, size);
  if (!block) return ENOMEM;
  *out = block;
  return 0;
}
}

namespace grpc_ingress::testing {
std::optional<uint64_t> allocations_so_far() { return allocations.load(std::memory_order_relaxed); }
}  // namespace grpc_ingress::testing

#else

namespace grpc_ingress::testing {
std::optional<uint64_t> allocations_so_far() { return std::nullopt; }
}  // namespace grpc_ingress::testing

#endif
