#pragma once

#include "common/flags.h"
#include "common/result.h"

#include <spdlog/spdlog.h>

#include <string>

namespace grpc_ingress {

// One event per line on stderr, as text or JSON ({"time","level","msg"}).
// Call once, before any thread starts. Fails on an unknown level name.
Status init_logging(LogFormat format, const std::string& level);

}  // namespace grpc_ingress
