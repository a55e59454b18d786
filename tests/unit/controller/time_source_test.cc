#include "controller/time_source.h"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>

using namespace grpc_ingress;
using namespace std::chrono_literals;

TEST_CASE("a steady timer's wait never runs after it was cancelled or replaced, even once it expired") {
  boost::asio::io_context io;
  auto timer = steady_time().timer(io);
  int first = 0, second = 0;

  timer->wait(0ms, [&] { ++first; });
  timer->cancel();  // expired at once, its handler may be queued already
  io.run_for(50ms);
  CHECK(first == 0);

  io.restart();
  timer->wait(0ms, [&] { ++first; });
  timer->wait(1ms, [&] { ++second; });  // replaces the first
  io.run_for(50ms);
  CHECK(first == 0);
  CHECK(second == 1);

  io.restart();
  timer->wait(0ms, [&] { ++first; });
  timer.reset();  // destroyed: nothing runs
  io.run_for(50ms);
  CHECK(first == 0);
}
