#include "controller/time_source.h"

#include <boost/asio/steady_timer.hpp>

namespace grpc_ingress {
namespace {

class SteadyTimer : public ClockTimer {
 public:
  explicit SteadyTimer(boost::asio::io_context& io) : timer_(io) {}
  void wait(std::chrono::milliseconds delay, std::function<void()> done) override {
    timer_.expires_after(delay);  // a wait still pending ends as cancelled
    timer_.async_wait([done = std::move(done)](boost::system::error_code error) {
      if (!error) done();
    });
  }
  void cancel() override { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

class SteadyTime : public TimeSource {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  std::unique_ptr<ClockTimer> timer(boost::asio::io_context& io) override { return std::make_unique<SteadyTimer>(io); }
};

}  // namespace

TimeSource& steady_time() {
  static SteadyTime clock;  // stateless
  return clock;
}

}  // namespace grpc_ingress
