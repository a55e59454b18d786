// App log lines as `kubectl logs` and a log pipeline read them: one line per
// event, JSON members or logfmt pairs for component/kind/object/reason.

#include "common/log.h"
#include "common/log_format.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

using namespace grpc_ingress;

namespace {

// 2026-01-02T03:04:05.678Z
std::chrono::system_clock::time_point sample_time() {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(1767323045678));
}

std::string line_of(LogFormat format, std::string_view message, const LogFields* fields,
                    spdlog::level::level_enum level = spdlog::level::warn) {
  std::string out;
  format_log_line(format, sample_time(), level, message, fields, out);
  return out;
}

}  // namespace

TEST_CASE("a JSON log line carries time, level, msg and the structured fields given, and only those", "[log]") {
  LogFields fields{.component = "publisher", .kind = "Ingress", .object = "default/grpc",
                   .reason = "service 'greeter' not found"};
  std::string line = line_of(LogFormat::kJson, "rejected Ingress default/grpc", &fields);
  REQUIRE(line.ends_with("}\n"));
  CHECK(line.find('\n') == line.size() - 1);
  auto parsed = nlohmann::json::parse(line);
  CHECK(parsed == nlohmann::json{{"time", "2026-01-02T03:04:05.678Z"},
                                 {"level", "warning"},
                                 {"msg", "rejected Ingress default/grpc"},
                                 {"component", "publisher"},
                                 {"kind", "Ingress"},
                                 {"object", "default/grpc"},
                                 {"reason", "service 'greeter' not found"}});
  // time, level and msg lead, so a human reading raw lines sees them first.
  CHECK(line.starts_with("{\"time\":\"2026-01-02T03:04:05.678Z\",\"level\":\"warning\",\"msg\":"));

  LogFields partial{.component = "healthz", .reason = "WorkerStalled"};
  auto sparse = nlohmann::json::parse(line_of(LogFormat::kJson, "m", &partial));
  CHECK(sparse.size() == 5);
  CHECK_FALSE(sparse.contains("kind"));
  CHECK_FALSE(sparse.contains("object"));
  CHECK(nlohmann::json::parse(line_of(LogFormat::kJson, "m", nullptr)).size() == 3);
}

TEST_CASE("a JSON log line escapes quotes, backslashes, newlines, control bytes and invalid UTF-8", "[log]") {
  LogFields fields{.object = "ns/\"odd\"\\name", .reason = "line1\nline2\t\x01"};
  std::string message = "say \"hi\"\\ then\r\nnext line \xff\xfe end";
  std::string line = line_of(LogFormat::kJson, message, &fields);
  CHECK(line.find('\n') == line.size() - 1);  // one line per event
  CHECK(line.find('\r') == std::string::npos);
  auto parsed = nlohmann::json::parse(line);  // valid JSON (invalid UTF-8 replaced)
  CHECK(parsed["msg"].get<std::string>().starts_with("say \"hi\"\\ then\r\nnext line "));
  CHECK(parsed["msg"].get<std::string>().ends_with(" end"));
  CHECK(parsed["object"] == "ns/\"odd\"\\name");
  CHECK(parsed["reason"] == "line1\nline2\t\x01");
}

TEST_CASE("a text log line keeps the message on one line and appends the fields as key=value, quoted when needed", "[log]") {
  LogFields fields{.component = "status-writer", .kind = "Ingress", .object = "default/grpc",
                   .reason = "a \"quoted\" reason\nwith a newline"};
  std::string line = line_of(LogFormat::kText, "status: write failed:\nconflict", &fields, spdlog::level::info);
  CHECK(line ==
        "2026-01-02T03:04:05.678Z info status: write failed:\\nconflict component=status-writer kind=Ingress "
        "object=default/grpc reason=\"a \\\"quoted\\\" reason\\nwith a newline\"\n");
  CHECK(line_of(LogFormat::kText, "plain", nullptr, spdlog::level::err) == "2026-01-02T03:04:05.678Z error plain\n");
  LogFields spaced{.reason = "has=equals"};
  CHECK(line_of(LogFormat::kText, "m", &spaced).ends_with(" m reason=\"has=equals\"\n"));
  CHECK(line_of(LogFormat::kText, "bell\x07", nullptr).ends_with(" bell\\x07\n"));
}

TEST_CASE("ComponentLog's fields reach the line it logs and no line after it", "[log]") {
  std::ostringstream captured;
  auto logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_st>(captured));
  logger->set_formatter(make_log_formatter(LogFormat::kJson));
  logger->set_level(spdlog::level::info);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);

  const ComponentLog log{"publisher"};
  std::string object = "default/grpc";
  log.warn({.kind = "Ingress", .object = object, .reason = "no such Service"}, "rejected {} {}", "Ingress", object);
  spdlog::info("a plain line");
  log.debug({.reason = "Ignored"}, "below the level: {}", 1);  // not written
  spdlog::set_default_logger(previous);

  std::istringstream lines(captured.str());
  std::string first, second, third;
  REQUIRE(std::getline(lines, first));
  REQUIRE(std::getline(lines, second));
  CHECK_FALSE(std::getline(lines, third));
  auto tagged = nlohmann::json::parse(first);
  CHECK(tagged["msg"] == "rejected Ingress default/grpc");
  CHECK(tagged["component"] == "publisher");
  CHECK(tagged["kind"] == "Ingress");
  CHECK(tagged["object"] == "default/grpc");
  CHECK(tagged["reason"] == "no such Service");
  auto plain = nlohmann::json::parse(second);
  CHECK(plain["msg"] == "a plain line");
  CHECK_FALSE(plain.contains("component"));
  CHECK(current_log_fields() == nullptr);
}
