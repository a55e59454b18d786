#include "common/log_format.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>

namespace grpc_ingress {
namespace {

thread_local const LogFields* t_fields = nullptr;

// "2026-01-02T03:04:05.678Z"
void append_time(std::chrono::system_clock::time_point time, std::string& out) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  std::time_t t = seconds.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[40];
  size_t n = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(text + n, sizeof(text) - n, ".%03dZ", static_cast<int>(millis.count()));
  out += text;
}

void append_json_string(std::string_view value, std::string& out) {
  out += nlohmann::json(std::string(value)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Control characters as \n, \t, \xNN: a message never breaks its line.
void append_escaped(std::string_view value, std::string& out) {
  for (unsigned char c : value) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
}

// logfmt: bare when the value is one word, else quoted with " and \ escaped.
void append_text_field(std::string_view key, std::string_view value, std::string& out) {
  out += ' ';
  out += key;
  out += '=';
  bool bare = !value.empty();
  for (unsigned char c : value) bare = bare && c > 0x20 && c != 0x7f && c != '"' && c != '=' && c != '\\';
  if (bare) {
    out += value;
    return;
  }
  out += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    append_escaped(std::string_view(&c, 1), out);
  }
  out += '"';
}

class LogFormatter : public spdlog::formatter {
 public:
  explicit LogFormatter(LogFormat format) : format_(format) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    line_.clear();
    format_log_line(format_, msg.time, msg.level, std::string_view(msg.payload.data(), msg.payload.size()),
                    current_log_fields(), line_);
    dest.append(line_.data(), line_.data() + line_.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<LogFormatter>(format_); }

 private:
  LogFormat format_;
  std::string line_;  // reused: called under the sink's lock
};

}  // namespace

const LogFields* current_log_fields() { return t_fields; }

ScopedLogFields::ScopedLogFields(const LogFields& fields) : previous_(t_fields) { t_fields = &fields; }
ScopedLogFields::~ScopedLogFields() { t_fields = previous_; }

void format_log_line(LogFormat format, std::chrono::system_clock::time_point time, spdlog::level::level_enum level,
                     std::string_view message, const LogFields* fields, std::string& out) {
  auto level_name = spdlog::level::to_string_view(level);
  const std::pair<const char*, std::string_view> members[] = {
      {"component", fields ? fields->component : std::string_view()},
      {"kind", fields ? fields->kind : std::string_view()},
      {"object", fields ? fields->object : std::string_view()},
      {"reason", fields ? fields->reason : std::string_view()}};
  if (format == LogFormat::kJson) {
    out += "{\"time\":\"";
    append_time(time, out);
    out += "\",\"level\":\"";
    out.append(level_name.data(), level_name.size());
    out += "\",\"msg\":";
    append_json_string(message, out);
    for (const auto& [key, value] : members) {
      if (value.empty()) continue;
      out += ",\"";
      out += key;
      out += "\":";
      append_json_string(value, out);
    }
    out += "}\n";
    return;
  }
  append_time(time, out);
  out += ' ';
  out.append(level_name.data(), level_name.size());
  out += ' ';
  append_escaped(message, out);
  for (const auto& [key, value] : members) {
    if (!value.empty()) append_text_field(key, value, out);
  }
  out += '\n';
}

std::unique_ptr<spdlog::formatter> make_log_formatter(LogFormat format) {
  return std::make_unique<LogFormatter>(format);
}

}  // namespace grpc_ingress
