#pragma once

#include "common/route_table.h"

#include <functional>
#include <memory>

namespace grpc_ingress {

// Where the controller hands each new routing table: the data plane, or a
// test's recorder. `applied` runs, on any thread, once every worker uses it.
class TableSink {
 public:
  virtual ~TableSink() = default;
  virtual void publish(std::shared_ptr<const RouteTable> table, std::function<void()> applied) = 0;
};

}  // namespace grpc_ingress
