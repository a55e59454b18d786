#include "common/log.h"

#include <nlohmann/json.hpp>
#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <ctime>

namespace grpc_ingress {
namespace {

// Formats a record as one JSON object; the message is escaped properly, which
// a pattern string cannot do.
class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto since_epoch = msg.time.time_since_epoch();
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
    std::time_t t = seconds.count();
    std::tm tm{};
    gmtime_r(&t, &tm);
    char time_text[40];
    size_t n = std::strftime(time_text, sizeof(time_text), "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(time_text + n, sizeof(time_text) - n, ".%03dZ", static_cast<int>(millis.count()));

    nlohmann::json line = {
        {"time", time_text},
        {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                              spdlog::level::to_string_view(msg.level).size())},
        {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

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
  if (format == LogFormat::kJson) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return Ok{};
}

}  // namespace grpc_ingress
