#pragma once

#include <algorithm>
#include <chrono>

namespace grpc_ingress {

// Retries may add at most 20% to a cluster's load: each first attempt earns
// 0.2 of a retry, each retry spends one. A small initial balance lets a quiet
// cluster retry at all; the cap bounds a burst after a calm period. Besides,
// as Linkerd's budget, a floor of kMinPerSecond retries each second, so a
// cluster with little traffic still retries a failing pod's calls (with 2
// pods and 5 calls a second, 20% alone would leave most of them failed).
class RetryBudget {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kCallsPerRetry = 5;  // 20%
  static constexpr int kInitial = 10;
  static constexpr int kMax = 100;
  static constexpr double kMinPerSecond = 10;

  // Counted in calls (fifths of a retry), so sums stay exact.
  void on_request() { balance_ = std::min(kMax * kCallsPerRetry, balance_ + 1); }
  // Spends one retry if the budget has it: from the ratio's balance, else
  // from this second's floor.
  bool try_spend(Clock::time_point now = Clock::now()) {
    if (balance_ >= kCallsPerRetry) {
      balance_ -= kCallsPerRetry;
      return true;
    }
    double elapsed = std::chrono::duration<double>(now - floor_refilled_).count();
    floor_ = std::min(kMinPerSecond, floor_ + std::max(0.0, elapsed) * kMinPerSecond);
    floor_refilled_ = now;
    if (floor_ < 1) return false;
    floor_ -= 1;
    return true;
  }
  double balance() const { return static_cast<double>(balance_) / kCallsPerRetry; }

 private:
  int balance_ = kInitial * kCallsPerRetry;
  double floor_ = 0;  // the floor starts empty: kInitial covers the first moments
  Clock::time_point floor_refilled_ = Clock::now();
};

}  // namespace grpc_ingress
