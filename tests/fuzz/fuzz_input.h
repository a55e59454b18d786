#pragma once

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace grpc_ingress::fuzz {

// Splits one fuzz input into choices and byte runs, front to back. Reading
// past the end yields zeros and empty runs, so every input is valid.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }

  // The bytes up to the next `separator` (dropped), or the rest.
  std::string_view until(char separator) {
    std::string_view rest = peek_rest();
    size_t end = rest.find(separator);
    if (end == std::string_view::npos) return take(rest.size());
    std::string_view out = take(end);
    ++pos_;
    return out;
  }

  std::string_view rest() { return take(remaining()); }
  size_t remaining() const { return size_ - pos_; }
  bool empty() const { return pos_ >= size_; }

 private:
  std::string_view peek_rest() const {
    return {reinterpret_cast<const char*>(data_) + pos_, remaining()};
  }
  std::string_view take(size_t n) {
    std::string_view out = peek_rest().substr(0, n);
    pos_ += out.size();
    return out;
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Bounds a parser's feed loop: every turn consumes or receives bytes, or
// frees room for the body.
inline constexpr int kMaxParserTurns = 1 << 16;

// The bytes of `wire` arriving `step` at a time, as a socket delivers them,
// for a parser that consumes from the front of what has arrived.
class Arrivals {
 public:
  Arrivals(std::string_view wire, size_t step) : wire_(wire), step_(std::max<size_t>(step, 1)) {}

  std::string_view buffered() const { return wire_.substr(pos_, arrived_ - pos_); }
  void consume(size_t n) { pos_ += std::min(n, arrived_ - pos_); }
  // More bytes arrive; false once all have (the peer has closed).
  bool receive() {
    if (arrived_ == wire_.size()) return false;
    arrived_ = std::min(wire_.size(), arrived_ + step_);
    return true;
  }
  bool all_consumed() const { return pos_ == wire_.size(); }

 private:
  std::string_view wire_;
  size_t step_;
  size_t pos_ = 0, arrived_ = 0;
};

// A property the code under test promises; a crash the fuzzer reports if not.
inline void check(bool condition) {
  if (!condition) std::abort();
}

// Log lines cost time and bury the fuzzer's own output: off, unless FUZZ_LOG
// names a level (FUZZ_LOG=debug to study one input).
inline void quiet_logs() {
  static const bool done = [] {
    const char* level = std::getenv("FUZZ_LOG");
    spdlog::set_level(level ? spdlog::level::from_str(level) : spdlog::level::off);
    return true;
  }();
  (void)done;
}

}  // namespace grpc_ingress::fuzz
