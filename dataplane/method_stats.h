#pragma once

#include "common/metrics.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace grpc_ingress {

inline constexpr size_t kGrpcCodes = 17;

// Calls of one gRPC method of a route (--metrics-grpc-method-labels), by status.
struct MethodStats {
  std::string service, method;  // from /pkg.Service/Method; both "other" past the bound
  std::array<std::atomic<uint64_t>, kGrpcCodes> requests{};
};

// The methods each route may have series for, shared by the workers, so that
// the bound (--metrics-max-grpc-methods) holds for the route over all of them.
// Any thread; asked only when a worker meets a path it has not seen.
using PathSet = std::set<std::string, std::less<>>;
class MethodBound {
 public:
  explicit MethodBound(size_t max_per_route) : max_per_route_(max_per_route) {}
  size_t max_per_route() const { return max_per_route_; }
  struct Admission {
    bool admitted = false;
    // Once the route is full: the paths it admitted, which never change again.
    std::shared_ptr<const PathSet> full;
  };
  // Whether `path` has (or now gets) its own series on `route`.
  Admission admit(const std::string& route, std::string_view path);

 private:
  struct RouteMethods {
    PathSet paths;
    std::shared_ptr<const PathSet> full;
  };
  size_t max_per_route_;
  std::mutex mutex_;
  std::map<std::string, RouteMethods, std::less<>> routes_;
};

// A route's calls by method, on one worker. The worker finds a known path
// without allocating; a path new to it is added once (or counted as
// "other" when the bound refuses it, or when it is not /Service/Method).
// Scrapes read under the mutex, which only adding takes on the worker.
class MethodTable {
 public:
  MethodTable() {
    other_.service = other_.method = "other";
  }
  // Worker thread. `route` names the route for `bound`.
  MethodStats& resolve(std::string_view path, MethodBound& bound, const std::string& route);

  // Any thread.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    std::lock_guard lock(mutex_);
    for (const auto& [_, stats] : by_path_) fn(*stats);
    fn(other_);
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<MethodStats>, std::less<>> by_path_;
  MethodStats other_;
  // The route's admitted paths once its bound is full: a path outside them
  // is "other" without asking the bound again.
  std::shared_ptr<const PathSet> full_;
};

// "/pkg.Service/Method" -> {"pkg.Service", "Method"}; empty views when `path` is not of that form.
std::pair<std::string_view, std::string_view> split_grpc_path(std::string_view path);

}  // namespace grpc_ingress
