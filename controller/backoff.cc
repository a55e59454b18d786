#include "controller/backoff.h"

#include <algorithm>
#include <random>

namespace grpc_ingress {

std::chrono::milliseconds Backoff::next() {
  step_ = step_.count() == 0 ? options_.initial : std::min(step_ * 2, options_.max);
  double jitter = std::clamp(options_.jitter, 0.0, 1.0);
  double factor = std::uniform_real_distribution<double>(1 - jitter, 1 + jitter)(random_);
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(step_.count()) * factor));
}

}  // namespace grpc_ingress
