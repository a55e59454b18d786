#include "dataplane/upstream/upstream_pool.h"

#include "dataplane/upstream/h1_client_connection.h"
#include "dataplane/upstream/h2_client_connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace grpc_ingress {
namespace {
// Contexts kept for reuse; past this, the cache starts over (rotated Secrets
// leave old ones behind; live connections hold their own reference).
constexpr size_t kMaxTlsContexts = 256;
}  // namespace

UpstreamPool::UpstreamPool(boost::asio::io_context& io, const UpstreamOptions& options,
                           UpstreamHandlers handlers, WorkerStats* stats)
    : io_(io), options_(options), handlers_(std::move(handlers)), stats_(stats) {}

UpstreamPool::~UpstreamPool() { close_all(); }

Result<UpstreamTlsTarget> UpstreamPool::tls_target(const UpstreamTls& tls, bool http1) {
  if (!tls.problem.empty()) return Error{tls.problem};
  std::string material = tls.ca_pem + '\0' + tls.cert_pem + '\0' + tls.key_pem;
  auto it = tls_contexts_.find(material);
  if (it == tls_contexts_.end()) {
    auto context = make_upstream_tls_context(tls);
    if (!context) return Error{context.error().message + " (" + tls.secrets + ")"};
    if (tls_contexts_.size() >= kMaxTlsContexts) tls_contexts_.clear();
    it = tls_contexts_.emplace(std::move(material), TlsContext{next_tls_id_++, std::move(*context)}).first;
  }
  return UpstreamTlsTarget{.context = it->second.context,
                           .verify = !tls.ca_pem.empty(),
                           .sni = tls.sni,
                           .verify_names = tls.verify_names,
                           .alpn = http1 ? "http/1.1" : "h2",
                           .context_id = it->second.id,
                           .client_certificate = !tls.cert_pem.empty()};
}

std::string UpstreamPool::key_of(const Endpoint& endpoint, const UpstreamKind& kind,
                                 const UpstreamTlsTarget* tls) const {
  std::string key = endpoint.address() + (kind.http1 ? "|h1" : "|h2");
  if (tls) {
    key += "|tls" + std::to_string(tls->context_id) + "|" + tls->sni;
    for (const std::string& name : tls->verify_names) key += "," + name;
  }
  return key;
}

Result<std::shared_ptr<UpstreamConnection>> UpstreamPool::connection_for(const Endpoint& endpoint,
                                                                         const UpstreamKind& kind) {
  if (closing_) return std::shared_ptr<UpstreamConnection>();
  std::optional<UpstreamTlsTarget> tls;
  if (kind.tls) {
    auto target = tls_target(*kind.tls, kind.http1);
    if (!target) return Error{target.error().message};
    tls = std::move(*target);
  }
  std::string key = key_of(endpoint, kind, tls ? &*tls : nullptr);
  Entry& entry = connections_[key];
  entry.address = endpoint.address();
  for (auto& connection : entry.connections) {
    if (connection->accepting_streams()) return connection;
  }
  auto on_closed = [this, key](UpstreamConnection* closed) {
    if (closing_) return;
    auto it = connections_.find(key);
    if (it == connections_.end()) return;
    std::erase_if(it->second.connections, [closed](const auto& c) { return c.get() == closed; });
    if (it->second.connections.empty()) connections_.erase(it);
  };
  std::shared_ptr<UpstreamConnection> connection;
  if (kind.http1) {
    auto h1 = std::make_shared<H1ClientConnection>(io_, endpoint, options_, std::move(tls), handlers_,
                                                   std::move(on_closed), stats_);
    connection = h1;
  } else {
    auto h2 = std::make_shared<H2ClientConnection>(io_, endpoint, options_, std::move(tls), handlers_,
                                                   std::move(on_closed), stats_);
    connection = h2;
  }
  entry.connections.push_back(connection);
  connection->connect();
  return connection;
}

void UpstreamPool::retain_only(const std::unordered_set<std::string>& addresses) {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (addresses.count(it->second.address)) {
      ++it;
      continue;
    }
    auto list = std::move(it->second.connections);
    it = connections_.erase(it);
    for (auto& connection : list) {
      spdlog::debug("upstream {} left the routing table; draining", connection->address());
      connection->drain();
    }
  }
}

void UpstreamPool::close_all() {
  closing_ = true;
  auto all = std::move(connections_);
  connections_.clear();
  for (auto& [_, entry] : all) {
    for (auto& connection : entry.connections) connection->close("shutting down");
  }
}

size_t UpstreamPool::connection_count() const {
  size_t n = 0;
  for (const auto& [_, entry] : connections_) n += entry.connections.size();
  return n;
}

}  // namespace grpc_ingress
