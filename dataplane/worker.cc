#include "dataplane/worker.h"

#include "dataplane/downstream/h1_server_session.h"
#include "dataplane/downstream/h2_server_session.h"
#include "dataplane/downstream/protocol_detector.h"
#include "dataplane/downstream/proxy_protocol_reader.h"
#include "dataplane/downstream/tls_handshake.h"
#include "dataplane/recycled_memory.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <random>

#include <pthread.h>

namespace grpc_ingress {

Worker::Worker(int index, const DownstreamOptions& downstream, const UpstreamOptions& upstream,
               EndpointStates& states, ConnectionSource* pods)
    : buffers_(nullptr, downstream.max_worker_buffer_bytes,
               [this] {
                 // Called while bytes are being queued: reset streams once that call is over.
                 if (budget_check_scheduled_) return;
                 budget_check_scheduled_ = true;
                 boost::asio::post(io_, [this] {
                   budget_check_scheduled_ = false;
                   enforce_buffer_budget();
                 });
               }),
      index_(index),
      work_(boost::asio::make_work_guard(io_)),
      downstream_options_(downstream),
      random_(std::random_device{}()),
      pool_(io_, upstream,
            UpstreamHandlers{[this](const std::shared_ptr<ProxyStream>& stream, const std::string& reason,
                                    UpstreamFailure failure) { router_.upstream_failed(stream, reason, failure); },
                             [this](const std::shared_ptr<ProxyStream>& stream) {
                               return router_.upstream_answered(stream);
                             }},
            &stats_),
      router_(io_, pods ? *pods : pool_, stats_, states, downstream.stream_idle_timeout, random_()) {
  if (index == 0) health_checker_.emplace(io_, pool_, states);
  router_.set_client_identity(downstream.identity);
  buffers_.mirror_into(&stats_.buffered_bytes);
}

Worker::~Worker() {
  stop();
  // Streams still referenced by queued handlers die with io_, after stats_.
  buffers_.mirror_into(nullptr);
  buffers_.forget_owner();
}

std::shared_ptr<BufferAccount> Worker::new_connection_buffers(std::weak_ptr<DownstreamConnection> connection) {
  auto account = std::make_shared<BufferAccount>(&buffers_, downstream_options_.max_connection_buffer_bytes);
  std::weak_ptr<BufferAccount> weak_account = account;  // no cycle through its own callback
  account->set_on_over_limit([this, connection, weak_account] {
    // Called while bytes are being queued: reset streams once that call is over.
    boost::asio::post(io_, [this, connection, weak_account] {
      auto live = connection.lock();
      auto account = weak_account.lock();
      if (!live || !account || !account->over_limit()) return;
      std::vector<std::shared_ptr<ProxyStream>> streams;
      live->collect_buffering_streams(streams);
      shed_over_budget(streams, *account, kBudgetConnection);
    });
  });
  return account;
}

void Worker::shed_over_budget(std::vector<std::shared_ptr<ProxyStream>>& streams, const BufferAccount& account,
                              BufferBudget budget) {
  static const std::string kWhy[kBufferBudgets] = {
      "over the buffer budget of its connection (--max-connection-buffer)",
      "over the buffer budget of its worker (--max-worker-buffer)"};
  bump(stats_.buffer_resets[budget], shed_largest_streams(streams, account, kWhy[budget]));
}

void Worker::enforce_buffer_budget() {
  if (!buffers_.over_limit()) return;
  std::vector<std::shared_ptr<ProxyStream>> streams;
  for (auto& [_, entry] : connections_) {
    if (auto connection = entry.connection.lock()) connection->collect_buffering_streams(streams);
  }
  shed_over_budget(streams, buffers_, kBudgetWorker);
  if (buffers_.over_limit()) {
    spdlog::warn("worker {}: {} bytes buffered, over --max-worker-buffer {}, held by no client stream",
                 index_, buffers_.bytes(), buffers_.limit());
  }
}

void Worker::trim_memory() {
  static constexpr auto kTrimInterval = std::chrono::seconds(10);
  trim_timer_.expires_after(kTrimInterval);
  trim_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    recycled_trim();
    trim_memory();
  });
}

