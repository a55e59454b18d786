#pragma once

// Plain-HTTP clients for the integration tests: curl as a child process, and
// a raw TCP connection for what curl will not do (pipelining, half requests).

#include "tests/integration/process.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace grpc_ingress::testing {

struct CurlResult {
  int exit_code = -1;
  int status = 0;                 // of the last response
  std::string headers;            // every response head, as received (-D)
  std::string body;               // of the last response
  std::string write_out;          // what -w printed
  std::string stderr_text;
  std::chrono::milliseconds elapsed{0};

  // A header of the last response, by lower-case name.
  std::optional<std::string> header(const std::string& name) const;
};

// Runs /usr/bin/curl -sS with `args` (URLs included), the output in files
// under `dir`, and waits at most `timeout`. -w "%{http_code}" is added unless
// `args` has its own -w.
CurlResult run_curl(const std::filesystem::path& dir, const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout = std::chrono::seconds(15));

// FNV-1a 64 of `bytes` as 16 hex digits (what http-pod reports as body_fnv1a).
std::string fnv1a_hex(const std::string& bytes);

// A blocking TCP connection with bounded waits.
class RawConnection {
 public:
  RawConnection(const std::string& ip, uint16_t port);  // throws if it cannot connect
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  void send(const std::string& bytes);
  // Reads until `done(received)` holds, the peer closes, or `timeout` passes.
  std::string read_until(const std::function<bool(const std::string&)>& done, std::chrono::milliseconds timeout);
  // Reads until the peer closes; false if it did not close within `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout, std::string* received = nullptr);

 private:
  int fd_ = -1;
  bool closed_ = false;
};

// Splits a byte stream of HTTP/1.1 responses (content-length or chunked
// bodies) into (status, lower-cased headers, body), in order.
struct ParsedResponse {
  int status = 0;
  std::multimap<std::string, std::string> headers;
  std::string body;
  std::multimap<std::string, std::string> trailers;
};
std::vector<ParsedResponse> parse_responses(const std::string& bytes);

}  // namespace grpc_ingress::testing
