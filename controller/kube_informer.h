#pragma once

#include "common/small_random.h"
#include "controller/backoff.h"
#include "controller/time_source.h"
#include "controller/kube_api.h"
#include "controller/translate/k8s_objects.h"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace grpc_ingress {

// Where the objects of one kind live in the API.
struct ResourceType {
  ObjectKind kind;
  std::string group_version_path;  // "/api/v1", "/apis/networking.k8s.io/v1"
  std::string plural;              // "ingresses": the path segment and the metrics label
  std::string field_selector{};    // e.g. "type=kubernetes.io/tls"; "" for none
};

// The resources routing reads, as KubeSource watches them.
ResourceType ingresses_resource();
ResourceType ingress_classes_resource();
ResourceType services_resource();
ResourceType endpoint_slices_resource();
// Secrets that can hold certificates (TLS and Opaque, for upstream CAs); never
// service-account tokens, Helm releases or registry credentials.
ResourceType certificate_secrets_resource();
// Namespaces (cluster-scoped): their labels select Gateway listeners' routes.
ResourceType namespaces_resource();
// GatewayClass, Gateway, GRPCRoute, HTTPRoute (v1) and ReferenceGrant (v1beta1).
std::vector<ResourceType> gateway_api_resources();

struct InformerOptions {
  size_t page_size = 500;  // list limit; the rest comes with continue tokens
  // The server ends each watch after a random timeoutSeconds in this range (as
  // client-go picks 5-10 min), so watches of many replicas do not renew together.
  std::chrono::seconds watch_timeout_min{300};
  std::chrono::seconds watch_timeout_max{600};
  // Our own deadline is the server's plus this: a connection that went silent
  // (no events, no bookmarks, no end) is abandoned then.
  std::chrono::milliseconds watch_deadline_margin{30'000};
  // Failures back off exponentially from initial to max, each delay jittered by +-20%.
  BackoffOptions backoff{};
  // A watch that ran this long was healthy: when it ends, watch again at once
  // and forget the backoff.
  std::chrono::milliseconds healthy_watch{1'000};
  uint64_t random_seed = 0;  // 0: seeded from std::random_device
  TimeSource* time = nullptr;  // nullptr: the steady clock; tests pass a fake one
};

// What an informer delivers; each call runs on the controller thread.
struct InformerSink {
  std::function<void(std::vector<Object>)> replace;  // a complete list: the kind's objects are now exactly these
  std::function<void(Object)> upsert;                 // added or modified
  std::function<void(ObjectKey)> remove;              // deleted
};

// Why a watch was started again; the metrics label.
enum class RestartReason {
  kClosed,   // the server ended the stream (its timeoutSeconds)
  kTimeout,  // our deadline passed without the server ending it
  kDropped,  // the connection broke mid-stream
  kExpired,  // 410 Gone: our resourceVersion is too old; a full relist follows
  kError,    // an error answer (non-200, an ERROR event, a failed list or connect)
  kInvalid,  // the stream carried something that is not a watch event
};
std::string_view restart_reason_name(RestartReason reason);

// client-go's reflector for one resource: a paginated list, then a watch from
// the list's resourceVersion with bookmarks, reconnecting from the last version
// seen. 410 Gone (on a list page or as a watch ERROR event) means a full relist
// that replaces the kind's objects. Failures retry after a jittered
// exponential backoff; every restart is logged with its reason and counted.
//
// Controller thread only. Create with std::make_shared; `api` must outlive it.
class Informer : public std::enable_shared_from_this<Informer> {
 public:
  using RestartCounter = std::function<void(const std::string& resource, RestartReason reason)>;

  Informer(boost::asio::io_context& io, KubeApi& api, ResourceType resource, std::string namespace_name,
           InformerSink sink, InformerOptions options, RestartCounter on_restart = {});

  void start();
  // No sink call after this returns.
  void stop();

  const ResourceType& resource() const { return resource_; }
  const std::string& resource_version() const { return resource_version_; }
  bool listed() const { return listed_; }
  bool watching() const { return watch_ != nullptr; }

  // The list path: /apis/GROUP/VERSION[/namespaces/NS]/PLURAL.
  std::string path() const;

 private:
  void list(std::string continue_token);
  void list_page(KubeResponse response);
  void watch();
  void on_event(const nlohmann::json& event);
  void on_watch_end(WatchEnd end);
  // Counts and logs the restart, then lists or watches again after `delay`.
  void restart(RestartReason reason, const std::string& detail, bool relist, bool healthy);
  std::string selector_query() const;

  boost::asio::io_context& io_;
  KubeApi& api_;
  const ResourceType resource_;
  const std::string namespace_name_;
  InformerSink sink_;
  const InformerOptions options_;
  RestartCounter on_restart_;
  TimeSource& clock_;
  std::unique_ptr<ClockTimer> timer_;
  SmallRandom random_;
  Backoff backoff_;

  bool stopped_ = false;
  bool listed_ = false;
  std::string resource_version_;
  std::vector<Object> pending_;  // pages of the list in progress
  size_t pages_ = 0;
  std::shared_ptr<KubeWatch> watch_;
  TimeSource::TimePoint watch_started_{};
  uint64_t watch_events_ = 0;
};

// Percent-encodes a query parameter value (continue tokens, selectors).
std::string url_encode(std::string_view value);

}  // namespace grpc_ingress
