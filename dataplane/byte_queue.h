#pragma once

#include "dataplane/buffer_account.h"

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <string>

namespace grpc_ingress {

// FIFO of bytes for one direction of one stream. Its size is bounded by the
// HTTP/2 flow-control window we grant the sender: bytes leave the queue before
// the stream's window is reopened, so it never grows past the window. Every
// byte held is counted in `account` (the stream's), if given.
class ByteQueue {
 public:
  explicit ByteQueue(BufferAccount* account = nullptr) : account_(account) {}
  ByteQueue(const ByteQueue&) = delete;
  ByteQueue& operator=(const ByteQueue&) = delete;
  ~ByteQueue() {
    if (account_) account_->remove(size());
  }

  size_t size() const { return data_.size() - head_; }
  bool empty() const { return size() == 0; }

  void append(const uint8_t* bytes, size_t n) {
    if (head_ > 0 && head_ == data_.size()) {
      data_.clear();
      head_ = 0;
    }
    data_.append(reinterpret_cast<const char*>(bytes), n);
    if (account_) account_->add(n);
  }

  // Moves up to `max` bytes into `out`; returns how many.
  size_t read(uint8_t* out, size_t max) {
    size_t n = std::min(max, size());
    std::memcpy(out, data_.data() + head_, n);
    head_ += n;
    if (account_) account_->remove(n);
    if (head_ == data_.size()) {
      data_.clear();
      head_ = 0;
    } else if (head_ > 64 * 1024 && head_ * 2 > data_.size()) {
      data_.erase(0, head_);  // keep the dead prefix from growing
      head_ = 0;
    }
    return n;
  }

  // Puts `bytes` back in front (a retry replays a request body already sent).
  void prepend(const std::string& bytes) {
    data_.erase(0, head_);
    head_ = 0;
    data_.insert(0, bytes);
    if (account_) account_->add(bytes.size());
  }

  void clear() {
    if (account_) account_->remove(size());
    data_.clear();
    data_.shrink_to_fit();
    head_ = 0;
  }

 private:
  BufferAccount* account_;
  std::string data_;
  size_t head_ = 0;
};

}  // namespace grpc_ingress
