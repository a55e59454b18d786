#pragma once

#include <algorithm>

namespace grpc_ingress {

// Retries may add at most 20% to a cluster's load: each first attempt earns
// 0.2 of a retry, each retry spends one. A small initial balance lets a quiet
// cluster retry at all; the cap bounds a burst after a calm period.
class RetryBudget {
 public:
  static constexpr double kRatio = 0.2;
  static constexpr double kInitial = 10;
  static constexpr double kMax = 100;

  void on_request() { balance_ = std::min(kMax, balance_ + kRatio); }
  // Spends one retry if the budget has it.
  bool try_spend() {
    if (balance_ < 1) return false;
    balance_ -= 1;
    return true;
  }
  double balance() const { return balance_; }

 private:
  double balance_ = kInitial;
};

}  // namespace grpc_ingress
