#include "dataplane/nghttp2_memory.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
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

TEST_CASE("nghttp2's blocks keep their bytes through realloc and calloc zeroes", "[nghttp2_memory]") {
  auto* p = static_cast<char*>(allocate(40));
  REQUIRE(p != nullptr);
  std::memcpy(p, "0123456789012345678901234567890123456789", 40);
  p = static_cast<char*>(grow(p, 5000));  // past every size class
  REQUIRE(p != nullptr);
  CHECK(std::string(p, 40) == "0123456789012345678901234567890123456789");
  p[4999] = 'x';
  release(p);

  auto* z = static_cast<unsigned char*>(zeroed(100, 3));
  REQUIRE(z != nullptr);
  CHECK(std::all_of(z, z + 300, [](unsigned char c) { return c == 0; }));
  release(z);
  release(nullptr);
  CHECK(zeroed(SIZE_MAX / 2, 4) == nullptr);  // the product overflows: refused, not wrapped
}

TEST_CASE("a freed small block is what the next allocation of its size gets, within a cap", "[nghttp2_memory]") {
  void* first = allocate(200);
  release(first);
  size_t cached = nghttp2_memory_cached_bytes();
  void* second = allocate(180);  // same size class
  if (kPooled) {
    CHECK(second == first);
    CHECK(nghttp2_memory_cached_bytes() < cached);
  }
  release(second);

  // A burst far larger than the cap: the lists keep at most the cap.
  std::vector<void*> burst;
  for (int i = 0; i < 4000; ++i) burst.push_back(allocate(1000));
  for (void* p : burst) release(p);
  CHECK(nghttp2_memory_cached_bytes() <= 1024 * 1024);
  if (kPooled) CHECK(nghttp2_memory_cached_bytes() > 0);
}

TEST_CASE("a block freed on another thread than the one that made it is safe", "[nghttp2_memory]") {
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
