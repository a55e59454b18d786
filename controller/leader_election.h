#pragma once

#include "controller/kube_api.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>

namespace grpc_ingress {

struct LeaderElectionOptions {
  std::string lease_namespace;
  std::string lease_name = "grpc-ingress-leader";
  std::string identity;  // unique per replica: the pod name
  // client-go's defaults: a lease is someone else's for lease_duration after we
  // last saw it change; the leader gives up when it could not renew for
  // renew_deadline; every replica tries every retry_period.
  std::chrono::milliseconds lease_duration{15'000};
  std::chrono::milliseconds renew_deadline{10'000};
  std::chrono::milliseconds retry_period{2'000};
  uint64_t random_seed = 0;  // 0: from std::random_device
};

// Leader election over a coordination.k8s.io/v1 Lease, as client-go's
// leaderelection package does it: get the Lease; create it if missing; take
// it over (an update carrying its resourceVersion, so exactly one replica
// wins) when its holder let it expire, judged by our own clock from when we
// last saw the record change; renew it while leading. A leader that cannot
// renew within renew_deadline steps down and becomes a candidate again.
// Only the leader writes Ingress status and Events; every replica routes.
//
// Controller thread only; create with std::make_shared; `api` must outlive it.
class LeaderElector : public std::enable_shared_from_this<LeaderElector> {
 public:
  using Clock = std::chrono::steady_clock;

  LeaderElector(boost::asio::io_context& io, KubeApi& api, LeaderElectionOptions options,
                std::function<void(bool leading)> on_change);

  void start();
  // Stops trying. When leading, steps down and releases the Lease (holder
  // cleared, as client-go's ReleaseOnCancel), so another replica takes over at
  // once instead of after lease_duration; that request finishes on its own.
  void stop();

  bool leading() const { return leading_; }
  const std::string& holder() const { return observed_holder_; }
  std::string lease_path() const;
  std::string lease_key() const;  // "namespace/name", for logs

 private:
  void tick();
  void try_acquire_or_renew();
  void examine(const nlohmann::json& lease);
  void write(nlohmann::json lease, bool create);
  void round_done(bool success);
  void check_renew_deadline();
  void set_leading(bool leading);
  // Clears the holder of `lease` (ours). A renew still in flight when we
  // stopped makes that write 409: read the Lease again and retry, while it
  // is still ours, at most `attempts` times.
  void release(nlohmann::json lease, int attempts);
  nlohmann::json desired_spec(const nlohmann::json& current) const;

  boost::asio::io_context& io_;
  KubeApi& api_;
  const LeaderElectionOptions options_;
  std::function<void(bool)> on_change_;
  boost::asio::steady_timer timer_;
  std::mt19937_64 random_;

  bool stopped_ = false;
  bool in_flight_ = false;
  bool leading_ = false;
  Clock::time_point last_renew_{};
  // The record as we last saw it, and when it last changed by our clock.
  std::string observed_record_;
  std::string observed_holder_;
  Clock::time_point observed_at_{};
  nlohmann::json last_lease_;  // the last Lease object we read or wrote
};

// An RFC 3339 time with microseconds, as the API writes MicroTime fields.
std::string micro_time(std::chrono::system_clock::time_point time);

}  // namespace grpc_ingress
