#include "tests/integration/h2_raw_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace grpc_ingress::testing::h2 {
namespace {

constexpr size_t kFrameHeaderBytes = 9;
constexpr size_t kMaxReceivedFrame = 1 << 24;  // the largest length a frame header can claim

void put32(std::string& out, uint32_t value) {
  out.push_back(static_cast<char>(value >> 24));
  out.push_back(static_cast<char>(value >> 16));
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value));
}

uint32_t get32(std::string_view bytes, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

int milliseconds_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

}  // namespace

std::string error_name(uint32_t code) {
  static const char* const kNames[] = {"NO_ERROR",        "PROTOCOL_ERROR",      "INTERNAL_ERROR",
                                       "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",  "STREAM_CLOSED",
                                       "FRAME_SIZE_ERROR", "REFUSED_STREAM",      "CANCEL",
                                       "COMPRESSION_ERROR", "CONNECT_ERROR",      "ENHANCE_YOUR_CALM",
                                       "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"};
  std::string name = code < std::size(kNames) ? kNames[code] : "UNKNOWN";
  return name + " (" + std::to_string(code) + ")";
}

// ---- frames ----

std::string_view client_preface() { return "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"; }

std::string frame_header(uint32_t length, uint8_t type, uint8_t flags, uint32_t stream_id) {
  std::string out;
  out.push_back(static_cast<char>(length >> 16));
  out.push_back(static_cast<char>(length >> 8));
  out.push_back(static_cast<char>(length));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  put32(out, stream_id & 0x7fffffffu);
  return out;
}

std::string frame(uint8_t type, uint8_t flags, uint32_t stream_id, std::string_view payload) {
  return frame_header(static_cast<uint32_t>(payload.size()), type, flags, stream_id).append(payload);
}

std::string settings(const std::vector<std::pair<uint16_t, uint32_t>>& entries) {
  std::string payload;
  for (const auto& [id, value] : entries) {
    payload.push_back(static_cast<char>(id >> 8));
    payload.push_back(static_cast<char>(id));
    put32(payload, value);
  }
  return frame(kSettings, 0, 0, payload);
}

std::string settings_ack() { return frame(kSettings, kFlagAck, 0, ""); }

std::string ping(uint64_t opaque, bool ack) {
  std::string payload;
  put32(payload, static_cast<uint32_t>(opaque >> 32));
  put32(payload, static_cast<uint32_t>(opaque));
  return frame(kPing, ack ? kFlagAck : 0, 0, payload);
}

std::string priority(uint32_t stream_id, uint32_t depends_on, uint8_t weight, bool exclusive) {
  std::string payload;
  put32(payload, (depends_on & 0x7fffffffu) | (exclusive ? 0x80000000u : 0));
  payload.push_back(static_cast<char>(weight));
  return frame(kPriority, 0, stream_id, payload);
}

std::string window_update(uint32_t stream_id, uint32_t increment) {
  std::string payload;
  put32(payload, increment & 0x7fffffffu);
  return frame(kWindowUpdate, 0, stream_id, payload);
}

std::string rst_stream(uint32_t stream_id, uint32_t error_code) {
  std::string payload;
  put32(payload, error_code);
  return frame(kRstStream, 0, stream_id, payload);
}

std::string goaway(uint32_t last_stream_id, uint32_t error_code, std::string_view debug) {
  std::string payload;
  put32(payload, last_stream_id & 0x7fffffffu);
  put32(payload, error_code);
  payload.append(debug);
  return frame(kGoaway, 0, 0, payload);
}

std::string headers(uint32_t stream_id, std::string_view block, bool end_headers, bool end_stream) {
  uint8_t flags = (end_headers ? kFlagEndHeaders : 0) | (end_stream ? kFlagEndStream : 0);
  return frame(kHeaders, flags, stream_id, block);
}

std::string continuation(uint32_t stream_id, std::string_view block, bool end_headers) {
  return frame(kContinuation, end_headers ? kFlagEndHeaders : 0, stream_id, block);
}

std::string data(uint32_t stream_id, std::string_view bytes, bool end_stream, std::optional<uint8_t> pad_length) {
  uint8_t flags = end_stream ? kFlagEndStream : 0;
  if (!pad_length) return frame(kData, flags, stream_id, bytes);
  std::string payload(1, static_cast<char>(*pad_length));
  payload.append(bytes);
  payload.append(*pad_length, '\0');
  return frame(kData, flags | kFlagPadded, stream_id, payload);
}