void Worker::heartbeat() {
  last_turn_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  heartbeat_timer_.expires_after(kHeartbeatInterval);
  heartbeat_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) heartbeat();
  });
}

void Worker::start() {
  trim_memory();
  heartbeat();
  thread_ = std::thread([this] {
    // Named for top -H, gdb and /proc/PID/task/*/comm (15 characters at most).
    char name[16];
    std::snprintf(name, sizeof name, "worker-%d", index_);
    pthread_setname_np(pthread_self(), name);
    try {
      io_.run();
    } catch (const std::exception& e) {
      // Nothing should throw through the loop; if it does, say so loudly.
      spdlog::critical("worker {} stopped by an exception: {}", index_, e.what());
      std::abort();
    }
  });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  work_.reset();
  io_.stop();
  thread_.join();
  health_checker_.reset();
  pool_.close_all();
}

void Worker::post(std::function<void()> fn) { boost::asio::post(io_, std::move(fn)); }

uint64_t Worker::add_connection(const boost::asio::ip::tcp::socket* socket) {
  uint64_t id = next_downstream_connection_id();
  auto peer = std::make_shared<DownstreamPeer>();
  boost::system::error_code ec;
  if (socket) {
    auto remote = socket->remote_endpoint(ec);
    if (!ec) {
      // An IPv4 client on a dual-stack socket is that IPv4 address.
      boost::asio::ip::address ip = remote.address();
      if (ip.is_v6() && ip.to_v6().is_v4_mapped()) ip = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, ip.to_v6());
      if (auto parsed = IpAddress::parse(ip.to_string())) {
        peer->address = peer->socket_address = *parsed;
        peer->port = remote.port();
        peer->address_text = parsed->to_string();
        peer->known = true;
      }
    }
  }
  connections_[id] = {{}, std::nullopt, std::move(peer)};
  connection_count_.fetch_add(1, std::memory_order_relaxed);
  return id;
}

std::shared_ptr<DownstreamPeer> Worker::peer(uint64_t id) {
  auto entry = connections_.find(id);
  return entry == connections_.end() ? nullptr : entry->second.peer;
}

void Worker::adopt(boost::asio::ip::tcp::socket socket) {
  if (!downstream_options_.proxy_protocol) {
    adopt(Transport(std::move(socket)));
    return;
  }
  uint64_t id = add_connection(&socket);
  start_proxy_protocol(id, std::move(socket), nullptr);
}

void Worker::adopt(Transport transport) {
  uint64_t id = add_connection(transport.tcp_socket());
  start_detector(id, std::move(transport));
}

void Worker::adopt_tls(boost::asio::ip::tcp::socket socket, std::shared_ptr<const ServerTlsContexts> contexts) {
  uint64_t id = add_connection(&socket);
  if (downstream_options_.proxy_protocol) {
    start_proxy_protocol(id, std::move(socket), std::move(contexts));
  } else {
    start_tls(id, std::move(socket), std::move(contexts));
  }
}

void Worker::start_proxy_protocol(uint64_t id, boost::asio::ip::tcp::socket socket,
                                  std::shared_ptr<const ServerTlsContexts> contexts) {
  auto reader = std::make_shared<ProxyProtocolReader>(*this, std::move(socket), std::move(contexts), id,
                                                      downstream_options_.proxy_protocol_timeout);
  connections_[id].connection = reader;
  reader->start();
  if (shutting_down_) reader->shutdown();
}

