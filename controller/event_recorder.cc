#include "controller/event_recorder.h"

#include "common/log.h"
#include "controller/leader_election.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <set>

namespace grpc_ingress {
namespace {

using nlohmann::json;

const ComponentLog kLog{"event-recorder"};

std::string key_of(const Rejection& rejection) {
  return rejection.namespace_name + "/" + rejection.name + "\n" + rejection.reason;
}

}  // namespace

EventRecorder::EventRecorder(boost::asio::io_context& io, KubeApi& api, const Store& store,
                             EventRecorderOptions options)
    : io_(io),
      api_(api),
      store_(store),
      options_(std::move(options)),
      retry_timer_(io),
      tokens_(static_cast<double>(options_.burst)),
      refilled_at_(Clock::now()) {}

void EventRecorder::set_leading(bool leading) {
  leading_ = leading;
  if (leading) flush();
}

void EventRecorder::stop() {
  stopped_ = true;
  retry_timer_.cancel();
}

void EventRecorder::on_translated(const Translation& translation) {
  pending_.clear();
  std::set<std::string> current;
  for (const Rejection& rejection : translation.rejections) {
    if (rejection.kind != "Ingress") continue;
    pending_.push_back(rejection);
    current.insert(key_of(rejection));
  }
  // A rejection that went away is forgotten: if it comes back, it is news again.
  std::erase_if(sent_, [&](const auto& entry) { return !current.count(entry.first); });
  flush();
}

void EventRecorder::flush() {
  if (!leading_ || stopped_) return;
  auto now = Clock::now();
  bool limited = false;
  for (const Rejection& rejection : pending_) {
    std::string key = key_of(rejection);
    auto sent = sent_.find(key);
    if (sent != sent_.end() && now - sent->second < options_.repeat_after) continue;
    if (!take_token()) {
      limited = true;
      ++rate_limited_count_;
      continue;
    }
    sent_[key] = now;
    post(rejection);
  }
  if (limited) {
    // What the bucket held back goes out as tokens come back.
    auto self = shared_from_this();
    retry_timer_.expires_after(options_.refill);
    retry_timer_.async_wait([self](boost::system::error_code error) {
      if (!error) self->flush();
    });
  }
}

bool EventRecorder::take_token() {
  auto now = Clock::now();
  double earned = std::chrono::duration<double>(now - refilled_at_) / std::chrono::duration<double>(options_.refill);
  tokens_ = std::min(static_cast<double>(options_.burst), tokens_ + earned);
  refilled_at_ = now;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

void EventRecorder::post(const Rejection& rejection) {
  auto wall = std::chrono::system_clock::now();
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx",
                static_cast<unsigned long long>(wall.time_since_epoch().count()) + sequence_++);
  std::string uid;
  if (auto it = store_.ingresses().find({rejection.namespace_name, rejection.name}); it != store_.ingresses().end()) {
    uid = it->second.metadata.uid;
  }
  std::string message = rejection.reason.substr(0, options_.max_message_bytes);
  std::string time = micro_time(wall);
  json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", rejection.name + suffix}, {"namespace", rejection.namespace_name}}},
      {"involvedObject",
       {{"apiVersion", "networking.k8s.io/v1"},
        {"kind", "Ingress"},
        {"namespace", rejection.namespace_name},
        {"name", rejection.name},
        {"uid", uid}}},
      {"reason", "Rejected"},
      {"message", message},
      {"type", "Warning"},
      {"source", {{"component", options_.component}}},
      {"reportingComponent", options_.component},
      {"reportingInstance", options_.instance},
      {"firstTimestamp", time},
      {"lastTimestamp", time},
      {"count", 1},
  };
  std::string where = rejection.namespace_name + "/" + rejection.name;
  api_.request({.method = "POST", .target = "/api/v1/namespaces/" + rejection.namespace_name + "/events",
                .body = event.dump()},
               [self = shared_from_this(), where](Result<KubeResponse> response) {
                 if (response && (response->status == 201 || response->status == 200)) {
                   ++self->recorded_count_;
                   spdlog::debug("events: recorded a Rejected event on Ingress {}", where);
                   return;
                 }
                 kLog.warn({.kind = "Ingress", .object = where, .reason = "EventRecordFailed"},
                           "events: recording an event on Ingress {} failed: {}", where,
                           response ? std::to_string(response->status) + " " + status_message(response->body)
                                    : response.error().message);
               });
}

}  // namespace grpc_ingress