// ---- HPACK ----

namespace hpack {

std::string integer(uint64_t value, int prefix_bits, uint8_t first_byte_bits) {
  const uint64_t max_prefix = (1u << prefix_bits) - 1;
  std::string out;
  if (value < max_prefix) {
    out.push_back(static_cast<char>(first_byte_bits | value));
    return out;
  }
  out.push_back(static_cast<char>(first_byte_bits | max_prefix));
  value -= max_prefix;
  while (value >= 128) {
    out.push_back(static_cast<char>(0x80 | (value & 0x7f)));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

namespace {
std::string string_literal(std::string_view s) { return integer(s.size(), 7, 0x00).append(s); }
}  // namespace

std::string literal(std::string_view name, std::string_view value) {
  return std::string(1, '\0') + string_literal(name) + string_literal(value);
}

std::string indexed_literal(std::string_view name, std::string_view value) {
  return std::string(1, '\x40') + string_literal(name) + string_literal(value);
}

std::string indexed(uint64_t index) { return integer(index, 7, 0x80); }

std::string block(const Headers& headers) {
  std::string out;
  for (const auto& [name, value] : headers) out += literal(name, value);
  return out;
}

}  // namespace hpack

std::string grpc_frame(std::string_view message) {
  std::string out(1, '\0');
  put32(out, static_cast<uint32_t>(message.size()));
  return out.append(message);
}

Headers grpc_request(std::string_view path, uint16_t port) {
  return {{":method", "POST"},
          {":scheme", "http"},
          {":path", std::string(path)},
          {":authority", "127.0.0.1:" + std::to_string(port)},
          {"content-type", "application/grpc"},
          {"te", "trailers"}};
}

// ---- received frames ----

uint32_t Frame::error_code() const {
  if (type == kRstStream && payload.size() >= 4) return get32(payload, 0);
  if (type == kGoaway && payload.size() >= 8) return get32(payload, 4);
  return kNoError;
}

std::string Frame::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

bool CutOff::by(std::initializer_list<uint32_t> codes) const {
  if (closed) return true;
  return goaway_error && std::find(codes.begin(), codes.end(), *goaway_error) != codes.end();
}

std::string CutOff::describe() const {
  std::ostringstream out;
  if (goaway_error) out << "GOAWAY " << error_name(*goaway_error) << "; ";
  out << (closed ? "connection closed" : "connection open");
  if (after) out << "; seen after " << after->count() << " ms";
  return out.str();
}

// ---- the connection ----

H2RawClient::H2RawClient(uint16_t port, std::optional<int> receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (receive_buffer) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &*receive_buffer, sizeof(int));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::string error = std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + error);
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  if (nghttp2_hd_inflate_new(&inflater_) != 0) throw std::runtime_error("nghttp2_hd_inflate_new failed");
}

H2RawClient::~H2RawClient() {
  if (fd_ >= 0) ::close(fd_);
  if (inflater_) nghttp2_hd_inflate_del(inflater_);
}

bool H2RawClient::start(const std::vector<std::pair<uint16_t, uint32_t>>& entries) {
  return send(std::string(client_preface()) + settings(entries));
}

bool H2RawClient::send(std::string_view bytes, std::chrono::milliseconds timeout) {
  if (closed_) return false;
  out_.append(bytes);
  return flush(Clock::now() + timeout);
}

bool H2RawClient::flush(Clock::time_point deadline) {
  size_t sent = 0;
  while (sent < out_.size() && !closed_) {
    ssize_t n = ::send(fd_, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd poll_fd{fd_, POLLOUT, 0};
      if (::poll(&poll_fd, 1, milliseconds_left(deadline)) <= 0) break;  // timed out: keep the rest
      continue;
    }
    mark_closed();  // EPIPE, ECONNRESET: the proxy closed
  }
  out_.erase(0, sent);
  return !closed_;
}

uint32_t H2RawClient::next_stream_id() {
  uint32_t id = next_stream_id_;
  next_stream_id_ += 2;
  return id;
}

