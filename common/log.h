#pragma once

#include "common/flags.h"
#include "common/log_format.h"
#include "common/result.h"

#include <spdlog/spdlog.h>

#include <string>

namespace grpc_ingress {

// One event per line on stderr, as text or JSON ({"time","level","msg"} and
// the LogFields given, see log_format.h). Call once, before any thread
// starts. Fails on an unknown level name.
Status init_logging(LogFormat format, const std::string& level);

// Logs one event with structured fields; costs one level check when the level is off.
template <typename... Args>
void log_event(spdlog::level::level_enum level, const LogFields& fields, spdlog::format_string_t<Args...> format,
               Args&&... args) {
  spdlog::logger* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  ScopedLogFields scope(fields);
  logger->log(level, format, std::forward<Args>(args)...);
}

// A component's app log: kLog.warn({.kind = "Ingress", .object = key, .reason = why}, "...", ...).
struct ComponentLog {
  std::string_view component;

  template <typename... Args>
  void debug(LogFields fields, spdlog::format_string_t<Args...> format, Args&&... args) const {
    at(spdlog::level::debug, fields, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void info(LogFields fields, spdlog::format_string_t<Args...> format, Args&&... args) const {
    at(spdlog::level::info, fields, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void warn(LogFields fields, spdlog::format_string_t<Args...> format, Args&&... args) const {
    at(spdlog::level::warn, fields, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void error(LogFields fields, spdlog::format_string_t<Args...> format, Args&&... args) const {
    at(spdlog::level::err, fields, format, std::forward<Args>(args)...);
  }

 private:
  template <typename... Args>
  void at(spdlog::level::level_enum level, LogFields fields, spdlog::format_string_t<Args...> format,
          Args&&... args) const {
    fields.component = component;
    log_event(level, fields, format, std::forward<Args>(args)...);
  }
};

// The access log: one JSON object per request on stdout, written by its own
// thread from a bounded queue (the oldest lines are dropped when it is full),
// so workers never block on it. Call once at start-up, before the workers.
void init_access_log(bool enabled);
// nullptr when the access log is off.
spdlog::logger* access_logger();
// Access-log lines dropped because the queue to the writer thread was full. Any thread.
uint64_t access_log_dropped();

}  // namespace grpc_ingress
