#include "tests/pods/http_pod_answer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

namespace grpc_ingress::testing::http_pod {
namespace {

constexpr size_t kMaxStoredBody = 64 << 20;  // bytes kept for ?echo; the rest is only counted
constexpr int kMaxChunks = 100000;
constexpr int kMaxChunkBytes = 1 << 20;
constexpr int kMaxDelayMs = 600'000;

std::string g_pod_name;

// The value of query parameter `name` in `path` ("" if it has none); `present`
// says whether the parameter is there at all.
std::string query_value(const std::string& path, const std::string& name, bool* present = nullptr) {
  if (present) *present = false;
  auto q = path.find('?');
  if (q == std::string::npos) return "";
  std::string query = path.substr(q + 1);
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string item = query.substr(start, end - start);
    if (item.substr(0, item.find('=')) == name) {
      if (present) *present = true;
      auto eq = item.find('=');
      return eq == std::string::npos ? "" : item.substr(eq + 1);
    }
    start = end + 1;
  }
  return "";
}

bool has_query(const std::string& path, const std::string& name) {
  bool present = false;
  query_value(path, name, &present);
  return present;
}

int to_int(const std::string& text, int fallback, int min, int max) {
  try {
    int value = std::stoi(text);
    return value < min ? fallback : std::min(value, max);
  } catch (...) {
    return fallback;
  }
}

}  // namespace

const std::string& pod_name() { return g_pod_name; }
void set_pod_name(std::string name) { g_pod_name = std::move(name); }

void ReceivedRequest::add_body(const uint8_t* data, size_t size) {
  body_bytes += size;
  for (size_t i = 0; i < size; ++i) {
    body_fnv1a ^= data[i];
    body_fnv1a *= 1099511628211ULL;
  }
  size_t keep = std::min(size, kMaxStoredBody - std::min(kMaxStoredBody, body.size()));
  body.append(reinterpret_cast<const char*>(data), keep);
}

std::chrono::milliseconds requested_delay(const std::string& path) {
  return std::chrono::milliseconds(to_int(query_value(path, "delay_ms"), 0, 0, kMaxDelayMs));
}

Answer make_answer(const ReceivedRequest& request, const ArrivalInfo& arrival) {
  Answer answer;
  answer.status = to_int(query_value(request.path, "status"), 200, 100, 599);
  answer.has_body = request.method != "HEAD" && answer.status != 204 && answer.status != 304;
  answer.trailers = has_query(request.path, "trailers");
  std::string content_type = "application/json";
  bool length_known = true;
  if (has_query(request.path, "chunks")) {
    answer.chunks = to_int(query_value(request.path, "chunks"), 1, 1, kMaxChunks);
    answer.chunk_bytes = to_int(query_value(request.path, "chunk_bytes"), 1024, 1, kMaxChunkBytes);
    content_type = "text/plain";
    length_known = false;
  } else if (has_query(request.path, "echo")) {
    answer.body = request.body;
    content_type = "application/octet-stream";
  } else {
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& [name, value] : request.headers) headers[name].push_back(value);
    char fnv[17];
    std::snprintf(fnv, sizeof(fnv), "%016llx", static_cast<unsigned long long>(request.body_fnv1a));
    answer.body = nlohmann::json{{"pod", pod_name()},
                                 {"method", request.method},
                                 {"scheme", request.scheme},
                                 {"authority", request.authority},
                                 {"path", request.path},
                                 {"headers", headers},
                                 {"body_bytes", request.body_bytes},
                                 {"body_fnv1a", fnv},
                                 {"protocol", arrival.protocol},
                                 {"tls", arrival.tls},
                                 {"connection", arrival.connection},
                                 {"request_on_connection", arrival.request_on_connection},
                                 {"overlapped", arrival.overlapped}}
                      .dump() +
                  "\n";
  }
  answer.headers = {{"content-type", content_type}, {"x-pod", pod_name()}};
  // HEAD gets the length a GET would have; 204 and 304 have none.
  bool no_content = answer.status == 204 || answer.status == 304;
  if (length_known && !no_content) answer.headers.emplace_back("content-length", std::to_string(answer.body.size()));
  if (!answer.has_body) answer.body.clear();
  return answer;
}

}  // namespace grpc_ingress::testing::http_pod
