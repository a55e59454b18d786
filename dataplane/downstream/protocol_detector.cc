#include "dataplane/downstream/protocol_detector.h"

#include "dataplane/worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>

namespace grpc_ingress {
namespace {
constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
std::atomic<uint64_t> next_connection_id{1};
}  // namespace

uint64_t next_downstream_connection_id() { return next_connection_id.fetch_add(1, std::memory_order_relaxed); }

namespace {

// RFC 9110 5.6.2: the characters of a token, such as a method.
bool is_token_char(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// Longer than any method in use (the longest registered ones have 17 letters).
constexpr size_t kMaxMethodLength = 32;

}  // namespace

PrefaceKind classify_preface(std::string_view first_bytes) {
  size_t n = std::min(first_bytes.size(), kHttp2Preface.size());
  if (first_bytes.substr(0, n) == kHttp2Preface.substr(0, n)) {
    return n == kHttp2Preface.size() ? PrefaceKind::kHttp2 : PrefaceKind::kNeedMore;
  }
  for (size_t i = 0; i < first_bytes.size() && i <= kMaxMethodLength; ++i) {
    auto c = static_cast<unsigned char>(first_bytes[i]);
    if (is_token_char(c)) continue;
    bool ends_method = c == ' ' || c == '\r' || c == '\n';
    return i > 0 && ends_method ? PrefaceKind::kHttp1 : PrefaceKind::kGarbage;
  }
  return first_bytes.size() > kMaxMethodLength ? PrefaceKind::kGarbage : PrefaceKind::kNeedMore;
}

ProtocolDetector::ProtocolDetector(Worker& worker, Transport transport, uint64_t id,
                                   std::chrono::milliseconds timeout)
    : worker_(worker),
      transport_(std::move(transport)),
      id_(id),
      timer_(transport_->get_executor()),
      timeout_(timeout) {}

void ProtocolDetector::start() {
  timer_.expires_after(timeout_);
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!ec && self) self->close("nothing sent within " + std::to_string(self->timeout_.count()) + " ms");
  });
  read();
}

void ProtocolDetector::shutdown() {
  if (received_.empty()) close("shutting down");
}

void ProtocolDetector::read() {
  transport_->async_read([self = shared_from_this()](boost::system::error_code ec, const uint8_t* data, size_t n) {
    if (self->done_) return;
    if (ec) {
      self->close(ec == boost::asio::error::eof ? "closed before a request" : ec.message());
      return;
    }
    self->received_.append(reinterpret_cast<const char*>(data), n);
    PrefaceKind kind = classify_preface(self->received_);
    if (kind == PrefaceKind::kNeedMore) {
      self->read();
      return;
    }
    if (kind == PrefaceKind::kGarbage) {
      // Neither HTTP/2 nor HTTP/1.x: no answer could mean anything to it.
      bump(self->worker_.stats().downstream_protocol_errors);
      self->close("first bytes are neither the HTTP/2 preface nor an HTTP/1.x request line");
      return;
    }
    self->done_ = true;
    self->timer_.cancel();
    bool tls = self->transport_->tls();
    DownstreamProtocol protocol = kind == PrefaceKind::kHttp2
                                      ? (tls ? DownstreamProtocol::kH2 : DownstreamProtocol::kH2c)
                                      : (tls ? DownstreamProtocol::kHttp1Tls : DownstreamProtocol::kHttp1);
    self->worker_.start_session(self->id_, protocol, std::move(*self->transport_), self->received_);
  });
}

void ProtocolDetector::close(const std::string& reason) {
  if (done_) return;
  done_ = true;
  spdlog::debug("[C{}] closed: {}", id_, reason);
  timer_.cancel();
  transport_->close();
  worker_.session_closed(id_);
}

}  // namespace grpc_ingress
