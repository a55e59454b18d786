#include "controller/leader_election.h"

#include "common/log.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <ctime>

namespace grpc_ingress {
namespace {

using nlohmann::json;

const ComponentLog kLog{"leader-election"};


}  // namespace

std::string micro_time(std::chrono::system_clock::time_point time) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<long long>(micros % 1'000'000));
  return text;
}

LeaderElector::LeaderElector(boost::asio::io_context& io, KubeApi& api, LeaderElectionOptions options,
                             std::function<void(bool leading)> on_change)
    : io_(io),
      api_(api),
      options_(std::move(options)),
      on_change_(std::move(on_change)),
      timer_(io),
      random_(options_.random_seed ? options_.random_seed : std::random_device{}()) {}

std::string LeaderElector::lease_key() const { return options_.lease_namespace + "/" + options_.lease_name; }

std::string LeaderElector::lease_path() const {
  return "/apis/coordination.k8s.io/v1/namespaces/" + options_.lease_namespace + "/leases/" + options_.lease_name;
}

void LeaderElector::start() {
  spdlog::info("leader election: Lease {}/{} as '{}' (lease {} ms, renew deadline {} ms, retry {} ms)",
               options_.lease_namespace, options_.lease_name, options_.identity, options_.lease_duration.count(),
               options_.renew_deadline.count(), options_.retry_period.count());
  tick();
}

void LeaderElector::stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  if (!leading_) return;
  set_leading(false);
  // Release: a cleared holder is free for the next replica at once.
  release(last_lease_, 3);
}

void LeaderElector::release(json lease, int attempts) {
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] = micro_time(std::chrono::system_clock::now());
  auto self = shared_from_this();
  api_.request({.method = "PUT", .target = lease_path(), .body = lease.dump()}, [self, attempts](
                                                                                     Result<KubeResponse> response) {
    if (response && response->status == 200) {
      kLog.info({.kind = "Lease", .object = self->lease_key(), .reason = "LeaseReleased"}, "leader election: Lease released");
      return;
    }
    if (response && response->status == 409 && attempts > 1) {
      self->api_.request({.method = "GET", .target = self->lease_path()}, [self, attempts](Result<KubeResponse> got) {
        json current = got && got->status == 200 ? json::parse(got->body, nullptr, false) : json();
        if (!current.is_object()) {
          spdlog::warn("leader election: releasing the Lease: cannot read it again ({}); another replica takes "
                       "over when it expires",
                       got ? std::to_string(got->status) : got.error().message);
          return;
        }
        if (json_string_at(json_member(current, "spec"), "holderIdentity") != self->options_.identity) {
          spdlog::info("leader election: Lease no longer ours; nothing to release");
          return;
        }
        self->release(std::move(current), attempts - 1);
      });
      return;
    }
    spdlog::warn("leader election: releasing the Lease failed ({}); another replica takes over when it expires",
                 response ? std::to_string(response->status) + " " + status_message(response->body)
                          : response.error().message);
  });
}

void LeaderElector::tick() {
  if (stopped_) return;
  check_renew_deadline();
  if (!in_flight_) try_acquire_or_renew();
  // The leader renews on the period; candidates add up to 20% so they do not ask in step.
  auto delay = options_.retry_period;
  if (!leading_) {
    std::uniform_real_distribution<double> jitter(1.0, 1.2);
    delay = std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(delay.count()) * jitter(random_)));
  }
  auto self = shared_from_this();
  timer_.expires_after(delay);
  timer_.async_wait([self](boost::system::error_code error) {
    if (!error) self->tick();
  });
}

void LeaderElector::try_acquire_or_renew() {
  in_flight_ = true;
  auto self = shared_from_this();
  api_.request({.method = "GET", .target = lease_path()}, [self](Result<KubeResponse> response) {
    if (self->stopped_) return;
    if (!response) {
      spdlog::debug("leader election: get Lease: {}", response.error().message);
      self->round_done(false);
      return;
    }
    if (response->status == 404) {
      json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                    {"kind", "Lease"},
                    {"metadata", {{"name", self->options_.lease_name}, {"namespace", self->options_.lease_namespace}}},
                    {"spec", json::object()}};
      self->write(std::move(lease), true);
      return;
    }
    auto lease = json::parse(response->body, nullptr, false);
    if (response->status != 200 || !lease.is_object()) {
      spdlog::warn("leader election: get Lease answered {}: {}", response->status, status_message(response->body));
      self->round_done(false);
      return;
    }
    self->examine(lease);
  });
}

