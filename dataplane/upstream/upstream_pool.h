#pragma once

#include "common/result.h"
#include "common/route_table.h"
#include "dataplane/upstream/upstream_connection.h"
#include "dataplane/upstream/upstream_connector.h"

#include <boost/asio/io_context.hpp>

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace grpc_ingress {

// How a request reaches a pod: HTTP/2 or HTTP/1.1, cleartext or TLS.
// Connections of the same endpoint and kind are interchangeable.
struct UpstreamKind {
  bool http1 = false;
  const UpstreamTls* tls = nullptr;  // the cluster's, when its pods speak TLS
};

// The upstream connections of one worker, per pod address and kind. An
// HTTP/2 pod gets one connection that carries many streams; another opens
// only when the pod's concurrent-stream limit is reached. An HTTP/1.1
// connection carries one request at a time and is kept alive for the next.
// Worker thread only.
class UpstreamPool {
 public:
  UpstreamPool(boost::asio::io_context& io, const UpstreamOptions& options,
               UpstreamHandlers handlers, WorkerStats* stats);
  ~UpstreamPool();

  // A connection to `endpoint` that can take a stream now (maybe still
  // connecting); nullptr once the pool is closing; an error when the
  // cluster's TLS settings cannot make a TLS context.
  Result<std::shared_ptr<UpstreamConnection>> connection_for(const Endpoint& endpoint, const UpstreamKind& kind);

  // Pods no longer in the table: no new streams; their connections close
  // (HTTP/2 with GOAWAY) once their streams finish.
  void retain_only(const std::unordered_set<std::string>& addresses);

  void close_all();
  size_t connection_count() const;

 private:
  struct Entry {
    std::string address;
    std::vector<std::shared_ptr<UpstreamConnection>> connections;
  };
  struct TlsContext {
    uint64_t id = 0;
    std::shared_ptr<boost::asio::ssl::context> context;
  };

  // The TLS target for a connection of `kind` (built once per set of Secrets).
  Result<UpstreamTlsTarget> tls_target(const UpstreamTls& tls, bool http1);
  std::string key_of(const Endpoint& endpoint, const UpstreamKind& kind, const UpstreamTlsTarget* tls) const;

  boost::asio::io_context& io_;
  UpstreamOptions options_;
  UpstreamHandlers handlers_;
  WorkerStats* stats_;
  bool closing_ = false;
  std::unordered_map<std::string, Entry> connections_;  // by key_of()
  // By CA + client certificate + key: contexts outlive their clusters'
  // tables in the connections that hold them.
  std::map<std::string, TlsContext> tls_contexts_;
  uint64_t next_tls_id_ = 1;
};

}  // namespace grpc_ingress