void Worker::start_tls(uint64_t id, boost::asio::ip::tcp::socket socket,
                       std::shared_ptr<const ServerTlsContexts> contexts) {
  auto entry = connections_.find(id);
  if (entry == connections_.end()) return;
  auto handshake = std::make_shared<TlsHandshake>(*this, std::move(socket), std::move(contexts), id,
                                                  downstream_options_.preface_timeout);
  entry->second.connection = handshake;
  handshake->start();
  if (shutting_down_) handshake->shutdown();
}

void Worker::start_detector(uint64_t id, Transport transport) {
  auto entry = connections_.find(id);
  if (entry == connections_.end()) return;
  auto detector =
      std::make_shared<ProtocolDetector>(*this, std::move(transport), id, downstream_options_.preface_timeout);
  entry->second.connection = detector;
  detector->start();
  if (shutting_down_) detector->shutdown();
}

void Worker::start_session(uint64_t id, DownstreamProtocol protocol, Transport transport,
                           std::string_view received) {
  auto entry = connections_.find(id);
  if (entry == connections_.end()) return;
  auto launch = [&](auto session) {
    entry->second.connection = session;
    entry->second.protocol = protocol;
    auto slot = static_cast<size_t>(protocol);
    bump(stats_.downstream_connections_by_protocol[slot]);
    bump(stats_.downstream_open_by_protocol[slot], int64_t{1});
    session->start(received);  // may close it (and forget `entry`) at once
    if (shutting_down_) session->shutdown();
  };
  if (protocol == DownstreamProtocol::kH2c || protocol == DownstreamProtocol::kH2) {
    launch(std::make_shared<H2ServerSession>(*this, std::move(transport), downstream_options_, id));
  } else {
    launch(std::make_shared<H1ServerSession>(*this, std::move(transport), downstream_options_, id));
  }
}

std::array<char, 36> Worker::new_request_id() {
  uint64_t hi = random_(), lo = random_();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  // 8-4-4-4-12 hex digits: hi gives the first three groups, lo the last two.
  // Written by hand: snprintf cost more than the rest of the call's routing.
  static constexpr char kHex[] = "0123456789abcdef";
  std::array<char, 36> text;
  text.fill('-');
  auto put = [&](size_t at, uint64_t bits, int digits) {
    for (int i = digits - 1; i >= 0; --i, bits >>= 4) text[at + static_cast<size_t>(i)] = kHex[bits & 0xf];
  };
  put(0, hi >> 32, 8);
  put(9, hi >> 16, 4);
  put(14, hi, 4);
  put(19, lo >> 48, 4);
  put(24, lo, 12);
  return text;
}

void Worker::assign_request_id(ProxyStream& stream) {
  for (const Header& header : stream.request_headers) {
    if (header.name == "x-request-id") stream.request_id = stream.keep(header.value);
  }
  if (stream.request_id.empty()) {
    std::array<char, 36> id = new_request_id();
    stream.request_id = stream.keep({id.data(), id.size()});
    stream.request_headers.push_back({"x-request-id", stream.request_id});  // forwarded upstream
  }
}

void Worker::session_closed(uint64_t id) {
  auto entry = connections_.find(id);
  if (entry == connections_.end()) return;
  if (entry->second.protocol) {
    bump(stats_.downstream_open_by_protocol[static_cast<size_t>(*entry->second.protocol)], int64_t{-1});
  }
  connections_.erase(entry);
  connection_count_.fetch_sub(1, std::memory_order_relaxed);
}

void Worker::apply_table(std::shared_ptr<const RouteTable> table, const std::vector<PodAddress>& gone_pods) {
  if (health_checker_) health_checker_->set_table(table);
  router_.set_table(std::move(table), gone_pods);
}

void Worker::shutdown_sessions() {
  shutting_down_ = true;
  std::vector<std::shared_ptr<DownstreamConnection>> live;
  for (auto& [_, entry] : connections_) {
    if (auto connection = entry.connection.lock()) live.push_back(std::move(connection));
  }
  for (auto& connection : live) connection->shutdown();
}

}  // namespace grpc_ingress
