#pragma once

#include "controller/kube_api.h"
#include "controller/translate/rejection.h"
#include "controller/translate/store.h"
#include "controller/translate/translator.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace grpc_ingress {

struct EventRecorderOptions {
  std::string component = "grpc-ingress";  // source.component and reportingComponent
  std::string instance;                    // reportingInstance: the pod name
  // A token bucket over all Events: `burst` at once, then one per `refill`.
  size_t burst = 25;
  std::chrono::milliseconds refill{2'000};
  // A rejection that persists is reported again after this long.
  std::chrono::milliseconds repeat_after{600'000};
  size_t max_message_bytes = 1024;
};

// Kubernetes Events (core/v1, type Warning, reason "Rejected") on the
// Ingresses the translator rejects, so `kubectl describe ingress` shows why a
// path is not routed. Only the leader records (every replica translates the
// same objects). Each rejection is recorded once, again after repeat_after if
// it persists, and again if it goes away and comes back; all of it within a
// token bucket, so a thousand broken Ingresses cannot flood the API server.
//
// Controller thread only; create with std::make_shared; `api` and `store`
// must outlive it.
class EventRecorder : public std::enable_shared_from_this<EventRecorder> {
 public:
  EventRecorder(boost::asio::io_context& io, KubeApi& api, const Store& store, EventRecorderOptions options);

  void set_leading(bool leading);
  void on_translated(const Translation& translation);
  void stop();

  uint64_t recorded() const { return recorded_count_; }
  uint64_t rate_limited() const { return rate_limited_count_; }

 private:
  using Clock = std::chrono::steady_clock;

  void flush();
  bool take_token();
  void post(const Rejection& rejection);

  boost::asio::io_context& io_;
  KubeApi& api_;
  const Store& store_;
  const EventRecorderOptions options_;
  boost::asio::steady_timer retry_timer_;

  bool leading_ = false;
  bool stopped_ = false;
  std::vector<Rejection> pending_;                 // the Ingress rejections of the latest translation
  std::map<std::string, Clock::time_point> sent_;  // by object and reason: when last recorded
  double tokens_;
  Clock::time_point refilled_at_;
  uint64_t recorded_count_ = 0;
  uint64_t rate_limited_count_ = 0;
  uint64_t sequence_ = 0;  // keeps Event names unique within one nanosecond
};

}  // namespace grpc_ingress
