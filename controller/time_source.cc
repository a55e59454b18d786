#include "controller/time_source.h"

#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <memory>

namespace grpc_ingress {
namespace {

class SteadyTimer : public ClockTimer {
 public:
  explicit SteadyTimer(boost::asio::io_context& io) : timer_(io) {}
  ~SteadyTimer() override { cancel(); }
  void wait(std::chrono::milliseconds delay, std::function<void()> done) override {
    cancel();
    timer_.expires_after(delay);
    // A wait that already expired is queued and no longer cancellable in
    // asio: the generation tells its handler it was replaced or cancelled.
    timer_.async_wait([generation = generation_, expected = *generation_,
                       done = std::move(done)](boost::system::error_code error) {
      if (!error && *generation == expected) done();
    });
  }
  void cancel() override {
    ++*generation_;
    timer_.cancel();
  }

 private:
  boost::asio::steady_timer timer_;
  std::shared_ptr<uint64_t> generation_ = std::make_shared<uint64_t>(0);
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
