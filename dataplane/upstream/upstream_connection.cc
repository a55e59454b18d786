#include "dataplane/upstream/upstream_connection.h"

#include <atomic>

namespace grpc_ingress {
namespace {
std::atomic<uint64_t> next_connection_id{1};
}

UpstreamConnection::UpstreamConnection(const std::string& address, const char* kind, UpstreamHandlers handlers,
                                       OnClosed on_closed, WorkerStats* stats)
    : address_(address),
      id_(next_connection_id++),
      log_prefix_("[" + std::string(kind) + std::to_string(id_) + " " + address + "]"),
      handlers_(std::move(handlers)),
      stats_(stats),
      on_closed_(std::move(on_closed)) {}

}  // namespace grpc_ingress
