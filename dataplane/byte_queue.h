#pragma once

#include "dataplane/buffer_account.h"
#include "dataplane/recycled_memory.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace grpc_ingress {

// FIFO of bytes for one direction of one stream. Its size is bounded by the
// HTTP/2 flow-control window we grant the sender: bytes leave the queue before
// the stream's window is reopened, so it never grows past the window. Every
// byte held is counted in `account` (the stream's), if given. The bytes sit in
// one recycled block (recycled_memory.h), so a call's body costs no malloc.
class ByteQueue {
 public:
  explicit ByteQueue(BufferAccount* account = nullptr) : account_(account) {}
  ByteQueue(const ByteQueue&) = delete;
  ByteQueue& operator=(const ByteQueue&) = delete;
  ~ByteQueue() {
    if (account_) account_->remove(size());
    recycled_free(data_);
  }

  size_t size() const { return tail_ - head_; }
  bool empty() const { return size() == 0; }
  // The queued bytes, valid until the queue next changes.
  std::string_view view() const { return {data_ + head_, size()}; }

  void append(const uint8_t* bytes, size_t n) {
    if (n == 0) return;
    if (tail_ + n > capacity_) make_room(n);
    std::memcpy(data_ + tail_, bytes, n);
    tail_ += n;
    if (account_) account_->add(n);
  }

  // Moves up to `max` bytes into `out`; returns how many.
  size_t read(uint8_t* out, size_t max) {
    size_t n = std::min(max, size());
    if (n) std::memcpy(out, data_ + head_, n);
    discard(n);
    return n;
  }

  // Drops the first `n` bytes (written elsewhere), keeping the block.
  void discard(size_t n) {
    n = std::min(n, size());
    head_ += n;
    if (account_) account_->remove(n);
    if (head_ == tail_) head_ = tail_ = 0;
  }

  // Puts `bytes` back in front (a retry replays a request body already sent).
  void prepend(std::string_view bytes) {
    if (bytes.empty()) return;
    if (head_ < bytes.size()) {
      // Room in front: the live bytes move to just after where `bytes` go.
      size_t live = size();
      if (bytes.size() + live > capacity_) {
        grow_to(bytes.size() + live, bytes.size());
      } else {
        std::memmove(data_ + bytes.size(), data_ + head_, live);
        head_ = bytes.size();
        tail_ = head_ + live;
      }
    }
    head_ -= bytes.size();
    std::memcpy(data_ + head_, bytes.data(), bytes.size());
    if (account_) account_->add(bytes.size());
  }

  // Drops the bytes and gives the block back.
  void clear() {
    if (account_) account_->remove(size());
    recycled_free(data_);
    data_ = nullptr;
    capacity_ = head_ = tail_ = 0;
  }

 private:
  static constexpr size_t kFirstBlock = 256;

  // Room for `n` more bytes at the tail: slide the live bytes to the front
  // when that frees enough and they are few, else a larger block.
  void make_room(size_t n) {
    size_t live = size();
    if (live + n <= capacity_ && live <= capacity_ / 2) {
      std::memmove(data_, data_ + head_, live);
      head_ = 0;
      tail_ = live;
      return;
    }
    grow_to(std::max({kFirstBlock, capacity_ * 2, live + n}), 0);
  }

  // A block of at least `capacity` bytes with the live bytes at `offset`.
  void grow_to(size_t capacity, size_t offset) {
    char* grown = RecycledAllocator<char>().allocate(capacity);
    size_t live = size();
    if (live) std::memcpy(grown + offset, data_ + head_, live);
    recycled_free(data_);
    data_ = grown;
    capacity_ = capacity;
    head_ = offset;
    tail_ = offset + live;
  }

  BufferAccount* account_;
  char* data_ = nullptr;
  size_t capacity_ = 0;
  size_t head_ = 0;  // first live byte
  size_t tail_ = 0;  // one past the last
};

}  // namespace grpc_ingress
