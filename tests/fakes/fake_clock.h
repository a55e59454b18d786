#pragma once

#include "controller/time_source.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace grpc_ingress::testing {

// A clock that moves only when the test says so: advance() runs (posts to
// their io_context) the waits that came due, in due order; a wait of zero is
// due at once. Stands for the steady clock and asio's timers; nothing here
// sleeps.
class FakeClock : public TimeSource {
 public:
  TimePoint now() const override { return now_; }

  std::unique_ptr<ClockTimer> timer(boost::asio::io_context& io) override {
    return std::make_unique<Timer>(*this, io);
  }

  // Moves time on by `by`; every wait due by then is posted to its io_context.
  void advance(std::chrono::milliseconds by) {
    now_ += by;
    while (true) {
      auto due = earliest_of(waits_);
      if (due == waits_.end() || due->due > now_) return;
      Wait wait = std::move(*due);
      waits_.erase(due);
      boost::asio::post(*wait.io, [armed = wait.armed, done = std::move(wait.done)] {
        if (*armed) done();  // not cancelled since it came due
      });
    }
  }

  // How long until the next wait is due; nullopt when nothing waits.
  std::optional<std::chrono::milliseconds> next_wait() const {
    auto due = earliest_of(waits_);
    if (due == waits_.end()) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::milliseconds>(due->due - now_);
  }

 private:
  struct Wait {
    const void* timer;
    std::shared_ptr<bool> armed;  // false once its timer cancels it
    TimePoint due;
    boost::asio::io_context* io;
    std::function<void()> done;
  };

  template <typename Waits>
  static auto earliest_of(Waits& waits) -> decltype(waits.begin()) {
    return std::min_element(waits.begin(), waits.end(), [](const Wait& a, const Wait& b) { return a.due < b.due; });
  }

  class Timer : public ClockTimer {
   public:
    Timer(FakeClock& clock, boost::asio::io_context& io) : clock_(clock), io_(io) {}
    ~Timer() override { cancel(); }
    void wait(std::chrono::milliseconds delay, std::function<void()> done) override {
      cancel();
      armed_ = std::make_shared<bool>(true);
      clock_.waits_.push_back({this, armed_, clock_.now_ + delay, &io_, std::move(done)});
      if (delay.count() <= 0) clock_.advance(std::chrono::milliseconds(0));  // due now, as a real timer
    }
    void cancel() override {
      *armed_ = false;
      std::erase_if(clock_.waits_, [this](const Wait& wait) { return wait.timer == this; });
    }

   private:
    FakeClock& clock_;
    boost::asio::io_context& io_;
    std::shared_ptr<bool> armed_ = std::make_shared<bool>(false);
  };

  TimePoint now_ = TimePoint{} + std::chrono::hours(1);
  std::vector<Wait> waits_;
};

}  // namespace grpc_ingress::testing
