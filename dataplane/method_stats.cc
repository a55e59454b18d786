#include "dataplane/method_stats.h"

namespace grpc_ingress {

std::pair<std::string_view, std::string_view> split_grpc_path(std::string_view path) {
  if (path.size() < 4 || path[0] != '/') return {};
  size_t slash = path.find('/', 1);
  if (slash == std::string_view::npos || slash == 1 || slash + 1 == path.size()) return {};
  std::string_view method = path.substr(slash + 1);
  if (method.find_first_of("/?") != std::string_view::npos) return {};
  return {path.substr(1, slash - 1), method};
}

MethodBound::Admission MethodBound::admit(const std::string& route, std::string_view path) {
  std::lock_guard lock(mutex_);
  RouteMethods& methods = routes_[route];
  if (methods.paths.find(path) != methods.paths.end()) return {true, methods.full};
  if (methods.paths.size() < max_per_route_) {
    methods.paths.emplace(path);
    return {true, nullptr};
  }
  if (!methods.full) methods.full = std::make_shared<const PathSet>(methods.paths);
  return {false, methods.full};
}

MethodStats& MethodTable::resolve(std::string_view path, MethodBound& bound, const std::string& route) {
  auto it = by_path_.find(path);  // only this thread adds: no lock to read
  if (it != by_path_.end()) return *it->second;
  if (full_ && full_->find(path) == full_->end()) return other_;
  auto [service, method] = split_grpc_path(path);
  if (service.empty()) return other_;
  if (!full_) {
    MethodBound::Admission admission = bound.admit(route, path);
    full_ = std::move(admission.full);
    if (!admission.admitted) return other_;
  }
  auto stats = std::make_unique<MethodStats>();
  stats->service = service;
  stats->method = method;
  std::lock_guard lock(mutex_);
  return *by_path_.emplace(std::string(path), std::move(stats)).first->second;
}

}  // namespace grpc_ingress
