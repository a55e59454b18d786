#pragma once

#include "common/route_table.h"
#include "common/table_sink.h"
#include "controller/translate/store.h"
#include "controller/translate/translator.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace grpc_ingress {

// Turns store changes into published RouteTables: coalesces a burst of
// changes (at most `debounce` after the first), translates again only what
// they touched, off the data-plane threads, publishes only when routing
// differs from the running table, and reports rejected objects. Controller thread, except the accessors marked otherwise.
class Publisher {
 public:
  // `store` and `sink` (the data plane) must outlive the publisher.
  Publisher(boost::asio::io_context& io, Store& store, TableSink& sink, TranslatorOptions options,
            std::chrono::milliseconds debounce);

  // Watches the store; builds the first table as soon as the store has synced.
  void start();

  // Called with every translation (after each coalesced store change, whether
  // routing changed or not), after its table went to the data plane (the
  // table is moved out): the status writer and the event recorder read it.
  void set_on_translated(std::function<void(const Translation&)> callback) { on_translated_ = std::move(callback); }

  // Any thread: the first table serves on every worker.
  bool ready() const { return ready_.load(); }
  // Any thread: the running table (nullptr before the first).
  std::shared_ptr<const RouteTable> current() const;
  // Any thread: unix time of the last publish, 0 before it.
  double last_applied_seconds() const { return last_applied_.load(); }
  // Any thread: seconds from the start of the last build until every worker used it.
  double last_apply_duration_seconds() const { return last_apply_duration_.load(); }
  // Any thread: what the last build rejected.
  std::vector<Rejection> rejections() const;

 private:
  using Clock = std::chrono::steady_clock;

  void schedule();
  void rebuild();
  void publish(std::shared_ptr<RouteTable> table, const Translation& translation, Clock::time_point started,
               Clock::time_point translated);
  void report(const std::vector<Rejection>& rejections);

  boost::asio::io_context& io_;
  Store& store_;
  TableSink& sink_;
  Translator translator_;
  CertificateChecks certificate_checks_;
  std::chrono::milliseconds debounce_;
  boost::asio::steady_timer timer_;
  bool scheduled_ = false;
  uint64_t next_version_ = 1;
  std::set<std::string> reported_;  // rejection lines already logged
  std::function<void(const Translation&)> on_translated_;

  mutable std::mutex mutex_;  // guards current_ and rejections_
  std::shared_ptr<const RouteTable> current_;
  std::vector<Rejection> rejections_;
  std::atomic<bool> ready_{false};
  std::atomic<double> last_applied_{0};
  std::atomic<double> last_apply_duration_{0};
};

}  // namespace grpc_ingress
