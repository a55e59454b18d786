#include "dataplane/dataplane.h"

#include "dataplane/worker.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <atomic>

namespace grpc_ingress {

Dataplane::Dataplane(DataplaneOptions options) : options_(std::move(options)), acceptor_(accept_io_) {
  int threads = std::max(1, options_.threads);
  for (int i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, options_.downstream, options_.upstream, endpoint_states_));
  }
}

Dataplane::~Dataplane() { stop(); }

Status Dataplane::start() {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(options_.bind_address, ec);
  if (ec) return Error{"bad --bind-address '" + options_.bind_address + "': " + ec.message()};
  boost::asio::ip::tcp::endpoint endpoint(address, options_.http_port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error{"cannot listen on " + options_.bind_address + ":" + std::to_string(options_.http_port) +
                 ": " + ec.message()};
  }
  http_port_ = acceptor_.local_endpoint().port();
  for (auto& worker : workers_) worker->start();
  accept_next();
  accept_thread_ = std::thread([this] { accept_io_.run(); });
  spdlog::info("serving h2c and HTTP/1.1 on {}:{} with {} worker thread(s)", options_.bind_address, http_port_,
               workers_.size());
  return Ok{};
}

void Dataplane::accept_next() {
  // Round-robin hand-off: gRPC clients hold few long-lived connections, which
  // kernel SO_REUSEPORT hashing could pile onto one worker.
  Worker& worker = *workers_[next_worker_];
  next_worker_ = (next_worker_ + 1) % workers_.size();
  acceptor_.async_accept(worker.io(), [this, &worker](boost::system::error_code ec,
                                                      boost::asio::ip::tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of file descriptors and the like: say so, pause, go on.
      spdlog::warn("accept failed: {}", ec.message());
      auto timer = std::make_shared<boost::asio::steady_timer>(accept_io_, std::chrono::milliseconds(100));
      timer->async_wait([this, timer](boost::system::error_code) { accept_next(); });
      return;
    }
    boost::asio::post(worker.io(), [&worker, socket = std::move(socket)]() mutable {
      worker.adopt(std::move(socket));
    });
    accept_next();
  });
}

void Dataplane::publish(std::shared_ptr<const RouteTable> table, std::function<void()> applied) {
  endpoint_states_.retain(*table);
  auto remaining = std::make_shared<std::atomic<size_t>>(workers_.size());
  auto done = std::make_shared<std::function<void()>>(std::move(applied));
  for (auto& worker : workers_) {
    Worker* w = worker.get();
    w->post([w, table, remaining, done] {
      w->apply_table(table);
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
    boost::system::error_code ignored;
    acceptor_.close(ignored);
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
    boost::asio::post(accept_io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
    });
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

}  // namespace grpc_ingress
