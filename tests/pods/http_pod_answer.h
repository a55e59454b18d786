#pragma once

// http-pod: what reached the pod and the answer its query asks for, shared by
// the HTTP/2 and HTTP/1.1 sessions (see http_pod.cc for the query language).

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace grpc_ingress::testing::http_pod {

// Set once in main() before any connection is accepted.
const std::string& pod_name();
void set_pod_name(std::string name);

// One request as the pod received it.
struct ReceivedRequest {
  std::string method, scheme, authority, path;
  // Lower-case names in arrival order; trailers as "trailer:<name>".
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // the first kMaxStoredBody bytes, for ?echo
  uint64_t body_bytes = 0;
  uint64_t body_fnv1a = 1469598103934665603ULL;

  void add_body(const uint8_t* data, size_t size);
};

// Where and when the request arrived, reported in the JSON answer.
struct ArrivalInfo {
  std::string protocol;  // "HTTP/1.1", "HTTP/1.0" or "HTTP/2"
  bool tls = false;
  uint64_t connection = 0;             // per-process connection number, from 1
  uint64_t request_on_connection = 0;  // 1, 2, ... on that connection
  bool overlapped = false;             // HTTP/1.1: the next request's bytes came before this answer
};

struct Answer {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // content-type, x-pod, content-length when known
  bool has_body = true;  // false for HEAD, 204 and 304
  std::string body;      // the whole body unless streaming
  int chunks = 0;        // ?chunks: stream this many pieces of chunk_bytes instead of `body`
  int chunk_bytes = 0;
  bool trailers = false;  // end with the trailer "x-pod-trailer: <pod>"

  bool streaming() const { return chunks > 0; }
};

// Byte of streamed piece `piece_from_end` (N for the first, 1 for the last).
inline char chunk_byte(int piece_from_end) { return static_cast<char>('a' + piece_from_end % 26); }

inline constexpr const char* kTrailerName = "x-pod-trailer";

// ?delay_ms=N, bounded; zero when absent.
std::chrono::milliseconds requested_delay(const std::string& path);

// The answer to `request` (built when it is due, after any delay).
Answer make_answer(const ReceivedRequest& request, const ArrivalInfo& arrival);

}  // namespace grpc_ingress::testing::http_pod
