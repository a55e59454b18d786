#pragma once

#include <string>
#include <utility>
#include <variant>

namespace grpc_ingress {

// A failure with a message a user can act on.
struct Error {
  std::string message;
};

// The value or the reason there is none; shaped like std::expected (C++23).
template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}
  Result(Error error) : state_(std::move(error)) {}

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// For operations that only succeed or fail.
struct Ok {};
using Status = Result<Ok>;

}  // namespace grpc_ingress
