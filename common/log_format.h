#pragma once

#include "common/flags.h"

#include <spdlog/common.h>
#include <spdlog/formatter.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace grpc_ingress {

// Structured fields of one app-log event: which part of the process speaks
// (component), about which object (kind, object: "namespace/name"), and why
// (reason). Empty fields are left out. Views: the strings outlive the call.
struct LogFields {
  std::string_view component;
  std::string_view kind;
  std::string_view object;
  std::string_view reason;
};

// The fields of the event this thread is logging (nullptr: none); set for the
// span of one synchronous logger call.
const LogFields* current_log_fields();

class ScopedLogFields {
 public:
  explicit ScopedLogFields(const LogFields& fields);
  ~ScopedLogFields();
  ScopedLogFields(const ScopedLogFields&) = delete;
  ScopedLogFields& operator=(const ScopedLogFields&) = delete;

 private:
  const LogFields* previous_;
};

// One event as one line ending in '\n', whatever the message holds:
//   json: {"time":"...Z","level":"warning","msg":"...","component":"...",...}
//   text: 2026-01-02T03:04:05.678Z warning MSG component=... reason="a b"
// Text escapes control characters in the message and quotes values with
// spaces, so `kubectl logs` shows one line per event either way.
void format_log_line(LogFormat format, std::chrono::system_clock::time_point time, spdlog::level::level_enum level,
                     std::string_view message, const LogFields* fields, std::string& out);

// A formatter for spdlog that calls format_log_line with current_log_fields().
std::unique_ptr<spdlog::formatter> make_log_formatter(LogFormat format);

}  // namespace grpc_ingress
