#pragma once

#include "common/metrics.h"
#include "common/result.h"
#include "common/route_table.h"
#include "common/table_sink.h"
#include "dataplane/downstream/downstream_connection.h"
#include "dataplane/endpoint_state.h"
#include "dataplane/method_stats.h"
#include "dataplane/pod_uses.h"
#include "dataplane/tls/server_tls.h"
#include "dataplane/upstream/h2_client_connection.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace grpc_ingress {

class Worker;

struct DataplaneOptions {
  std::string bind_address = "0.0.0.0";
  uint16_t http_port = 8080;
  uint16_t https_port = 8443;
  int threads = 1;
  DownstreamOptions downstream;
  UpstreamOptions upstream;
  // --metrics-grpc-method-labels and --metrics-max-grpc-methods (per route).
  bool grpc_method_labels = false;
  size_t max_grpc_methods = 100;
};

// The traffic side of the process: one acceptor thread that hands accepted
// connections to N worker threads in turn, and the workers.
class Dataplane : public TableSink {
 public:
  explicit Dataplane(DataplaneOptions options);
  ~Dataplane();

  // Binds the listeners (fails if a port is taken), makes the self-signed
  // default certificate, and starts the threads.
  Status start();

  // One thread at a time (the publisher's). `applied` runs once every worker routes with `table`. New
  // TLS certificates are loaded here, on the caller's thread, and serve the
  // next handshakes; established connections keep theirs.
  void publish(std::shared_ptr<const RouteTable> table, std::function<void()> applied) override;

  // Any thread. Stops accepting, sends GOAWAY to every client and lets running
  // streams finish; `done` runs (on some thread) when every client connection
  // has closed or `grace` has passed.
  void shutdown(std::chrono::milliseconds grace, std::function<void()> done);

  // Joins every thread; connections still open are dropped.
  void stop();

  uint16_t http_port() const { return http_port_; }
  uint16_t https_port() const { return https_port_; }
  // Client connections per worker, for /debug and tests of the hand-off.
  std::vector<size_t> connections_per_worker() const;
  // Any thread: when each worker's event loop last proved it turns (/healthz).
  std::vector<std::chrono::steady_clock::time_point> worker_last_turns() const;

  // Any thread: the data plane's metric families, summed over the workers.
  // `table` (the running one) lists the endpoints for per-endpoint series.
  void write_metrics(MetricsWriter& out, const RouteTable* table, bool per_endpoint) const;
  // Any thread: every endpoint of `table` with its state, active streams and
  // calls served (summed over workers), as JSON for /debug/endpoints.
  std::string endpoints_json(const RouteTable* table) const;

 private:
  void accept_next(boost::asio::ip::tcp::acceptor& acceptor, bool tls);
  void close_acceptors();
  std::shared_ptr<const ServerTlsContexts> tls_contexts() const;

  DataplaneOptions options_;
  MethodBound method_bound_{options_.max_grpc_methods};  // outlives the workers, which count by it
  EndpointStates endpoint_states_;  // shared by the workers; outlives them
  std::shared_ptr<const RouteTable> published_;  // the last table given to publish()
  PodUses pod_uses_;  // of `published_`: which pods a new table drops, worked out once for every worker
  boost::asio::io_context accept_io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::acceptor tls_acceptor_;
  std::vector<std::unique_ptr<Worker>> workers_;
  size_t next_worker_ = 0;
  uint16_t http_port_ = 0;
  uint16_t https_port_ = 0;
  TlsCertificate self_signed_;  // serves when no default certificate is configured
  mutable std::mutex tls_mutex_;  // guards tls_contexts_: swapped by publish, read per accept
  std::shared_ptr<const ServerTlsContexts> tls_contexts_;
  std::thread accept_thread_;
};

}  // namespace grpc_ingress
