#pragma once

// A gRPC client calling the Greeter back to back on its own thread, for tests
// that change routing under load and then count what every call saw.

#include "tests/integration/grpc_client.h"
#include "tests/integration/harness.h"

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace grpc_ingress::testing {

class ContinuousCaller {
 public:
  struct Outcome {
    Clock::time_point at;  // when it ended
    CallResult result;
    double took_ms = 0;
  };

  // Starts calling SayHello on one channel to `target`, each call with
  // `deadline`, until stop() or `limit` passes.
  explicit ContinuousCaller(const std::string& target, std::chrono::milliseconds deadline = 2s,
                            std::chrono::milliseconds limit = 90s);
  ~ContinuousCaller();
  ContinuousCaller(const ContinuousCaller&) = delete;
  ContinuousCaller& operator=(const ContinuousCaller&) = delete;

  void stop();

  // When `pod` first answered at or after `after`; nullopt if it did not.
  std::optional<Clock::time_point> first_answer(const std::string& pod, Clock::time_point after) const;
  // Waits until `pod` answers a call that ended after `after`.
  bool wait_for_pod(const std::string& pod, Clock::time_point after, std::chrono::milliseconds timeout) const;
  // Calls answered by `pod` that ended after `after`.
  int answers_from(const std::string& pod, Clock::time_point after) const;
  int calls() const;
  int calls_after(Clock::time_point after) const;
  // How long each call answered OK that ended in [from, to) took, in ms.
  std::vector<double> latencies_ms(Clock::time_point from, Clock::time_point to) const;
  // Failed calls by "CODE 'message'".
  std::map<std::string, int> failures() const;
  // One line for test output: calls, failures and answers per pod.
  std::string summary() const;

 private:
  std::string target_;
  mutable std::mutex mutex_;
  std::vector<Outcome> outcomes_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace grpc_ingress::testing
