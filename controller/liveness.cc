#include "controller/liveness.h"

#include <cstdio>

namespace grpc_ingress {

Liveness check_liveness(const std::vector<std::chrono::steady_clock::time_point>& last_turns,
                        std::chrono::steady_clock::time_point now, std::chrono::milliseconds bound) {
  Liveness out;
  for (size_t i = 0; i < last_turns.size(); ++i) {
    auto age = now - last_turns[i];
    if (age <= bound) continue;
    char line[160];
    std::snprintf(line, sizeof line,
                  "worker-%zu: its event loop has not turned for %.1f s (over --healthz-stall-timeout %.1f s)\n", i,
                  std::chrono::duration<double>(age).count(), std::chrono::duration<double>(bound).count());
    out.alive = false;
    out.report += line;
  }
  if (out.alive) out.report = "ok\n";
  return out;
}

}  // namespace grpc_ingress
