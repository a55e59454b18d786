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
  // `tls` is in the running routing table (or one a stream still holds), so
  // it is resolved once per table; false: settings of its own, resolved anew.
  bool tls_in_table = true;
};

// Where the router finds a connection for a stream's attempt: the worker's
// UpstreamPool, or a test's fake pods.
class ConnectionSource {
 public:
  virtual ~ConnectionSource() = default;
  // A connection to `endpoint` that can take a stream now (maybe still
  // connecting), owned by the source; nullptr once it is closing; an error
  // when the cluster's TLS settings cannot make a TLS context.
  virtual Result<UpstreamConnection*> connection_for(const Endpoint& endpoint, const UpstreamKind& kind) = 0;
  // Called with every new table: `pods` are those no cluster of it has any
  // more. They get no new streams; their connections close
  // once their streams finish.
  virtual void forget_pods(const std::vector<PodAddress>& pods) = 0;
};

// The upstream connections of one worker, per pod address and kind. An
// HTTP/2 pod gets one connection that carries many streams; another opens
// only when the pod's concurrent-stream limit is reached. An HTTP/1.1
// connection carries one request at a time and is kept alive for the next.
// The pool owns every connection until it closes, draining ones included, so
// streams can point at the connection serving them without owning it.
// Worker thread only.
class UpstreamPool : public ConnectionSource {
 public:
  UpstreamPool(boost::asio::io_context& io, const UpstreamOptions& options,
               UpstreamHandlers handlers, WorkerStats* stats);
  ~UpstreamPool() override;

  Result<UpstreamConnection*> connection_for(const Endpoint& endpoint, const UpstreamKind& kind) override;
  // HTTP/2 connections say GOAWAY when they go. It also forgets the TLS
  // settings resolved for the old table.
  void forget_pods(const std::vector<PodAddress>& pods) override;

  void close_all();
  // Open connections, draining ones included.
  size_t connection_count() const;

 private:
  // Connections of one pod address and kind are interchangeable. Looked up on
  // every request: binary, so the lookup builds and hashes no string.
  struct Key {
    PodAddress pod;
    bool http1 = false;
    uint64_t tls = 0;  // 0: cleartext; else the TLS settings' identity (tls_identities_)
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  struct Entry {
    std::vector<std::shared_ptr<UpstreamConnection>> connections;
  };
  struct TlsContext {
    uint64_t id = 0;
    std::shared_ptr<boost::asio::ssl::context> context;
  };
  // A cluster's TLS settings resolved once per table: the target to connect
  // with (alpn still to set), its identity for Key::tls, or why it cannot be used.
  struct ResolvedTls {
    UpstreamTlsTarget target;
    uint64_t identity = 0;
    std::string error;
  };

  // A connection closed: the pool lets go of it once the current handler
  // is done with it (it may be deep in its own call stack).
  void release(UpstreamConnection* closed, const Key& key);

  // The TLS target for a connection of `kind` (built once per set of Secrets).
  Result<UpstreamTlsTarget> tls_target(const UpstreamTls& tls);
  const ResolvedTls& resolve_tls(const UpstreamTls& tls, bool in_table);

  boost::asio::io_context& io_;
  UpstreamOptions options_;
  UpstreamHandlers handlers_;
  WorkerStats* stats_;
  bool closing_ = false;
  std::unordered_map<Key, Entry, KeyHash> connections_;
  // Out of the table, finishing their streams: no new ones pick them.
  std::vector<std::shared_ptr<UpstreamConnection>> draining_;
  // By CA + client certificate + key: contexts outlive their clusters'
  // tables in the connections that hold them.
  std::map<std::string, TlsContext> tls_contexts_;
  uint64_t next_tls_id_ = 1;
  // Context + SNI + names to verify -> Key::tls; kept across tables, so a
  // new table with the same settings keeps using the same connections.
  std::map<std::string, uint64_t> tls_identities_;
  uint64_t next_tls_identity_ = 1;  // never reused, even after tls_identities_ is cleared
  // By the cluster's settings in the running table (pointers into it, valid
  // while a stream holds that table; forgotten at the next table).
  std::unordered_map<const UpstreamTls*, ResolvedTls> resolved_tls_;
  ResolvedTls uncached_tls_;  // the last one resolved with in_table false
};

}  // namespace grpc_ingress
