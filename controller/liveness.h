#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace grpc_ingress {

struct Liveness {
  bool alive = true;
  std::string report;  // "ok\n", or one line per stuck worker
};

// /healthz: alive while every worker's event loop turned within `bound` of
// `now` (`last_turns[i]` is worker i's last heartbeat). The controller thread
// needs no stamp: it serves /healthz, so when it is stuck the probe times out.
Liveness check_liveness(const std::vector<std::chrono::steady_clock::time_point>& last_turns,
                        std::chrono::steady_clock::time_point now, std::chrono::milliseconds bound);

}  // namespace grpc_ingress
