#include "controller/translate/store.h"

#include <algorithm>
#include <optional>
#include <type_traits>
#include <utility>

namespace grpc_ingress {
namespace {

constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";

// The Service a slice belongs to (namespace, kubernetes.io/service-name), if it names one.
std::optional<ObjectKey> service_of(const EndpointSlice& slice) {
  auto label = slice.metadata.labels.find(kServiceNameLabel);
  if (label == slice.metadata.labels.end()) return std::nullopt;
  return ObjectKey{slice.metadata.namespace_name, label->second};
}

}  // namespace

bool StoreChanges::endpoints_only() const {
  return !everything && std::all_of(objects.begin(), objects.end(), [](const auto& object) {
    return object.first == ObjectKind::kService || object.first == ObjectKind::kEndpointSlice;
  });
}

// Calls `fn` with the map that holds the valid objects of `kind`.
template <typename ContentsT, typename Fn>
auto Store::with_map(ContentsT& contents, ObjectKind kind, Fn&& fn) {
  switch (kind) {
    case ObjectKind::kIngress:
      return fn(contents.ingresses);
    case ObjectKind::kIngressClass:
      return fn(contents.ingress_classes);
    case ObjectKind::kService:
      return fn(contents.services);
    case ObjectKind::kEndpointSlice:
      return fn(contents.endpoint_slices);
    case ObjectKind::kSecret:
      break;
    case ObjectKind::kNamespace:
      return fn(contents.namespaces);
    case ObjectKind::kGatewayClass:
      return fn(contents.gateway_classes);
    case ObjectKind::kGateway:
      return fn(contents.gateways);
    case ObjectKind::kGRPCRoute:
      return fn(contents.grpc_routes);
    case ObjectKind::kHTTPRoute:
      return fn(contents.http_routes);
    case ObjectKind::kReferenceGrant:
      return fn(contents.reference_grants);
  }
  return fn(contents.secrets);
}

template <typename T, typename ContentsT>
auto& Store::map_of(ContentsT& contents) {
  if constexpr (std::is_same_v<T, Ingress>) return contents.ingresses;
  else if constexpr (std::is_same_v<T, IngressClass>) return contents.ingress_classes;
  else if constexpr (std::is_same_v<T, Service>) return contents.services;
  else if constexpr (std::is_same_v<T, EndpointSlice>) return contents.endpoint_slices;
  else if constexpr (std::is_same_v<T, Secret>) return contents.secrets;
  else if constexpr (std::is_same_v<T, Namespace>) return contents.namespaces;
  else if constexpr (std::is_same_v<T, GatewayClass>) return contents.gateway_classes;
  else if constexpr (std::is_same_v<T, Gateway>) return contents.gateways;
  else if constexpr (std::is_same_v<T, GRPCRoute>) return contents.grpc_routes;
  else if constexpr (std::is_same_v<T, HTTPRoute>) return contents.http_routes;
  else {
    static_assert(std::is_same_v<T, ReferenceGrant>);
    return contents.reference_grants;
  }
}

void Store::replace_all(std::vector<Object> objects) {
  Contents next;
  for (Object& object : objects) put(next, std::move(object));
  std::array<bool, std::size(kAllObjectKinds)> synced;
  synced.fill(true);
  commit(std::move(next), synced);
}

void Store::replace_kind(ObjectKind kind, std::vector<Object> objects) {
  // Built apart, holding only this kind: a copy of the whole store per list
  // (ten kinds at start-up, each relist) would cost what every kind holds.
  Contents fresh;
  for (Object& object : objects) {
    if (kind_of(object) == kind) put(fresh, std::move(object));
  }
  bool first_sync = !synced_[static_cast<size_t>(kind)];
  synced_[static_cast<size_t>(kind)] = true;
  bool same_objects = with_map(contents_, kind, [&](auto& current) {
    using T = typename std::decay_t<decltype(current)>::mapped_type;
    return current == map_of<T>(fresh);
  });
  InvalidObjects invalid_now;
  for (const auto& [key, invalid] : contents_.invalid) {
    if (key.first == kind) invalid_now.emplace(key, invalid);
  }
  if (!first_sync && same_objects && invalid_now == fresh.invalid) return;
  with_map(contents_, kind, [&](auto& current) {
    using T = typename std::decay_t<decltype(current)>::mapped_type;
    current = std::move(map_of<T>(fresh));
    return true;
  });
  std::erase_if(contents_.invalid, [kind](const auto& entry) { return entry.first.first == kind; });
  contents_.invalid.merge(fresh.invalid);
  if (kind == ObjectKind::kEndpointSlice) contents_.slices_by_service = std::move(fresh.slices_by_service);
  changes_.everything = true;
  changed();
}

void Store::upsert(Object object) {
  if (holds(contents_, object)) return;
  ObjectKind kind = kind_of(object);
  ObjectKey key = key_of(object);
  note_change(kind, key);
  if (const auto* slice = std::get_if<EndpointSlice>(&object)) {
    if (auto service = service_of(*slice)) changes_.services.insert(*service);
  }
  put(contents_, std::move(object));
  changed();
}

void Store::remove(ObjectKind kind, const ObjectKey& key) {
  note_change(kind, key);
  if (erase(contents_, kind, key)) changed();
}

void Store::note_change(ObjectKind kind, const ObjectKey& key) {
  changes_.objects.emplace(kind, key);
  if (kind == ObjectKind::kService) changes_.services.insert(key);
  if (kind == ObjectKind::kEndpointSlice) {
    auto it = contents_.endpoint_slices.find(key);
    if (it != contents_.endpoint_slices.end()) {
      if (auto service = service_of(it->second)) changes_.services.insert(*service);
    }
  }
}

StoreChanges Store::take_changes() { return std::exchange(changes_, StoreChanges{}); }

std::vector<const EndpointSlice*> Store::slices_of(const ObjectKey& service) const {
  std::vector<const EndpointSlice*> out;
  auto names = contents_.slices_by_service.find(service);
  if (names == contents_.slices_by_service.end()) return out;
  for (const std::string& name : names->second) {
    auto it = contents_.endpoint_slices.find({service.namespace_name, name});
    if (it != contents_.endpoint_slices.end()) out.push_back(&it->second);
  }
  return out;
}

size_t Store::count(ObjectKind kind) const {
  size_t invalid = static_cast<size_t>(
      std::count_if(contents_.invalid.begin(), contents_.invalid.end(),
                    [kind](const auto& entry) { return entry.first.first == kind; }));
  return invalid + with_map(contents_, kind, [](const auto& map) { return map.size(); });
}

void Store::mark_absent(ObjectKind kind) {
  if (synced_[static_cast<size_t>(kind)] && count(kind) == 0) return;
  replace_kind(kind, {});
}

bool Store::synced() const {
  return std::all_of(synced_.begin(), synced_.end(), [](bool kind_synced) { return kind_synced; });
}

void Store::put(Contents& contents, Object object) {
  ObjectKind kind = kind_of(object);
  ObjectKey key = key_of(object);
  erase(contents, kind, key);
  std::visit(
      [&](auto&& typed) {
        using T = std::decay_t<decltype(typed)>;
        if constexpr (std::is_same_v<T, InvalidObject>) {
          contents.invalid[{kind, key}] = std::move(typed);
        } else {
          if constexpr (std::is_same_v<T, EndpointSlice>) {
            if (auto service = service_of(typed)) contents.slices_by_service[*service].insert(key.name);
          }
          map_of<T>(contents)[key] = std::move(typed);
        }
      },
      std::move(object));
}

bool Store::erase(Contents& contents, ObjectKind kind, const ObjectKey& key) {
  if (kind == ObjectKind::kEndpointSlice) {
    auto it = contents.endpoint_slices.find(key);
    if (it != contents.endpoint_slices.end()) {
      if (auto service = service_of(it->second)) {
        auto names = contents.slices_by_service.find(*service);
        names->second.erase(key.name);
        if (names->second.empty()) contents.slices_by_service.erase(names);
      }
    }
  }
  bool erased_invalid = contents.invalid.erase({kind, key}) > 0;
  bool erased = with_map(contents, kind, [&](auto& map) { return map.erase(key) > 0; });
  return erased || erased_invalid;
}

bool Store::holds(const Contents& contents, const Object& object) {
  ObjectKey key = key_of(object);
  return std::visit(
      [&](const auto& typed) {
        using T = std::decay_t<decltype(typed)>;
        auto equal_in = [&](const auto& map, const auto& map_key) {
          auto it = map.find(map_key);
          return it != map.end() && it->second == typed;
        };
        if constexpr (std::is_same_v<T, InvalidObject>) {
          return equal_in(contents.invalid, std::pair{typed.kind, key});
        } else {
          return equal_in(map_of<T>(contents), key);
        }
      },
      object);
}

void Store::commit(Contents next, std::array<bool, std::size(kAllObjectKinds)> synced) {
  bool first_sync = synced != synced_;
  synced_ = synced;
  if (!first_sync && next == contents_) return;
  changes_.everything = true;
  contents_ = std::move(next);
  changed();
}

void Store::changed() {
  ++generation_;
  if (on_change_) on_change_();
}

}  // namespace grpc_ingress
