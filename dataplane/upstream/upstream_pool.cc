#include "dataplane/upstream/upstream_pool.h"

#include "dataplane/upstream/h1_client_connection.h"
#include "dataplane/upstream/h2_client_connection.h"

#include <boost/asio/post.hpp>
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

size_t UpstreamPool::KeyHash::operator()(const Key& key) const {
  size_t h = PodAddressHash()(key.pod);
  h ^= (static_cast<size_t>(key.http1) | key.tls << 1) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

Result<UpstreamTlsTarget> UpstreamPool::tls_target(const UpstreamTls& tls) {
  if (!tls.problem.empty()) return Error{tls.problem};
  std::string material = tls.ca_pem + '\0' + tls.cert_pem + '\0' + tls.key_pem;
  auto it = tls_contexts_.find(material);
  if (it == tls_contexts_.end()) {
    auto context = make_upstream_tls_context(tls);
    if (!context) return Error{context.error().message + " (" + tls.secrets + ")"};
    if (tls_contexts_.size() >= kMaxTlsContexts) {
      tls_contexts_.clear();
      tls_identities_.clear();  // their context ids are gone too
    }
    it = tls_contexts_.emplace(std::move(material), TlsContext{next_tls_id_++, std::move(*context)}).first;
  }
  return UpstreamTlsTarget{.context = it->second.context,
                           .verify = !tls.ca_pem.empty(),
                           .sni = tls.sni,
                           .verify_names = tls.verify_names,
                           .context_id = it->second.id,
                           .client_certificate = !tls.cert_pem.empty()};
}

const UpstreamPool::ResolvedTls& UpstreamPool::resolve_tls(const UpstreamTls& tls, bool in_table) {
  ResolvedTls* slot = &uncached_tls_;
  if (in_table) {
    auto [it, added] = resolved_tls_.try_emplace(&tls);
    if (!added) return it->second;
    slot = &it->second;
  } else {
    uncached_tls_ = {};
  }
  ResolvedTls& resolved = *slot;
  auto target = tls_target(tls);
  if (!target) {
    resolved.error = target.error().message;
    return resolved;
  }
  resolved.target = std::move(*target);
  std::string identity = std::to_string(resolved.target.context_id) + "|" + resolved.target.sni;
  for (const std::string& name : resolved.target.verify_names) identity += "," + name;
  auto [known, added] = tls_identities_.try_emplace(std::move(identity), next_tls_identity_);
  if (added) ++next_tls_identity_;
  resolved.identity = known->second;
  return resolved;
}

Result<UpstreamConnection*> UpstreamPool::connection_for(const Endpoint& endpoint, const UpstreamKind& kind) {
  if (closing_) return nullptr;
  const ResolvedTls* tls = nullptr;
  if (kind.tls) {
    tls = &resolve_tls(*kind.tls, kind.tls_in_table);
    if (!tls->error.empty()) return Error{tls->error};
  }
  auto it = connections_.try_emplace(Key{endpoint.pod_address(), kind.http1, tls ? tls->identity : 0}).first;
  Entry& entry = it->second;
  for (auto& connection : entry.connections) {
    if (connection->accepting_streams()) return connection.get();
  }
  std::optional<UpstreamTlsTarget> target;
  if (tls) {
    target = tls->target;
    target->alpn = kind.http1 ? "http/1.1" : "h2";
  }
  Key key = it->first;
  auto on_closed = [this, key](UpstreamConnection* closed) { release(closed, key); };
  std::shared_ptr<UpstreamConnection> connection;
  if (kind.http1) {
    auto h1 = std::make_shared<H1ClientConnection>(io_, endpoint, options_, std::move(target), handlers_,
                                                   std::move(on_closed), stats_);
    connection = h1;
  } else {
    auto h2 = std::make_shared<H2ClientConnection>(io_, endpoint, options_, std::move(target), handlers_,
                                                   std::move(on_closed), stats_);
    connection = h2;
  }
  entry.connections.push_back(connection);
  connection->connect();
  return connection.get();
}

void UpstreamPool::release(UpstreamConnection* closed, const Key& key) {
  if (closing_) return;
  std::shared_ptr<UpstreamConnection> owned;
  auto take = [&](std::vector<std::shared_ptr<UpstreamConnection>>& list) {
    auto it = std::find_if(list.begin(), list.end(), [closed](const auto& c) { return c.get() == closed; });
    if (it == list.end()) return false;
    owned = std::move(*it);
    list.erase(it);
    return true;
  };
  auto it = connections_.find(key);
  if (it != connections_.end() && take(it->second.connections)) {
    if (it->second.connections.empty()) connections_.erase(it);
  } else {
    take(draining_);
  }
  if (owned) boost::asio::post(io_, [owned = std::move(owned)] {});
}

void UpstreamPool::forget_pods(const std::vector<PodAddress>& pods) {
  resolved_tls_.clear();
  if (pods.empty()) return;
  std::unordered_set<PodAddress, PodAddressHash> gone(pods.begin(), pods.end());
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (!gone.count(it->first.pod)) {
      ++it;
      continue;
    }
    auto list = std::move(it->second.connections);
    it = connections_.erase(it);
    for (auto& connection : list) {
      spdlog::debug("upstream {} left the routing table; draining", connection->address());
      draining_.push_back(connection);
      connection->drain();
    }
  }
}

void UpstreamPool::close_all() {
  closing_ = true;
  auto all = std::move(connections_);
  connections_.clear();
  auto draining = std::move(draining_);
  draining_.clear();
  for (auto& [_, entry] : all) {
    for (auto& connection : entry.connections) connection->close("shutting down");
  }
  for (auto& connection : draining) connection->close("shutting down");
}

size_t UpstreamPool::connection_count() const {
  size_t n = 0;
  for (const auto& [_, entry] : connections_) n += entry.connections.size();
  return n + draining_.size();
}

}  // namespace grpc_ingress
