#include "dataplane/nghttp2_memory.h"
#include "dataplane/recycled_memory.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace grpc_ingress;

namespace {
void* allocate(size_t n) { return nghttp2_memory()->malloc(n, nghttp2_memory()->mem_user_data); }
void release(void* p) { nghttp2_memory()->free(p, nghttp2_memory()->mem_user_data); }
void* grow(void* p, size_t n) { return nghttp2_memory()->realloc(p, n, nghttp2_memory()->mem_user_data); }
void* zeroed(size_t count, size_t n) { return nghttp2_memory()->calloc(count, n, nghttp2_memory()->mem_user_data); }

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPooled = false;  // sanitizer builds pass every block to malloc
#else
constexpr bool kPooled = true;
#endif
}  // namespace

TEST_CASE("nghttp2's blocks keep their bytes through realloc and calloc zeroes", "[recycled_memory]") {
  auto* p = static_cast<char*>(allocate(40));
  REQUIRE(p != nullptr);
  std::memcpy(p, "0123456789012345678901234567890123456789", 40);
  p = static_cast<char*>(grow(p, 20000));  // past every size class, onto pages of its own
  REQUIRE(p != nullptr);
  CHECK(std::string(p, 40) == "0123456789012345678901234567890123456789");
  p[19999] = 'x';
  release(p);

  auto* z = static_cast<unsigned char*>(zeroed(100, 3));
  REQUIRE(z != nullptr);
  CHECK(std::all_of(z, z + 300, [](unsigned char c) { return c == 0; }));
  release(z);
  release(nullptr);
  CHECK(zeroed(SIZE_MAX / 2, 4) == nullptr);  // the product overflows: refused, not wrapped
}

TEST_CASE("a freed block is what the next allocation of its size class gets, within a cap", "[recycled_memory]") {
  void* first = allocate(200);
  release(first);
  size_t cached = recycled_cached_bytes();
  void* second = allocate(180);  // same size class
  if (kPooled) {
    CHECK(second == first);
    CHECK(recycled_cached_bytes() < cached);
  }
  release(second);

  // Our own objects recycle up to 8 KiB; nghttp2's only up to 1 KiB, so a
  // session object keeps its exact size.
  void* stream = recycled_allocate(3000);
  recycled_free(stream);
  void* next_stream = recycled_allocate(4000);
  if (kPooled) CHECK(next_stream == stream);
  recycled_free(next_stream);
  cached = recycled_cached_bytes();
  release(allocate(3000));
  CHECK(recycled_cached_bytes() == cached);

  // A burst far larger than the cap: the lists keep at most the cap.
  std::vector<void*> burst;
  for (size_t i = 0; i < 2 * kMaxRecycledBytesPerThread / 1024; ++i) burst.push_back(recycled_allocate(1000));
  for (void* p : burst) recycled_free(p);
  CHECK(recycled_cached_bytes() <= kMaxRecycledBytesPerThread);
  if (kPooled) CHECK(recycled_cached_bytes() > kMaxRecycledBytesPerThread / 2);
}

TEST_CASE("a trim frees the blocks no allocation needed since the trim before", "[recycled_memory]") {
  std::vector<void*> burst;
  for (int i = 0; i < 100; ++i) burst.push_back(recycled_allocate(1000));
  for (void* p : burst) recycled_free(p);
  recycled_trim();  // the burst drew on the lists: what it left is not yet known to be idle
  recycled_free(recycled_allocate(1000));  // one block of that size is still in use now and then
  size_t freed = recycled_trim();
  if (kPooled) {
    CHECK(freed >= 99 * 1024);
    CHECK(recycled_cached_bytes() == 1024);  // the one block the last period needed
  }
  recycled_trim();  // a period without allocations: nothing stays
  CHECK(recycled_cached_bytes() == 0);
}

TEST_CASE("a block freed on another thread than the one that made it is safe", "[recycled_memory]") {
  void* made_here = allocate(64);
  void* made_there = nullptr;
  std::thread other([&] {
    release(made_here);
    made_there = allocate(64);
  });
  other.join();  // that thread's lists are gone: the block goes back to malloc
  REQUIRE(made_there != nullptr);
  std::memset(made_there, 1, 64);
  release(made_there);
}

TEST_CASE("objects made through RecycledAllocator are recycled and destroyed", "[recycled_memory]") {
  struct Counted {
    explicit Counted(int* alive) : alive(alive) { ++*alive; }
    ~Counted() { --*alive; }
    int* alive;
    char payload[1500];
  };
  int alive = 0;
  const void* first = nullptr;
  {
    auto object = std::allocate_shared<Counted>(RecycledAllocator<Counted>{}, &alive);
    first = object.get();
    CHECK(alive == 1);
  }
  CHECK(alive == 0);
  auto again = std::allocate_shared<Counted>(RecycledAllocator<Counted>{}, &alive);
  if (kPooled) CHECK(static_cast<const void*>(again.get()) == first);
}
