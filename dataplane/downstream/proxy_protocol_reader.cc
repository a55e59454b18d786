#include "dataplane/downstream/proxy_protocol_reader.h"

#include "dataplane/downstream/proxy_protocol.h"
#include "dataplane/transport.h"
#include "dataplane/worker.h"

#include <spdlog/spdlog.h>

#include <array>

namespace grpc_ingress {
namespace {

// Peeks land here: nothing of a connection's is kept between wake-ups but the
// header bytes already consumed.
std::array<char, kProxyHeaderMaxBytes>& peek_buffer() {
  static thread_local std::array<char, kProxyHeaderMaxBytes> buffer;
  return buffer;
}

}  // namespace

ProxyProtocolReader::ProxyProtocolReader(Worker& worker, boost::asio::ip::tcp::socket socket,
                                         std::shared_ptr<const ServerTlsContexts> contexts, uint64_t id,
                                         std::chrono::milliseconds timeout)
    : worker_(worker),
      socket_(std::move(socket)),
      contexts_(std::move(contexts)),
      id_(id),
      timer_(socket_.get_executor()),
      timeout_(timeout) {}

void ProxyProtocolReader::start() {
  boost::system::error_code ignored;
  socket_.non_blocking(true, ignored);
  timer_.expires_after(timeout_);
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->done_) return;
    self->close("no PROXY protocol header within " + std::to_string(self->timeout_.count()) + " ms", true);
  });
  wait();
}

void ProxyProtocolReader::wait() {
  socket_.async_wait(boost::asio::socket_base::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
    if (self->done_) return;
    if (ec) {
      self->close("before a PROXY protocol header: " + ec.message(), !self->consumed_.empty());
      return;
    }
    self->on_readable();
  });
}

void ProxyProtocolReader::on_readable() {
  auto& buffer = peek_buffer();
  const size_t had = consumed_.size();
  boost::system::error_code ec;
  size_t n = socket_.receive(boost::asio::buffer(buffer.data(), buffer.size() - had),
                             boost::asio::socket_base::message_peek, ec);
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
    wait();  // woken without bytes after all
    return;
  }
  if (ec || n == 0) {
    // A TCP probe that connects and leaves is no protocol error; a header cut short is.
    close(ec == boost::asio::error::eof || n == 0 ? "closed before a complete PROXY protocol header"
                                                  : "before a PROXY protocol header: " + ec.message(),
          had > 0);
    return;
  }
  std::string_view view(buffer.data(), n);
  if (had > 0) {
    consumed_.append(buffer.data(), n);
    view = consumed_;
  }
  ProxyParse parse = parse_proxy_header(view);
  if (parse.status == ProxyParseStatus::kError) {
    close(parse.error, true);
    return;
  }
  // Incomplete: every byte seen belongs to the header, so it is taken off the
  // socket (the next wake-up then means new bytes). Complete: only the rest of
  // the header is taken; what follows stays for TLS or the protocol detector.
  size_t take = parse.header.length - had;
  if (parse.status == ProxyParseStatus::kNeedMore) {
    take = n;
    if (had == 0) consumed_.assign(buffer.data(), n);  // else appended above
  }
  size_t taken = socket_.receive(boost::asio::buffer(buffer.data(), take), 0, ec);
  if (ec || taken != take) {
    close("PROXY protocol header could not be read back: " + (ec ? ec.message() : std::string("short read")), true);
    return;
  }
  if (parse.status == ProxyParseStatus::kNeedMore) {
    wait();
    return;
  }

  done_ = true;
  timer_.cancel();
  if (std::shared_ptr<DownstreamPeer> peer = worker_.peer(id_)) {
    if (parse.header.source) {
      peer->address = *parse.header.source;
      peer->port = parse.header.source_port;
      peer->address_text = peer->address.to_string();
      peer->proxy_protocol = true;
      peer->known = true;
    }
    spdlog::debug("[C{}] PROXY v{} header ({} bytes): client {}:{}{}", id_, parse.header.version,
                  parse.header.length, peer->address_text, peer->port,
                  parse.header.source ? "" : " (the connection's own address: the header names no client)");
  }
  consumed_ = std::string();
  if (contexts_) {
    worker_.start_tls(id_, std::move(socket_), std::move(contexts_));
  } else {
    worker_.start_detector(id_, Transport(std::move(socket_)));
  }
}

void ProxyProtocolReader::close(const std::string& reason, bool counted) {
  if (done_) return;
  done_ = true;
  if (counted) bump(worker_.stats().proxy_protocol_errors);
  std::shared_ptr<DownstreamPeer> peer = worker_.peer(id_);
  spdlog::debug("[C{}] closed: {} (connection from {})", id_, reason, peer ? peer->address_text : std::string("?"));
  timer_.cancel();
  boost::system::error_code ignored;
  socket_.close(ignored);
  worker_.session_closed(id_);
}

}  // namespace grpc_ingress
