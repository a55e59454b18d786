#pragma once

#include "common/route_table.h"
#include "dataplane/endpoint_state.h"
#include "dataplane/upstream/upstream_pool.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <string>

namespace grpc_ingress {

// Active gRPC health checks (grpc.health.v1.Health/Check) of every endpoint of
// the clusters that ask for them, over the worker's own upstream connections
// (so a check also proves the connection calls use). Results go to the
// shared EndpointState, which every worker's balancers read. Runs on one
// worker; worker thread only.
class HealthChecker {
 public:
  HealthChecker(boost::asio::io_context& io, UpstreamPool& pool, EndpointStates& states);
  ~HealthChecker();

  // Checks the endpoints of `table`: new ones at once, gone ones no more.
  // Only clusters that are not the previous table's objects are looked at.
  void set_table(const std::shared_ptr<const RouteTable>& table);

  struct Target;  // one endpoint of one cluster under checks

 private:
  void check(const std::shared_ptr<Target>& target);
  void schedule(const std::shared_ptr<Target>& target, std::chrono::milliseconds delay);
  // The targets of one cluster (by address) become those of `cluster` (nullptr: none).
  void update(std::map<std::string, std::shared_ptr<Target>>& targets, const Cluster* cluster);

  boost::asio::io_context& io_;
  UpstreamPool& pool_;
  EndpointStates& states_;
  std::shared_ptr<const RouteTable> table_;  // the one checked
  std::map<std::string, std::map<std::string, std::shared_ptr<Target>>> targets_;  // cluster -> address -> target
};

}  // namespace grpc_ingress
