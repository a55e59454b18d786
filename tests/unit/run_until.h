#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>

namespace grpc_ingress::testing {

// Runs `io` until `done` holds or `limit` passes; returns whether it held.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace grpc_ingress::testing
