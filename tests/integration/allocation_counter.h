#pragma once

#include <cstdint>
#include <optional>

namespace grpc_ingress::testing {

// Heap allocations (malloc, calloc, realloc, the aligned kinds, and so every
// operator new) this process has made so far, counted by the malloc the
// integration test binary puts in front of glibc's. nullopt in sanitizer
// builds, which bring their own malloc. Any thread.
std::optional<uint64_t> allocations_so_far();

}  // namespace grpc_ingress::testing