void LeaderElector::examine(const json& lease) {
  last_lease_ = lease;
  const json& spec = json_member(lease, "spec");
  std::string holder = json_string_at(spec, "holderIdentity");
  std::string record = spec.dump();
  auto now = Clock::now();
  if (record != observed_record_) {
    observed_record_ = record;
    observed_at_ = now;
    if (holder != observed_holder_ && holder != options_.identity) {
      kLog.info({.kind = "Lease", .object = lease_key(), .reason = "LeaderObserved"},
                "leader election: the Lease is held by '{}'", holder.empty() ? "(nobody)" : holder);
    }
    observed_holder_ = holder;
  }
  const json& duration = json_member(spec, "leaseDurationSeconds");
  auto lease_duration = duration.is_number_integer() ? std::chrono::milliseconds(duration.get<int64_t>() * 1000)
                                                     : options_.lease_duration;
  if (!holder.empty() && holder != options_.identity && now < observed_at_ + lease_duration) {
    if (leading_) {
      kLog.warn({.kind = "Lease", .object = lease_key(), .reason = "LeaderLost"},
                "leader election: '{}' holds the Lease now", holder);
      set_leading(false);
    }
    in_flight_ = false;
    return;
  }
  write(lease, false);
}

json LeaderElector::desired_spec(const json& current) const {
  json spec = json_member(current, "spec").is_object() ? json_member(current, "spec") : json::object();
  std::string now = micro_time(std::chrono::system_clock::now());
  if (json_string_at(spec, "holderIdentity") != options_.identity) {
    spec["acquireTime"] = now;
    const json& transitions = json_member(spec, "leaseTransitions");
    bool had_holder = !json_string_at(spec, "holderIdentity").empty() || transitions.is_number_integer();
    spec["leaseTransitions"] = (transitions.is_number_integer() ? transitions.get<int64_t>() : 0) + (had_holder ? 1 : 0);
  }
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] =
      static_cast<int64_t>(std::ceil(std::chrono::duration<double>(options_.lease_duration).count()));
  spec["renewTime"] = now;
  return spec;
}

void LeaderElector::write(json lease, bool create) {
  lease["spec"] = desired_spec(lease);
  std::string collection = "/apis/coordination.k8s.io/v1/namespaces/" + options_.lease_namespace + "/leases";
  auto self = shared_from_this();
  api_.request({.method = create ? "POST" : "PUT", .target = create ? collection : lease_path(), .body = lease.dump()},
               [self](Result<KubeResponse> response) {
                 if (self->stopped_) return;
                 json written = response ? json::parse(response->body, nullptr, false) : json();
                 bool ok = response && (response->status == 200 || response->status == 201) && written.is_object();
                 if (!ok) {
                   // 409: another replica wrote first; we see its record next round.
                   spdlog::debug("leader election: writing the Lease failed: {}",
                                 response ? std::to_string(response->status) + " " + status_message(response->body)
                                          : response.error().message);
                   self->round_done(false);
                   return;
                 }
                 self->last_lease_ = written;
                 self->observed_record_ = json_member(written, "spec").dump();
                 self->observed_holder_ = self->options_.identity;
                 self->observed_at_ = Clock::now();
                 self->round_done(true);
               });
}

void LeaderElector::round_done(bool success) {
  in_flight_ = false;
  if (success) {
    last_renew_ = Clock::now();
    set_leading(true);
  } else {
    check_renew_deadline();
  }
}

void LeaderElector::check_renew_deadline() {
  if (leading_ && Clock::now() - last_renew_ > options_.renew_deadline) {
    kLog.warn({.kind = "Lease", .object = lease_key(), .reason = "RenewDeadlineExceeded"},
              "leader election: the Lease was not renewed within {} ms; stepping down", options_.renew_deadline.count());
    set_leading(false);
  }
}

void LeaderElector::set_leading(bool leading) {
  if (leading == leading_) return;
  leading_ = leading;
  if (leading) {
    kLog.info({.kind = "Lease", .object = lease_key(), .reason = "LeaderElected"},
              "leader election: '{}' is the leader now: writing Ingress status", options_.identity);
  } else {
    kLog.info({.kind = "Lease", .object = lease_key(), .reason = "LeaderStepDown"},
              "leader election: '{}' is no longer the leader: Ingress status writes stop", options_.identity);
  }
  if (on_change_) on_change_(leading);
}

}  // namespace grpc_ingress
