#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace grpc_ingress {

// A one-shot timer of a TimeSource. `done` runs on the timer's io_context thread,
// and never after cancel(), a newer wait() or the timer's destruction.
class ClockTimer {
 public:
  virtual ~ClockTimer() = default;
  virtual void wait(std::chrono::milliseconds delay, std::function<void()> done) = 0;
  virtual void cancel() = 0;
};

// Time as the controller's retry logic sees it. The real one is the steady
// clock; tests inject tests/fakes/fake_clock.h and move time themselves, so
// backoffs and deadlines are tested without sleeping.
class TimeSource {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~TimeSource() = default;
  virtual TimePoint now() const = 0;
  virtual std::unique_ptr<ClockTimer> timer(boost::asio::io_context& io) = 0;
};

// The process's time: std::chrono::steady_clock and asio's steady_timer.
TimeSource& steady_time();

}  // namespace grpc_ingress
