#include "dataplane/dataplane.h"

#include "common/tls_certificate.h"
#include "dataplane/worker.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <atomic>

namespace grpc_ingress {

Dataplane::Dataplane(DataplaneOptions options)
    : options_(std::move(options)), acceptor_(accept_io_), tls_acceptor_(accept_io_) {
  int threads = std::max(1, options_.threads);
  for (int i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, options_.downstream, options_.upstream, endpoint_states_));
    if (options_.grpc_method_labels) workers_.back()->stats().count_methods(&method_bound_);
  }
}

Dataplane::~Dataplane() { stop(); }

namespace {

Status listen(boost::asio::ip::tcp::acceptor& acceptor, const boost::asio::ip::address& address, uint16_t port,
              const std::string& bind_address) {
  boost::system::error_code ec;
  boost::asio::ip::tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return Error{"cannot listen on " + bind_address + ":" + std::to_string(port) + ": " + ec.message()};
  return Ok{};
}

}  // namespace

Status Dataplane::start() {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(options_.bind_address, ec);
  if (ec) return Error{"bad --bind-address '" + options_.bind_address + "': " + ec.message()};
  auto self_signed = make_self_signed_certificate("grpc-ingress.invalid");
  if (!self_signed) return Error{"cannot make the default TLS certificate: " + self_signed.error().message};
  self_signed_ = std::move(*self_signed);
  auto contexts = ServerTlsContexts::build(TlsSettings{}, self_signed_);
  if (!contexts) return Error{"TLS: " + contexts.error().message};
  tls_contexts_ = std::move(*contexts);
  if (Status status = listen(acceptor_, address, options_.http_port, options_.bind_address); !status) return status;
  if (Status status = listen(tls_acceptor_, address, options_.https_port, options_.bind_address); !status) {
    return status;
  }
  http_port_ = acceptor_.local_endpoint().port();
  https_port_ = tls_acceptor_.local_endpoint().port();
  for (auto& worker : workers_) worker->start();
  accept_next(acceptor_, /*tls=*/false);
  accept_next(tls_acceptor_, /*tls=*/true);
  accept_thread_ = std::thread([this] { accept_io_.run(); });
  spdlog::info("serving h2c and HTTP/1.1 on {}:{}, TLS (h2, HTTP/1.1) on {}:{}, with {} worker thread(s)",
               options_.bind_address, http_port_, options_.bind_address, https_port_, workers_.size());
  return Ok{};
}

void Dataplane::accept_next(boost::asio::ip::tcp::acceptor& acceptor, bool tls) {
  acceptor.async_accept([this, &acceptor, tls](boost::system::error_code ec, boost::asio::ip::tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      // Out of file descriptors and the like: say so, pause, go on.
      spdlog::warn("accept failed: {}", ec.message());
      auto timer = std::make_shared<boost::asio::steady_timer>(accept_io_, std::chrono::milliseconds(100));
      timer->async_wait([this, timer, &acceptor, tls](boost::system::error_code) { accept_next(acceptor, tls); });
      return;
    }
    // Round-robin over both listeners, picked when the connection arrives:
    // gRPC clients hold few long-lived connections, which kernel SO_REUSEPORT
    // hashing could pile onto one worker.
    Worker& worker = *workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % workers_.size();
    auto protocol = socket.local_endpoint(ec).protocol();
    int fd = ec ? -1 : socket.release(ec);
    if (fd < 0 || ec) {
      spdlog::warn("accept: cannot hand the connection to a worker: {}", ec.message());
      accept_next(acceptor, tls);
      return;
    }
    auto contexts = tls ? tls_contexts() : nullptr;  // the certificates of this moment, for this handshake
    boost::asio::post(worker.io(), [&worker, protocol, fd, contexts = std::move(contexts)]() mutable {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket socket(worker.io());
      socket.assign(protocol, fd, ec);
      if (ec) {
        ::close(fd);
        return;
      }
      if (contexts) {
        worker.adopt_tls(std::move(socket), std::move(contexts));
      } else {
        worker.adopt(std::move(socket));
      }
    });
    accept_next(acceptor, tls);
  });
}

