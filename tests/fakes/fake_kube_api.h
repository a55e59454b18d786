#pragma once

// A KubeApi that answers nothing by itself: a test sees each request and
// watch the code under test makes, and answers them, in the order it likes.
// Controller-thread code under test runs on the test's io_context.

#include "controller/kube_api.h"

#include <nlohmann/json.hpp>

#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace grpc_ingress::testing {

class FakeKubeApi : public KubeApi {
 public:
  struct Watch : KubeWatch {
    std::string target;
    EventHandler on_event;
    EndHandler on_end;
    bool cancelled = false;
    bool ended = false;

    void cancel() override { cancelled = true; }
    bool open() const { return !cancelled && !ended; }
    void send(const nlohmann::json& event) {
      if (!open()) throw std::logic_error("event on a closed watch " + target);
      on_event(event);
    }
    void end(WatchEnd end = {.status = 200}) {
      if (!open()) throw std::logic_error("end of a closed watch " + target);
      ended = true;
      on_end(std::move(end));
    }
  };

  struct Pending {
    KubeRequest request;
    ResponseHandler done;
  };

  void request(KubeRequest request, ResponseHandler done) override {
    log.push_back(request.method + " " + request.target);
    pending.push_back({std::move(request), std::move(done)});
  }

  std::shared_ptr<KubeWatch> watch(std::string target, std::chrono::milliseconds, EventHandler on_event,
                                   EndHandler on_end) override {
    log.push_back("WATCH " + target);
    auto watch = std::make_shared<Watch>();
    watch->target = std::move(target);
    watch->on_event = std::move(on_event);
    watch->on_end = std::move(on_end);
    watches.push_back(watch);
    return watch;
  }

  // Answers the oldest pending request.
  KubeRequest respond(int status, const nlohmann::json& body) { return respond_raw(status, body.dump()); }
  KubeRequest respond_raw(int status, std::string body) {
    if (pending.empty()) throw std::logic_error("no pending request to answer");
    Pending next = std::move(pending.front());
    pending.pop_front();
    next.done(KubeResponse{status, std::move(body)});
    return next.request;
  }
  KubeRequest fail(const std::string& error) {
    if (pending.empty()) throw std::logic_error("no pending request to fail");
    Pending next = std::move(pending.front());
    pending.pop_front();
    next.done(Error{error});
    return next.request;
  }

  // The open watch whose target contains `needle`, or nullptr.
  std::shared_ptr<Watch> open_watch(const std::string& needle = "") const {
    for (auto it = watches.rbegin(); it != watches.rend(); ++it) {
      if ((*it)->open() && (*it)->target.find(needle) != std::string::npos) return *it;
    }
    return nullptr;
  }

  std::deque<Pending> pending;
  std::vector<std::shared_ptr<Watch>> watches;
  std::vector<std::string> log;  // "GET /api/v1/services?limit=500", "WATCH ...", in order
};

}  // namespace grpc_ingress::testing