uint32_t H2RawClient::open_stream(const Headers& request, bool end_stream) {
  uint32_t id = next_stream_id();
  std::string block = hpack::block(request);
  std::string bytes;
  size_t first = std::min(block.size(), kDefaultMaxFrameSize);
  bytes += headers(id, std::string_view(block).substr(0, first), first == block.size(), end_stream);
  for (size_t at = first; at < block.size(); at += kDefaultMaxFrameSize) {
    size_t n = std::min(block.size() - at, kDefaultMaxFrameSize);
    bytes += continuation(id, std::string_view(block).substr(at, n), at + n == block.size());
  }
  send(bytes);
  return id;
}

bool H2RawClient::receive(std::chrono::milliseconds timeout) {
  if (closed_) return false;
  pollfd poll_fd{fd_, POLLIN, 0};
  if (::poll(&poll_fd, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char buffer[65536];
  ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
  if (n > 0) {
    in_.append(buffer, static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
  mark_closed();  // EOF or reset
  return false;
}

void H2RawClient::mark_closed() {
  if (closed_) return;
  closed_ = true;
  closed_at_ = Clock::now();
}

std::optional<Frame> H2RawClient::parse_frame() {
  while (in_.size() >= kFrameHeaderBytes) {
    uint32_t length = static_cast<uint8_t>(in_[0]) << 16 | static_cast<uint8_t>(in_[1]) << 8 |
                      static_cast<uint8_t>(in_[2]);
    if (length > kMaxReceivedFrame || in_.size() < kFrameHeaderBytes + length) return std::nullopt;
    Frame frame;
    frame.type = static_cast<uint8_t>(in_[3]);
    frame.flags = static_cast<uint8_t>(in_[4]);
    frame.stream_id = get32(in_, 5) & 0x7fffffffu;
    frame.payload = in_.substr(kFrameHeaderBytes, length);
    in_.erase(0, kFrameHeaderBytes + length);
    observe(frame);
    if (frame.type == kHeaders && !(frame.flags & kFlagEndHeaders)) {
      pending_headers_ = std::move(frame);  // its CONTINUATION frames follow
      continue;
    }
    if (frame.type == kContinuation && pending_headers_) {
      pending_headers_->payload += frame.payload;
      if (!(frame.flags & kFlagEndHeaders)) continue;
      frame = std::move(*pending_headers_);
      pending_headers_.reset();
      frame.flags |= kFlagEndHeaders;
      decode_headers(frame);
    }
    return frame;
  }
  return std::nullopt;
}

// Bookkeeping every frame needs as it arrives: padding and priority off a
// HEADERS block, flow control, GOAWAY, SETTINGS acknowledgement.
void H2RawClient::observe(Frame& frame) {
  switch (frame.type) {
    case kHeaders: {
      size_t begin = 0, end = frame.payload.size();
      if (frame.flags & kFlagPadded && end > 0) {
        end -= std::min<size_t>(end, static_cast<uint8_t>(frame.payload[0]) + 1);
        begin = 1;
      }
      if (frame.flags & kFlagPriority) begin += 5;
      frame.payload = begin < end ? frame.payload.substr(begin, end - begin) : "";
      if (frame.flags & kFlagEndHeaders) decode_headers(frame);
      break;
    }
    case kData:
      data_bytes_ += frame.payload.size();
      break;
    case kGoaway:
      if (!goaway_error_) {
        goaway_error_ = frame.error_code();
        goaway_at_ = Clock::now();
      }
      break;
    case kWindowUpdate:
      if (frame.payload.size() >= 4) {
        int64_t increment = get32(frame.payload, 0) & 0x7fffffffu;
        if (frame.stream_id == 0) {
          connection_window_ += increment;
        } else {
          stream_window_delta_[frame.stream_id] += increment;
        }
      }
      break;
    case kSettings:
      if (frame.flags & kFlagAck) break;
      for (size_t at = 0; at + 6 <= frame.payload.size(); at += 6) {
        uint16_t id = static_cast<uint16_t>(static_cast<uint8_t>(frame.payload[at]) << 8 |
                                            static_cast<uint8_t>(frame.payload[at + 1]));
        if (id == kSettingsInitialWindowSize) initial_stream_window_ = get32(frame.payload, at + 2);
      }
      if (auto_ack_) send(settings_ack(), std::chrono::milliseconds(100));
      break;
    default:
      break;
  }
}

void H2RawClient::decode_headers(Frame& frame) {
  const auto* in = reinterpret_cast<const uint8_t*>(frame.payload.data());
  size_t left = frame.payload.size();
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    ssize_t n = nghttp2_hd_inflate_hd2(inflater_, &nv, &flags, in, left, 1);
    if (n < 0) {
      frame.headers.emplace_back(":decode-error", nghttp2_strerror(static_cast<int>(n)));
      return;
    }
    in += n;
    left -= static_cast<size_t>(n);
    if (flags & NGHTTP2_HD_INFLATE_EMIT) {
      frame.headers.emplace_back(std::string(reinterpret_cast<const char*>(nv.name), nv.namelen),
                                 std::string(reinterpret_cast<const char*>(nv.value), nv.valuelen));
    }
    if (flags & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(inflater_);
      return;
    }
    if (n == 0 && left == 0) return;
  }
}

std::optional<Frame> H2RawClient::read_frame(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto frame = parse_frame()) return frame;
    if (closed_) return std::nullopt;
    if (!receive(std::chrono::milliseconds(milliseconds_left(deadline))) && Clock::now() >= deadline) {
      return std::nullopt;
    }
  }
}

void H2RawClient::poll() {
  while (!closed_ && receive(std::chrono::milliseconds(0))) {
  }
  while (auto frame = parse_frame()) seen_.push_back(std::move(*frame));
}

CutOff H2RawClient::cut_off(Clock::time_point since) const {
  CutOff out;
  out.closed = closed_;
  out.goaway_error = goaway_error_;
  std::optional<Clock::time_point> at = goaway_at_;
  if (closed_at_ && (!at || *closed_at_ < *at)) at = closed_at_;
  if (at) out.after = std::chrono::duration_cast<std::chrono::milliseconds>(*at - since);
  return out;
}

CutOff H2RawClient::wait_cut_off(std::chrono::milliseconds timeout, Clock::time_point since) {
  // After a GOAWAY with an error, a moment more to see the close that should follow.
  constexpr auto kCloseGrace = std::chrono::milliseconds(500);
  const auto deadline = Clock::now() + timeout;
  auto done = [&] {
    if (closed_ || Clock::now() >= deadline) return true;
    return goaway_error_ && *goaway_error_ != kNoError && Clock::now() >= *goaway_at_ + kCloseGrace;
  };
  while (!done()) {
    auto wait = std::min(std::chrono::milliseconds(milliseconds_left(deadline)), std::chrono::milliseconds(100));
    if (auto frame = read_frame(wait)) seen_.push_back(std::move(*frame));
  }
  return cut_off(since);
}

bool H2RawClient::wait_dropped_unread(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!closed_) {
    // No POLLIN: unread bytes do not wake us, a reset (POLLERR/POLLHUP) or a FIN (POLLRDHUP) does.
    pollfd poll_fd{fd_, POLLRDHUP, 0};
    int ready = ::poll(&poll_fd, 1, milliseconds_left(deadline));
    if (ready > 0 && (poll_fd.revents & (POLLRDHUP | POLLHUP | POLLERR))) mark_closed();
    if (ready <= 0 && Clock::now() >= deadline) break;
  }
  return closed_;
}

int64_t H2RawClient::stream_send_window(uint32_t stream_id) const {
  auto it = stream_window_delta_.find(stream_id);
  return initial_stream_window_ + (it == stream_window_delta_.end() ? 0 : it->second);
}

size_t H2RawClient::send_within_window(uint32_t stream_id, std::string_view bytes) {
  size_t sent = 0;
  while (sent < bytes.size() && !closed_) {
    int64_t window = std::min(connection_window_, stream_send_window(stream_id));
    if (window <= 0) break;
    size_t n = std::min({bytes.size() - sent, kDefaultMaxFrameSize, static_cast<size_t>(window)});
    if (!send(data(stream_id, bytes.substr(sent, n), false), std::chrono::milliseconds(100))) break;
    connection_window_ -= static_cast<int64_t>(n);
    stream_window_delta_[stream_id] -= static_cast<int64_t>(n);
    sent += n;
    if (unsent() > 0) break;  // the proxy is not reading: come back later
  }
  return sent;
}

}  // namespace grpc_ingress::testing::h2
