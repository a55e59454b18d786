#include "tests/integration/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace grpc_ingress::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// "name: value" lines up to an empty line, from `pos`; returns the position after it.
size_t parse_fields(const std::string& bytes, size_t pos, std::multimap<std::string, std::string>& out) {
  while (pos < bytes.size()) {
    size_t end = bytes.find("\r\n", pos);
    if (end == std::string::npos) return bytes.size();
    if (end == pos) return end + 2;
    std::string line = bytes.substr(pos, end - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      size_t value = line.find_first_not_of(' ', colon + 1);
      out.emplace(lower(line.substr(0, colon)), value == std::string::npos ? "" : line.substr(value));
    }
    pos = end + 2;
  }
  return pos;
}

// Where the last response head in a -D dump starts.
size_t last_head(const std::string& dump) {
  if (dump.empty()) return std::string::npos;
  size_t at = dump.rfind("\r\nHTTP/");
  if (at != std::string::npos) return at + 2;
  return dump.starts_with("HTTP/") ? 0 : std::string::npos;
}

int milliseconds_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<int64_t>(0, left));
}

}  // namespace

std::optional<std::string> CurlResult::header(const std::string& name) const {
  // The last response head in the dump is the one that counts.
  size_t start = last_head(headers);
  if (start == std::string::npos) return std::nullopt;
  std::multimap<std::string, std::string> fields;
  parse_fields(headers, headers.find("\r\n", start) + 2, fields);
  auto it = fields.find(name);
  if (it == fields.end()) return std::nullopt;
  return it->second;
}

CurlResult run_curl(const std::filesystem::path& dir, const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout) {
  static int runs = 0;
  std::string name = "curl-" + std::to_string(++runs);
  auto headers = dir / (name + ".headers");
  auto body = dir / (name + ".body");
  std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "-D", headers.string(), "-o", body.string(),
                                   "--max-time", std::to_string(timeout.count() / 1000 + 1)};
  if (std::find(args.begin(), args.end(), "-w") == args.end()) {
    argv.push_back("-w");
    argv.push_back("%{http_code}");
  }
  argv.insert(argv.end(), args.begin(), args.end());
  auto start = Clock::now();
  auto curl = Process::start(argv, dir, name);
  CurlResult result;
  if (!curl->wait_exit(timeout + std::chrono::seconds(2))) {
    curl->stop(std::chrono::seconds(1));
    result.stderr_text = "curl did not finish in time; " + curl->stderr_text();
    return result;
  }
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  result.exit_code = curl->exit_status().value_or(-1);
  result.write_out = curl->stdout_text();
  result.stderr_text = curl->stderr_text();
  result.headers = read_file(headers);
  result.body = read_file(body);
  size_t last = last_head(result.headers);
  if (last != std::string::npos) {
    std::istringstream status_line(result.headers.substr(last));
    std::string version;
    status_line >> version >> result.status;
  }
  return result;
}

std::string fnv1a_hex(const std::string& bytes) {
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

RawConnection::RawConnection(const std::string& ip, uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::string error = std::strerror(errno);
    if (fd_ >= 0) ::close(fd_);
    throw std::runtime_error("connect to " + ip + ":" + std::to_string(port) + ": " + error);
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

void RawConnection::send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
}

std::string RawConnection::read_until(const std::function<bool(const std::string&)>& done,
                                      std::chrono::milliseconds timeout) {
  std::string received;
  auto deadline = Clock::now() + timeout;
  while (!closed_ && !done(received)) {
    pollfd poll_fd{fd_, POLLIN, 0};
    int ready = ::poll(&poll_fd, 1, milliseconds_left(deadline));
    if (ready <= 0) break;  // timed out
    char buffer[16384];
    ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      closed_ = true;
      break;
    }
    received.append(buffer, static_cast<size_t>(n));
  }
  return received;
}

bool RawConnection::wait_closed(std::chrono::milliseconds timeout, std::string* received) {
  std::string bytes = read_until([](const std::string&) { return false; }, timeout);
  if (received) *received = bytes;
  return closed_;
}

std::vector<ParsedResponse> parse_responses(const std::string& bytes) {
  std::vector<ParsedResponse> out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t line_end = bytes.find("\r\n", pos);
    if (line_end == std::string::npos || bytes.find("\r\n\r\n", pos) == std::string::npos) break;
    ParsedResponse response;
    std::istringstream status_line(bytes.substr(pos, line_end - pos));
    std::string version;
    status_line >> version >> response.status;
    pos = parse_fields(bytes, line_end + 2, response.headers);
    auto length = response.headers.find("content-length");
    auto encoding = response.headers.find("transfer-encoding");
    if (response.status / 100 == 1 || response.status == 204 || response.status == 304) {
      // no body
    } else if (encoding != response.headers.end() && lower(encoding->second) == "chunked") {
      while (pos < bytes.size()) {
        size_t size_end = bytes.find("\r\n", pos);
        if (size_end == std::string::npos) return out;
        size_t size = std::stoul(bytes.substr(pos, size_end - pos), nullptr, 16);
        pos = size_end + 2;
        if (size == 0) {
          pos = parse_fields(bytes, pos, response.trailers);
          break;
        }
        response.body += bytes.substr(pos, size);
        pos += size + 2;
      }
    } else if (length != response.headers.end()) {
      size_t size = std::stoul(length->second);
      response.body = bytes.substr(pos, size);
      pos += size;
    } else {
      response.body = bytes.substr(pos);
      pos = bytes.size();
    }
    out.push_back(std::move(response));
  }
  return out;
}

}  // namespace grpc_ingress::testing
