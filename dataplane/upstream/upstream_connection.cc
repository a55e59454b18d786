#include "dataplane/upstream/upstream_connection.h"

#include <atomic>

namespace grpc_ingress {
namespace {
std::atomic<uint64_t> next_connection_id{1};
}

UpstreamConnection::UpstreamConnection(boost::asio::io_context& io, Endpoint endpoint, const UpstreamOptions& options,
                                       std::optional<UpstreamTlsTarget> tls, const char* kind,
                                       UpstreamHandlers handlers, OnClosed on_closed, WorkerStats* stats)
    : io_(io),
      endpoint_(std::move(endpoint)),
      options_(options),
      tls_(std::move(tls)),
      address_(endpoint_.address()),
      id_(next_connection_id++),
      log_prefix_("[" + std::string(kind) + std::to_string(id_) + " " + address_ + "]"),
      handlers_(std::move(handlers)),
      stats_(stats),
      on_closed_(std::move(on_closed)) {}

void UpstreamConnection::connect() {
  connecting_ = true;
  connector_ = std::make_shared<UpstreamConnector>(io_, endpoint_, options_.connect_timeout, tls_);
  connector_->start([self = shared_from_this()](std::optional<Transport> transport, const std::string& error) {
    self->connector_.reset();
    if (!self->connecting_) return;  // closed meanwhile
    self->connecting_ = false;
    if (!transport) {
      self->close(error);
      return;
    }
    self->on_connected(std::move(*transport));
  });
}

void UpstreamConnection::submit(ProxyStream& stream) {
  stream.attach(*this);
  start(stream);
}

bool UpstreamConnection::deliver_head(ProxyStream& stream, bool ended) {
  auto guard = stream.shared_from_this();  // the router or the client may let go of it
  stream.upstream_answered();
  stream.response.trailers_only = ended;
  stream.response.ended = ended;
  if (!handlers_.answered(guard)) return false;
  if (ended && stream.deadline_timer) stream.deadline_timer->cancel();
  stream.prepare_response_headers();
  if (auto downstream = stream.downstream()) downstream->response_headers_ready(stream);
  return true;
}

void UpstreamConnection::fail_stream(ProxyStream& stream, const std::string& reason, UpstreamFailure failure) {
  auto guard = stream.shared_from_this();
  stream.detach_upstream();
  if (stream.closed || stream.response.ended) return;
  if (stream.response_started) {
    stream.fail(GrpcStatus::kUnavailable, reason);
    return;
  }
  handlers_.failed(guard, reason, failure);
}

}  // namespace grpc_ingress
