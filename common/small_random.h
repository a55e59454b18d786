#pragma once

#include <cstdint>
#include <limits>

namespace grpc_ingress {

// SplitMix64: 8 bytes of state where std::mt19937_64 keeps 2.5 KB. A balancer
// lives per cluster per worker, so at 10,000 clusters the Mersenne Twister's
// state alone was 50 MB; picking "some other pod" needs no more than this.
// A UniformRandomBitGenerator, so the <random> distributions take it.
class SmallRandom {
 public:
  using result_type = uint64_t;
  explicit SmallRandom(uint64_t seed) : state_(seed) {}

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }

  result_type operator()() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

}  // namespace grpc_ingress
