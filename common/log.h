#pragma once

#include "common/flags.h"
#include "common/result.h"

#include <spdlog/spdlog.h>

#include <string>

namespace grpc_ingress {

// One event per line on stderr, as text or JSON ({"time","level","msg"}).
// Call once, before any thread starts. Fails on an unknown level name.
Status init_logging(LogFormat format, const std::string& level);

// The access log: one JSON object per request on stdout, written by its own
// thread from a bounded queue (the oldest lines are dropped when it is full),
// so workers never block on it. Call once at start-up, before the workers.
void init_access_log(bool enabled);
// nullptr when the access log is off.
spdlog::logger* access_logger();
// Access-log lines dropped because the queue to the writer thread was full. Any thread.
uint64_t access_log_dropped();

}  // namespace grpc_ingress
