#pragma once

#include "common/route_table.h"
#include "dataplane/transport.h"
#include "dataplane/buffer_account.h"
#include "dataplane/downstream/downstream_connection.h"
#include "dataplane/downstream/downstream_peer.h"
#include "dataplane/endpoint_state.h"
#include "dataplane/health_checker.h"
#include "dataplane/proxy_stream.h"
#include "dataplane/tls/server_tls.h"
#include "dataplane/router.h"
#include "dataplane/stats.h"
#include "dataplane/upstream/upstream_pool.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace grpc_ingress {

// One data-plane thread: its own io_context, the client connections handed
// to it, its upstream connections and balancer state. Shares nothing mutable
// with other workers; other threads reach it only through post().
class Worker {
 public:
  // `states` (the data plane's) must outlive the worker. Worker 0 also runs
  // the active health checks. `pods`: where the router finds connections to
  // pods instead of the worker's pool (unit tests; must outlive the worker).
  Worker(int index, const DownstreamOptions& downstream, const UpstreamOptions& upstream,
         EndpointStates& states, ConnectionSource* pods = nullptr);
  ~Worker();

  void start();
  void stop();  // stops the loop and joins; connections are dropped

  int index() const { return index_; }
  boost::asio::io_context& io() { return io_; }

  // Any thread: run `fn` on this worker.
  void post(std::function<void()> fn);

  // Worker thread only.
  // A new client connection: its first bytes decide the protocol.
  // With --use-proxy-protocol a PROXY protocol header comes first.
  void adopt(boost::asio::ip::tcp::socket socket);
  void adopt(Transport transport);
  // A new connection on the TLS port: the handshake with `contexts`, then ALPN
  // (or the first bytes) decide.
  void adopt_tls(boost::asio::ip::tcp::socket socket, std::shared_ptr<const ServerTlsContexts> contexts);
  // Connection `id` (its PROXY protocol header read, if any) starts its TLS handshake.
  void start_tls(uint64_t id, boost::asio::ip::tcp::socket socket, std::shared_ptr<const ServerTlsContexts> contexts);
  // Connection `id` (TLS done, no ALPN h2) waits for its first bytes.
  void start_detector(uint64_t id, Transport transport);
  // The protocol of connection `id` is known: its session takes over the
  // transport and the bytes already `received`.
  void start_session(uint64_t id, DownstreamProtocol protocol, Transport transport,
                     std::string_view received);
  void apply_table(std::shared_ptr<const RouteTable> table, const std::vector<PodAddress>& gone_pods = {});
  Router& router() { return router_; }
  const std::shared_ptr<const RouteTable>& table() const { return router_.table(); }
  // A fresh x-request-id (a random UUID v4).
  std::array<char, 36> new_request_id();
  // Takes the client's x-request-id, or generates one and adds it to the
  // headers forwarded to the pod.
  void assign_request_id(ProxyStream& stream);
  void session_closed(uint64_t id);
  // Who connection `id` is (its TCP peer, or what a PROXY header declared; the
  // TLS client certificate), filled before its session starts; null if gone.
  std::shared_ptr<DownstreamPeer> peer(uint64_t id);
  // The account of body bytes held for the streams of `connection`, counted
  // into this worker's. Over --max-connection-buffer, the connection's
  // streams holding the most are reset.
  std::shared_ptr<BufferAccount> new_connection_buffers(std::weak_ptr<DownstreamConnection> connection);
  // GOAWAY to every client; running streams go on.
  void shutdown_sessions();

  // Any thread: counters, read by scrapes.
  WorkerStats& stats() { return stats_; }
  const WorkerStats& stats() const { return stats_; }

  // Any thread: client connections open on this worker.
  size_t connection_count() const { return connection_count_.load(std::memory_order_relaxed); }

  // Any thread: when this worker's event loop last ran its heartbeat (every
  // kHeartbeatInterval while it turns), so a blocked loop shows as an old stamp.
  std::chrono::steady_clock::time_point last_turn() const {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(last_turn_.load(std::memory_order_relaxed)));
  }
  static constexpr std::chrono::milliseconds kHeartbeatInterval{1000};

 private:
  // Resets the streams of this worker holding the most buffered bytes until
  // the worker is within --max-worker-buffer again.
  void enforce_buffer_budget();
  // Every kTrimInterval: gives back recycled blocks the worker did not need
  // in that time (recycled_trim), so a burst's memory does not stay pinned.
  void trim_memory();
  // Stamps last_turn() every kHeartbeatInterval.
  void heartbeat();
  // Resets `streams` holding the most until `account` is within its limit,
  // counted in grpc_ingress_buffer_resets_total{budget}.
  void shed_over_budget(std::vector<std::shared_ptr<ProxyStream>>& streams, const BufferAccount& account,
                        BufferBudget budget);

  // First: destroyed last, after every stream whose bytes it counts.
  BufferAccount buffers_;
  bool budget_check_scheduled_ = false;
  int index_;
  // Run by one thread (others only post to it): Asio skips the wake-ups it
  // would need to share the loop between threads.
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  DownstreamOptions downstream_options_;
  WorkerStats stats_;
  std::mt19937_64 random_;
  UpstreamPool pool_;
  Router router_;
  std::optional<HealthChecker> health_checker_;
  bool shutting_down_ = false;
  struct ConnectionEntry {
    std::weak_ptr<DownstreamConnection> connection;
    std::optional<DownstreamProtocol> protocol;  // once detected
    std::shared_ptr<DownstreamPeer> peer;
  };
  // A new connection's entry, with its peer as the socket says.
  uint64_t add_connection(const boost::asio::ip::tcp::socket* socket);
  // Connection `id` first reads its PROXY protocol header; then TLS (with
  // `contexts`) or the protocol detector.
  void start_proxy_protocol(uint64_t id, boost::asio::ip::tcp::socket socket,
                            std::shared_ptr<const ServerTlsContexts> contexts);
  std::unordered_map<uint64_t, ConnectionEntry> connections_;
  std::atomic<size_t> connection_count_{0};
  boost::asio::steady_timer trim_timer_{io_};
  boost::asio::steady_timer heartbeat_timer_{io_};
  std::atomic<std::chrono::steady_clock::rep> last_turn_{0};
  std::thread thread_;
};

}  // namespace grpc_ingress