std::shared_ptr<const ServerTlsContexts> Dataplane::tls_contexts() const {
  std::lock_guard lock(tls_mutex_);
  return tls_contexts_;
}

void Dataplane::close_acceptors() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  tls_acceptor_.close(ignored);
}

void Dataplane::publish(std::shared_ptr<const RouteTable> table, std::function<void()> applied) {
  if (auto current = tls_contexts(); !current || current->settings() != table->tls) {
    auto contexts = ServerTlsContexts::build(table->tls, self_signed_);
    if (contexts) {
      spdlog::info("TLS: {} host certificate(s), default certificate {}", table->tls.certificates.size(),
                   table->tls.default_certificate ? table->tls.default_certificate->secret : "self-signed");
      std::lock_guard lock(tls_mutex_);
      tls_contexts_ = std::move(*contexts);
    } else {
      spdlog::error("TLS: {}; the previous certificates stay in use", contexts.error().message);
    }
  }
  // What the workers share about endpoints: only the changed clusters' are looked at.
  ClusterDiff diff = diff_clusters(published_.get(), *table);
  for (const std::string& name : diff.gone) endpoint_states_.forget(name);
  for (uint32_t slot : diff.changed) endpoint_states_.retain(*table->clusters[slot]);
  auto gone_pods = std::make_shared<const std::vector<PodAddress>>(pod_uses_.apply(published_.get(), *table, diff));
  published_ = table;
  auto remaining = std::make_shared<std::atomic<size_t>>(workers_.size());
  auto done = std::make_shared<std::function<void()>>(std::move(applied));
  for (auto& worker : workers_) {
    Worker* w = worker.get();
    w->post([w, table, gone_pods, remaining, done] {
      w->apply_table(table, *gone_pods);
      if (remaining->fetch_sub(1) == 1 && *done) (*done)();
    });
  }
}

namespace {

// Polls until every client connection has closed or the deadline passes.
struct DrainWatch : std::enable_shared_from_this<DrainWatch> {
  DrainWatch(boost::asio::io_context& io, const std::vector<std::unique_ptr<Worker>>& workers,
             std::chrono::steady_clock::time_point deadline, std::function<void()> done)
      : timer(io), workers(workers), deadline(deadline), done(std::move(done)) {}

  void check() {
    size_t open = 0;
    for (const auto& worker : workers) open += worker->connection_count();
    if (open == 0 || std::chrono::steady_clock::now() >= deadline) {
      if (open > 0) spdlog::warn("grace period over with {} client connection(s) still open", open);
      done();
      return;
    }
    timer.expires_after(std::chrono::milliseconds(50));
    timer.async_wait([self = shared_from_this()](boost::system::error_code) { self->check(); });
  }

  boost::asio::steady_timer timer;
  const std::vector<std::unique_ptr<Worker>>& workers;
  std::chrono::steady_clock::time_point deadline;
  std::function<void()> done;
};

}  // namespace

void Dataplane::shutdown(std::chrono::milliseconds grace, std::function<void()> done) {
  boost::asio::post(accept_io_, [this, grace, done = std::move(done)] {
    close_acceptors();
    for (auto& worker : workers_) {
      Worker* w = worker.get();
      w->post([w] { w->shutdown_sessions(); });
    }
    auto watch = std::make_shared<DrainWatch>(accept_io_, workers_,
                                              std::chrono::steady_clock::now() + grace, done);
    watch->check();
  });
}

void Dataplane::stop() {
  if (accept_thread_.joinable()) {
    boost::asio::post(accept_io_, [this] { close_acceptors(); });
    accept_io_.stop();
    accept_thread_.join();
  }
  for (auto& worker : workers_) worker->stop();
}

std::vector<size_t> Dataplane::connections_per_worker() const {
  std::vector<size_t> counts;
  for (const auto& worker : workers_) counts.push_back(worker->connection_count());
  return counts;
}

std::vector<std::chrono::steady_clock::time_point> Dataplane::worker_last_turns() const {
  std::vector<std::chrono::steady_clock::time_point> turns;
  for (const auto& worker : workers_) turns.push_back(worker->last_turn());
  return turns;
}

}  // namespace grpc_ingress
