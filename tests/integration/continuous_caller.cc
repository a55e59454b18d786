#include "tests/integration/continuous_caller.h"

#include <sstream>

namespace grpc_ingress::testing {

ContinuousCaller::ContinuousCaller(const std::string& target, std::chrono::milliseconds deadline,
                                   std::chrono::milliseconds limit)
    : target_(target) {
  thread_ = std::thread([this, deadline, limit] {
    auto stub = helloworld::Greeter::NewStub(make_channel(target_));
    const auto give_up = Clock::now() + limit;
    while (!stop_ && Clock::now() < give_up) {
      auto started = Clock::now();
      CallResult result = say_hello(*stub, deadline);
      auto ended = Clock::now();
      std::lock_guard lock(mutex_);
      outcomes_.push_back({ended, std::move(result), std::chrono::duration<double, std::milli>(ended - started).count()});
    }
  });
}

ContinuousCaller::~ContinuousCaller() { stop(); }

void ContinuousCaller::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::optional<Clock::time_point> ContinuousCaller::first_answer(const std::string& pod, Clock::time_point after) const {
  std::lock_guard lock(mutex_);
  for (const Outcome& o : outcomes_) {
    if (o.at >= after && o.result.ok() && o.result.pod == pod) return o.at;
  }
  return std::nullopt;
}

bool ContinuousCaller::wait_for_pod(const std::string& pod, Clock::time_point after,
                                    std::chrono::milliseconds timeout) const {
  return wait_until([&] { return first_answer(pod, after).has_value(); }, timeout);
}

int ContinuousCaller::answers_from(const std::string& pod, Clock::time_point after) const {
  std::lock_guard lock(mutex_);
  int count = 0;
  for (const Outcome& o : outcomes_) count += o.at >= after && o.result.ok() && o.result.pod == pod;
  return count;
}

int ContinuousCaller::calls() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(outcomes_.size());
}

int ContinuousCaller::calls_after(Clock::time_point after) const {
  std::lock_guard lock(mutex_);
  int count = 0;
  for (const Outcome& o : outcomes_) count += o.at >= after;
  return count;
}

std::vector<double> ContinuousCaller::latencies_ms(Clock::time_point from, Clock::time_point to) const {
  std::lock_guard lock(mutex_);
  std::vector<double> out;
  for (const Outcome& o : outcomes_) {
    if (o.at >= from && o.at < to && o.result.ok()) out.push_back(o.took_ms);
  }
  return out;
}

std::map<std::string, int> ContinuousCaller::failures() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, int> out;
  for (const Outcome& o : outcomes_) {
    if (!o.result.ok()) ++out[code_name(o.result.code) + " '" + o.result.message + "'"];
  }
  return out;
}

std::string ContinuousCaller::summary() const {
  std::map<std::string, int> by_pod;
  int calls = 0;
  {
    std::lock_guard lock(mutex_);
    for (const Outcome& o : outcomes_) {
      ++calls;
      if (o.result.ok()) ++by_pod[o.result.pod];
    }
  }
  std::ostringstream out;
  out << calls << " calls;";
  for (const auto& [pod, count] : by_pod) out << " " << pod << ": " << count;
  for (const auto& [what, count] : failures()) out << "; " << count << " failed with " << what;
  return out.str();
}

}  // namespace grpc_ingress::testing
