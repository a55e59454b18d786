#pragma once

#include "common/route_table.h"
#include "dataplane/upstream/h2_client_connection.h"

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace grpc_ingress {

// The upstream connections of one worker, per pod address. A pod gets one
// connection that carries many streams; another opens only when the pod's
// concurrent-stream limit is reached. Worker thread only.
class UpstreamPool {
 public:
  UpstreamPool(boost::asio::io_context& io, const UpstreamOptions& options,
               UpstreamHandlers handlers, WorkerStats* stats);
  ~UpstreamPool();

  // A connection to `endpoint` that can take a stream now (maybe still
  // connecting); nullptr once the pool is closing.
  std::shared_ptr<H2ClientConnection> connection_for(const Endpoint& endpoint);

  // Pods no longer in the table: no new streams; their connections close with
  // GOAWAY once their streams finish.
  void retain_only(const std::unordered_set<std::string>& addresses);

  void close_all();
  size_t connection_count() const;

 private:
  boost::asio::io_context& io_;
  UpstreamOptions options_;
  UpstreamHandlers handlers_;
  WorkerStats* stats_;
  bool closing_ = false;
  std::unordered_map<std::string, std::vector<std::shared_ptr<H2ClientConnection>>> connections_;
};

}  // namespace grpc_ingress
