#pragma once

#include "common/result.h"
#include "controller/translate/k8s_objects.h"
#include "controller/kube_api.h"
#include "controller/kube_informer.h"
#include "controller/translate/store.h"
#include "controller/translate/translator.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace grpc_ingress {

struct StatusWriterOptions {
  std::string publish_service;                // "NS/NAME": that Service's addresses; "" for none
  std::vector<std::string> publish_addresses;  // --publish-status-address: wins over the Service
  InformerOptions informer{};                  // for watching the publish Service
  size_t max_in_flight = 4;                    // Ingress updates at once
  int max_conflict_retries = 5;                // 409s in a row before backing off
  std::chrono::milliseconds retry_initial{1'000};
  std::chrono::milliseconds retry_max{30'000};
};

// "a,b" from --publish-status-address: an IP address fills `ip`, anything else `hostname`.
std::vector<LoadBalancerIngress> parse_status_addresses(const std::vector<std::string>& addresses);

// What a Service publishes: a LoadBalancer's status.loadBalancer.ingress and
// the spec.externalIPs; for other types without externalIPs, the clusterIP. Sorted.
std::vector<LoadBalancerIngress> service_addresses(const Service& service);

// Splits "NS/NAME"; an error names what is wrong.
Result<ObjectKey> parse_namespaced_name(const std::string& text, const std::string& flag);

// The leader's status.loadBalancer.ingress on every Ingress it serves: the
// addresses of --publish-status-address, else of the --publish-service
// Service (watched, so a new load-balancer IP reaches every Ingress). An
// Ingress that stops being ours while carrying our addresses is cleared.
// Each update reads the Ingress, writes its status subresource with that
// resourceVersion, and on a 409 conflict reads and tries again; other
// failures retry with backoff. Nothing is written while not leading.
//
// Controller thread only; create with std::make_shared; `api` and `store`
// must outlive it.
class StatusWriter : public std::enable_shared_from_this<StatusWriter> {
 public:
  StatusWriter(boost::asio::io_context& io, KubeApi& api, const Store& store, StatusWriterOptions options);

  // Starts watching the publish Service, if there is one.
  void start();
  void stop();

  void set_leading(bool leading);
  // The served set of the latest translation.
  void on_translated(const Translation& translation);

  // Something to publish: an address flag or a publish Service.
  bool enabled() const { return !options_.publish_addresses.empty() || publish_service_key_.has_value(); }
  const std::vector<LoadBalancerIngress>& addresses() const { return addresses_; }
  uint64_t updates_written() const { return updates_written_; }

 private:
  // The status `key` should have given its `current` one; nullopt: not ours to touch.
  std::optional<std::vector<LoadBalancerIngress>> desired_for(const ObjectKey& key,
                                                               const std::vector<LoadBalancerIngress>& current) const;
  void set_addresses(std::vector<LoadBalancerIngress> addresses);
  void reconcile();
  void pump();
  void update(const ObjectKey& key, int attempt);
  void finish(const ObjectKey& key, bool success);
  void schedule_retry();

  boost::asio::io_context& io_;
  KubeApi& api_;
  const Store& store_;
  const StatusWriterOptions options_;
  std::optional<ObjectKey> publish_service_key_;
  std::shared_ptr<Informer> publish_service_informer_;
  boost::asio::steady_timer retry_timer_;

  bool stopped_ = false;
  bool leading_ = false;
  bool addresses_known_ = false;  // the publish Service has been listed (or the flag given)
  std::set<ObjectKey> served_;
  std::vector<LoadBalancerIngress> addresses_;
  std::deque<ObjectKey> queue_;
  std::set<ObjectKey> queued_;
  std::set<ObjectKey> in_flight_;
  // In flight when the desired status may have changed: looked at again when done.
  std::set<ObjectKey> recheck_;
  struct Retry {
    std::chrono::steady_clock::time_point at;
    std::chrono::milliseconds backoff;
  };
  std::map<ObjectKey, Retry> retries_;
  uint64_t updates_written_ = 0;
};

}  // namespace grpc_ingress
