#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace grpc_ingress {

// Body bytes the proxy holds for others, counted at three levels: a stream's
// account feeds its client connection's, which feeds its worker's. A level
// with a limit tells its owner when it goes over, so the owner can reset the
// streams holding the most. Worker thread only; a parent must outlive its
// children (a stream keeps its connection's account alive by shared_ptr; the
// worker's outlives every stream of the worker).
class BufferAccount {
 public:
  using OverLimit = std::function<void()>;

  explicit BufferAccount(BufferAccount* parent = nullptr, uint64_t limit = 0, OverLimit on_over_limit = {})
      : parent_(parent), limit_(limit), on_over_limit_(std::move(on_over_limit)) {}
  BufferAccount(const BufferAccount&) = delete;
  BufferAccount& operator=(const BufferAccount&) = delete;

  void add(size_t n) {
    for (BufferAccount* account = this; account; account = account->parent_) {
      bool was_over = account->over_limit();
      account->bytes_ += n;
      if (account->mirror_) account->mirror_->store(account->bytes_, std::memory_order_relaxed);
      if (!was_over && account->over_limit() && account->on_over_limit_) account->on_over_limit_();
    }
  }
  void remove(size_t n) {
    for (BufferAccount* account = this; account; account = account->parent_) {
      account->bytes_ -= n;
      if (account->mirror_) account->mirror_->store(account->bytes_, std::memory_order_relaxed);
    }
  }

  uint64_t bytes() const { return bytes_; }
  uint64_t limit() const { return limit_; }
  bool over_limit() const { return limit_ != 0 && bytes_ > limit_; }
  void set_on_over_limit(OverLimit on_over_limit) { on_over_limit_ = std::move(on_over_limit); }
  // The owner is going away before the account: no more calls.
  void forget_owner() { on_over_limit_ = nullptr; }
  // A copy of the count other threads may read (a metrics gauge).
  void mirror_into(std::atomic<uint64_t>* gauge) { mirror_ = gauge; }

 private:
  BufferAccount* parent_;
  uint64_t limit_;
  OverLimit on_over_limit_;
  uint64_t bytes_ = 0;
  std::atomic<uint64_t>* mirror_ = nullptr;
};

}  // namespace grpc_ingress
