#include "common/log.h"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace grpc_ingress {
namespace {

std::shared_ptr<spdlog::logger> g_access_logger;
constexpr size_t kAccessLogQueue = 16 * 1024;  // lines waiting for the writer thread

}  // namespace

void init_access_log(bool enabled) {
  if (!enabled) return;
  spdlog::init_thread_pool(kAccessLogQueue, 1);
  g_access_logger = std::make_shared<spdlog::async_logger>(
      "access", std::make_shared<spdlog::sinks::stdout_sink_mt>(), spdlog::thread_pool(),
      spdlog::async_overflow_policy::overrun_oldest);
  g_access_logger->set_pattern("%v");
  g_access_logger->set_level(spdlog::level::info);
  g_access_logger->flush_on(spdlog::level::info);
}

spdlog::logger* access_logger() { return g_access_logger.get(); }

uint64_t access_log_dropped() {
  // The queue overruns (drops its oldest line) when full; only access lines use the pool.
  return g_access_logger ? spdlog::thread_pool()->overrun_counter() : 0;
}

Status init_logging(LogFormat format, const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return Error{"unknown log level '" + level + "' (trace|debug|info|warn|error)"};
  }
  auto logger = std::make_shared<spdlog::logger>(
      "grpc-ingress", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_formatter(make_log_formatter(format));
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return Ok{};
}

}  // namespace grpc_ingress
