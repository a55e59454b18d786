#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grpc_ingress {

// A counter or gauge written by exactly one thread and read by scrapes from
// another: relaxed load + store, no read-modify-write, no lock.
template <typename T>
inline void bump(std::atomic<T>& value, T delta = 1) {
  value.store(value.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}
template <typename T>
inline T read(const std::atomic<T>& value) {
  return value.load(std::memory_order_relaxed);
}

using Labels = std::vector<std::pair<std::string, std::string>>;

// Builds a Prometheus text exposition (format 0.0.4): each family's HELP and
// TYPE once, then its samples.
class MetricsWriter {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, double value);
  void sample(std::string_view name, double value) { sample(name, {}, value); }
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

// Prometheus label value escaping: backslash, double quote and newline.
std::string escape_label_value(std::string_view value);

// Upper bounds (seconds) of the request duration histogram buckets.
inline constexpr double kDurationBucketBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                   0.5,   1,      2.5,   5,    10,    30,    60,  300};
inline constexpr size_t kDurationBuckets = std::size(kDurationBucketBounds);

}  // namespace grpc_ingress
