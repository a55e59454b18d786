// http-pod: a plain HTTP/2 (h2c, prior knowledge) server standing in for a
// pod that is not a gRPC server, so tests can see what a proxied request
// looked like when it reached the pod.
//
//   http-pod --listen 127.0.0.2:0 --pod web-0 [--exit-with-parent]
//
// Prints "LISTENING <ip>:<port>" when ready. Every request is read whole,
// then answered (query parameters choose the answer):
//   default        200, application/json: {"pod", "method", "scheme", "authority",
//                  "path", "headers": {name: [values]}, "body_bytes", "body_fnv1a"}
//   ?echo          the request body back, with content-length
//   ?chunks=N&chunk_bytes=M   N DATA frames of M bytes ('a'..'z'), no content-length
//   ?trailers      add the trailer "x-pod-trailer: <pod>"
//   ?status=NNN    answer with that status
// SIGTERM or SIGINT: exit 0.

#include <nghttp2/nghttp2.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t kMaxStoredBody = 64 << 20;  // bytes kept for ?echo; the rest is only counted
constexpr int kMaxChunks = 100000;
constexpr int kMaxChunkBytes = 1 << 20;

std::string g_pod;

struct Request {
  std::string method, scheme, authority, path;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  uint64_t body_bytes = 0;
  uint64_t fnv = 1469598103934665603ULL;
};

struct Response {
  std::string body;
  size_t sent = 0;
  int chunks_left = 0;  // streaming mode: chunks still to send, one DATA frame or more each
  int chunk_bytes = 0;
  int chunk_left = 0;   // bytes of the current chunk still to send
  bool trailers = false;
};

struct Connection {
  int fd;
  nghttp2_session* session = nullptr;
  std::map<int32_t, Request> requests;
  std::map<int32_t, Response> responses;
};

std::string query_value(const std::string& path, const std::string& name, bool* present = nullptr) {
  auto q = path.find('?');
  if (present) *present = false;
  if (q == std::string::npos) return "";
  std::string query = path.substr(q + 1);
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string item = query.substr(start, end - start);
    std::string key = item.substr(0, item.find('='));
    if (key == name) {
      if (present) *present = true;
      auto eq = item.find('=');
      return eq == std::string::npos ? "" : item.substr(eq + 1);
    }
    start = end + 1;
  }
  return "";
}

int to_int(const std::string& text, int fallback, int max) {
  try {
    int value = std::stoi(text);
    return value < 0 ? fallback : std::min(value, max);
  } catch (...) {
    return fallback;
  }
}

ssize_t read_body(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                  uint32_t* flags, nghttp2_data_source*, void* user_data) {
  auto* connection = static_cast<Connection*>(user_data);
  Response& response = connection->responses[stream_id];
  size_t n = 0;
  if (response.chunks_left > 0) {
    // At most one chunk per call, so the proxy sees separate DATA frames.
    if (response.chunk_left == 0) response.chunk_left = response.chunk_bytes;
    n = std::min(length, static_cast<size_t>(response.chunk_left));
    for (size_t i = 0; i < n; ++i) buf[i] = static_cast<uint8_t>('a' + (response.chunks_left % 26));
    response.chunk_left -= static_cast<int>(n);
    if (response.chunk_left == 0) --response.chunks_left;
    if (response.chunks_left > 0) return static_cast<ssize_t>(n);
  } else {
    n = std::min(length, response.body.size() - response.sent);
    std::memcpy(buf, response.body.data() + response.sent, n);
    response.sent += n;
    if (response.sent < response.body.size()) return static_cast<ssize_t>(n);
  }
  *flags |= NGHTTP2_DATA_FLAG_EOF;
  if (response.trailers) {
    std::string name = "x-pod-trailer";
    nghttp2_nv trailer{reinterpret_cast<uint8_t*>(name.data()), reinterpret_cast<uint8_t*>(g_pod.data()),
                       name.size(), g_pod.size(), NGHTTP2_NV_FLAG_NONE};
    if (nghttp2_submit_trailer(session, stream_id, &trailer, 1) == 0) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
  }
  return static_cast<ssize_t>(n);
}

