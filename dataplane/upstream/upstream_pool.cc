#include "dataplane/upstream/upstream_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace grpc_ingress {

UpstreamPool::UpstreamPool(boost::asio::io_context& io, const UpstreamOptions& options,
                           UpstreamHandlers handlers, WorkerStats* stats)
    : io_(io), options_(options), handlers_(std::move(handlers)), stats_(stats) {}

UpstreamPool::~UpstreamPool() { close_all(); }

std::shared_ptr<H2ClientConnection> UpstreamPool::connection_for(const Endpoint& endpoint) {
  if (closing_) return nullptr;
  std::string address = endpoint.address();
  auto& list = connections_[address];
  for (auto& connection : list) {
    if (connection->accepting_streams()) return connection;
  }
  auto connection = std::make_shared<H2ClientConnection>(
      io_, endpoint, options_, handlers_, [this, address](H2ClientConnection* closed) {
        if (closing_) return;
        auto it = connections_.find(address);
        if (it == connections_.end()) return;
        std::erase_if(it->second, [closed](const auto& c) { return c.get() == closed; });
        if (it->second.empty()) connections_.erase(it);
      },
      stats_);
  list.push_back(connection);
  connection->connect();
  return connection;
}

void UpstreamPool::retain_only(const std::unordered_set<std::string>& addresses) {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (addresses.count(it->first)) {
      ++it;
      continue;
    }
    auto list = std::move(it->second);
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
  for (auto& [_, list] : all) {
    for (auto& connection : list) connection->close("shutting down");
  }
}

size_t UpstreamPool::connection_count() const {
  size_t n = 0;
  for (const auto& [_, list] : connections_) n += list.size();
  return n;
}

}  // namespace grpc_ingress
