#pragma once

#include "common/small_random.h"

#include <chrono>
#include <cstdint>

namespace grpc_ingress {

struct BackoffOptions {
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{30'000};
  double jitter = 0.2;  // each wait is its step times a random factor in [1 - jitter, 1 + jitter]
};

// client-go's exponential backoff manager: the first failure waits `initial`,
// each further one twice the step before, up to `max`; a success (reset())
// starts again from `initial`. Jitter keeps many replicas from retrying
// together after a shared failure (an API server restart).
class Backoff {
 public:
  Backoff(BackoffOptions options, uint64_t seed) : options_(options), random_(seed) {}

  // The wait before the next try, after a failure.
  std::chrono::milliseconds next();
  void reset() { step_ = std::chrono::milliseconds{0}; }
  // The un-jittered step next() last returned; 0 after reset().
  std::chrono::milliseconds step() const { return step_; }

 private:
  BackoffOptions options_;
  SmallRandom random_;
  std::chrono::milliseconds step_{0};
};

}  // namespace grpc_ingress
