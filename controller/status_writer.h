#pragma once

#include "common/result.h"
#include "controller/kube_api.h"
#include "controller/kube_informer.h"
#include "controller/translate/gateway_status.h"
#include "controller/translate/k8s_objects.h"
#include "controller/translate/store.h"
#include "controller/translate/translator.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace grpc_ingress {

struct StatusWriterOptions {
  std::string publish_service;                // "NS/NAME": that Service's addresses; "" for none
  std::vector<std::string> publish_addresses;  // --publish-status-address: wins over the Service
  InformerOptions informer{};                  // for watching the publish Service
  // --gateway-controller-name: the controllerName of our entries in route status.parents.
  std::string gateway_controller_name = "grpc-ingress.io/gateway-controller";
  size_t max_in_flight = 4;                    // status updates at once
  int max_conflict_retries = 5;                // 409s in a row before backing off
  std::chrono::milliseconds retry_initial{1'000};
  std::chrono::milliseconds retry_max{30'000};
  // Gives the lastTransitionTime of a condition that is new or flipped.
  std::function<std::chrono::system_clock::time_point()> wall_clock = [] { return std::chrono::system_clock::now(); };
};

// An object whose status the writer keeps: an Ingress, a GatewayClass, a
// Gateway, a GRPCRoute or an HTTPRoute.
struct StatusTarget {
  ObjectKind kind = ObjectKind::kIngress;
  ObjectKey key;

  std::string to_string() const;  // "Gateway default/web"
  auto operator<=>(const StatusTarget&) const = default;
};

// "a,b" from --publish-status-address: an IP address fills `ip`, anything else `hostname`.
std::vector<LoadBalancerIngress> parse_status_addresses(const std::vector<std::string>& addresses);

// What a Service publishes: a LoadBalancer's status.loadBalancer.ingress and
// the spec.externalIPs; for other types without externalIPs, the clusterIP. Sorted.
std::vector<LoadBalancerIngress> service_addresses(const Service& service);

// Splits "NS/NAME"; an error names what is wrong.
Result<ObjectKey> parse_namespaced_name(const std::string& text, const std::string& flag);

// The leader's status of the objects it serves. Ingresses: the addresses of
// --publish-status-address, else of the --publish-service Service (watched, so
// a new load-balancer IP reaches every Ingress), in status.loadBalancer.ingress;
// an Ingress that stops being ours while carrying our addresses is cleared.
// Gateway API objects: what the translation wants (GatewayApiStatus; see
// gateway_status_writer.h for how it is merged), and on Gateways the same
// addresses; an object is written again when what it should carry changes,
// and each once when this replica becomes the leader.
// Each update reads the object, writes its status subresource with that
// resourceVersion (only if the status differs), and on a 409 conflict reads
// and tries again; other failures retry with backoff; a 404 drops it.
// Nothing is written while not leading.
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
  // The served Ingresses and the Gateway API status of the latest translation.
  void on_translated(const Translation& translation);

  // Something to publish: an address flag or a publish Service.
  bool enabled() const { return !options_.publish_addresses.empty() || publish_service_key_.has_value(); }
  const std::vector<LoadBalancerIngress>& addresses() const { return addresses_; }
  // Status subresource writes, of every kind.
  uint64_t updates_written() const { return updates_written_; }

 private:
  // What a Gateway API object should carry: a GatewayClass's Accepted
  // condition, a Gateway's status and addresses, a route's parent entries of ours.
  struct GatewayWanted {
    GatewayStatus status;
    std::vector<LoadBalancerIngress> addresses;
    bool operator==(const GatewayWanted&) const = default;
  };
  using RouteParents = std::vector<RouteParentStatus>;
  using Wanted = std::variant<Condition, GatewayWanted, RouteParents>;

  // The status `key` should have given its `current` one; nullopt: not ours to touch.
  std::optional<std::vector<LoadBalancerIngress>> desired_for(const ObjectKey& key,
                                                               const std::vector<LoadBalancerIngress>& current) const;
  // The translation lists it, or it is a route that still carries entries of ours.
  bool wants_status(const StatusTarget& target) const;
  // nullopt: not ours (any more), or the Gateway API is off. A route no longer listed: no entries.
  std::optional<Wanted> wanted(const StatusTarget& target) const;
  const std::map<ObjectKey, RouteParents>* routes_of(ObjectKind kind) const;
  // Sets the status `object` should carry and says what it is, for the log;
  // nullopt when it carries it already (or is not ours to touch).
  std::optional<std::string> set_status(const StatusTarget& target, nlohmann::json& object,
                                        const std::optional<Wanted>& wanted) const;
  // Gateways wait for the publish Service's addresses, so a new leader does not drop them.
  bool addresses_ready() const { return addresses_known_ || !enabled(); }
  bool exists(const StatusTarget& target) const;
  void set_addresses(std::vector<LoadBalancerIngress> addresses);
  void reconcile();
  void enqueue(const StatusTarget& target, std::chrono::steady_clock::time_point now);
  void pump();
  void update(const StatusTarget& target, int attempt);
  void write(const StatusTarget& target, int attempt, nlohmann::json object, std::optional<Wanted> wanted,
             std::string summary);
  void finish(const StatusTarget& target, bool success);
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
  std::shared_ptr<const GatewayApiStatus> gateway_status_;
  // What each Gateway API object carries as far as we know: written by us, or
  // found so, in this term as leader.
  std::map<StatusTarget, Wanted> written_;
  std::deque<StatusTarget> queue_;
  std::set<StatusTarget> queued_;
  std::set<StatusTarget> in_flight_;
  // In flight when the desired status may have changed: looked at again when done.
  std::set<StatusTarget> recheck_;
  struct Retry {
    std::chrono::steady_clock::time_point at;
    std::chrono::milliseconds backoff;
  };
  std::map<StatusTarget, Retry> retries_;
  uint64_t updates_written_ = 0;
};

}  // namespace grpc_ingress