void respond(Connection& connection, int32_t stream_id) {
  Request& request = connection.requests[stream_id];
  Response& response = connection.responses[stream_id];
  std::string status = "200";
  if (std::string s = query_value(request.path, "status"); !s.empty()) status = s;
  bool echo = false, trailers = false, chunked = false;
  query_value(request.path, "echo", &echo);
  query_value(request.path, "trailers", &trailers);
  query_value(request.path, "chunks", &chunked);
  response.trailers = trailers;
  std::string content_type = "application/json";
  std::string length;
  if (chunked) {
    response.chunks_left = to_int(query_value(request.path, "chunks"), 1, kMaxChunks);
    response.chunk_bytes = to_int(query_value(request.path, "chunk_bytes"), 1024, kMaxChunkBytes);
    content_type = "text/plain";
  } else if (echo) {
    response.body = request.body;
    content_type = "application/octet-stream";
    length = std::to_string(response.body.size());
  } else {
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& [name, value] : request.headers) headers[name].push_back(value);
    char fnv[17];
    std::snprintf(fnv, sizeof(fnv), "%016llx", static_cast<unsigned long long>(request.fnv));
    response.body = nlohmann::json{{"pod", g_pod},
                                   {"method", request.method},
                                   {"scheme", request.scheme},
                                   {"authority", request.authority},
                                   {"path", request.path},
                                   {"headers", headers},
                                   {"body_bytes", request.body_bytes},
                                   {"body_fnv1a", fnv}}
                        .dump() +
                    "\n";
    length = std::to_string(response.body.size());
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {":status", status}, {"content-type", content_type}, {"x-pod", g_pod}};
  if (!length.empty()) fields.emplace_back("content-length", length);
  std::vector<nghttp2_nv> nva;
  for (auto& [name, value] : fields) {
    nva.push_back({reinterpret_cast<uint8_t*>(name.data()), reinterpret_cast<uint8_t*>(value.data()), name.size(),
                   value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  nghttp2_data_provider provider{};
  provider.read_callback = read_body;
  bool body = request.method != "HEAD" && status != "204" && status != "304";
  nghttp2_submit_response(connection.session, stream_id, nva.data(), nva.size(), body ? &provider : nullptr);
}

int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    static_cast<Connection*>(user_data)->requests[frame->hd.stream_id] = Request{};
  }
  return 0;
}

int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
              const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
  auto* connection = static_cast<Connection*>(user_data);
  auto it = connection->requests.find(frame->hd.stream_id);
  if (it == connection->requests.end()) return 0;
  std::string n(reinterpret_cast<const char*>(name), namelen), v(reinterpret_cast<const char*>(value), valuelen);
  Request& request = it->second;
  if (n == ":method") request.method = v;
  else if (n == ":scheme") request.scheme = v;
  else if (n == ":authority") request.authority = v;
  else if (n == ":path") request.path = v;
  else if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) request.headers.emplace_back("trailer:" + n, v);
  else request.headers.emplace_back(n, v);
  return 0;
}

int on_data_chunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len, void* user_data) {
  auto* connection = static_cast<Connection*>(user_data);
  Request& request = connection->requests[stream_id];
  request.body_bytes += len;
  for (size_t i = 0; i < len; ++i) {
    request.fnv ^= data[i];
    request.fnv *= 1099511628211ULL;
  }
  size_t keep = std::min(len, kMaxStoredBody - std::min(kMaxStoredBody, request.body.size()));
  request.body.append(reinterpret_cast<const char*>(data), keep);
  return 0;
}

int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    respond(*static_cast<Connection*>(user_data), frame->hd.stream_id);
  }
  return 0;
}

int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t, void* user_data) {
  auto* connection = static_cast<Connection*>(user_data);
  connection->requests.erase(stream_id);
  connection->responses.erase(stream_id);
  return 0;
}

bool send_all(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

void serve(int fd) {
  Connection connection;
  connection.fd = fd;
  nghttp2_session_callbacks* callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
  nghttp2_session_server_new(&connection.session, callbacks, &connection);
  nghttp2_session_callbacks_del(callbacks);
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000}};
  nghttp2_submit_settings(connection.session, NGHTTP2_FLAG_NONE, settings, 1);
  std::vector<uint8_t> buffer(64 * 1024);
  while (true) {
    const uint8_t* data;
    ssize_t n;
    bool ok = true;
    while ((n = nghttp2_session_mem_send(connection.session, &data)) > 0) {
      if (!send_all(fd, data, static_cast<size_t>(n))) ok = false;
    }
    if (!ok || n < 0) break;
    if (!nghttp2_session_want_read(connection.session) && !nghttp2_session_want_write(connection.session)) break;
    ssize_t got = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (got <= 0) break;
    if (nghttp2_session_mem_recv(connection.session, buffer.data(), static_cast<size_t>(got)) < 0) break;
  }
  nghttp2_session_del(connection.session);
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  bool exit_with_parent = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--listen" && i + 1 < argc) listen = argv[++i];
    else if (arg == "--pod" && i + 1 < argc) g_pod = argv[++i];
    else if (arg == "--exit-with-parent") exit_with_parent = true;
    else {
      std::cerr << "usage: http-pod --listen IP:PORT --pod NAME [--exit-with-parent]\n";
      return 2;
    }
  }
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || g_pod.empty()) {
    std::cerr << "http-pod: --listen IP:PORT and --pod NAME are required\n";
    return 2;
  }
  if (exit_with_parent) prctl(PR_SET_PDEATHSIG, SIGTERM);
  std::signal(SIGTERM, [](int) { _exit(0); });
  std::signal(SIGINT, [](int) { _exit(0); });

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(listen.substr(colon + 1))));
  if (::inet_pton(AF_INET, listen.substr(0, colon).c_str(), &addr.sin_addr) != 1 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 128) != 0) {
    std::cerr << "http-pod: cannot listen on " << listen << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::cout << "LISTENING " << listen.substr(0, colon) << ":" << ntohs(addr.sin_port) << std::endl;
  while (true) {
    int client = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::thread(serve, client).detach();
  }
}
