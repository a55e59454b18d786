#include "controller/translate/store.h"

#include <algorithm>
#include <type_traits>

namespace grpc_ingress {

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
  }
  return fn(contents.secrets);
}

void Store::replace_all(std::vector<Object> objects) {
  Contents next;
  for (Object& object : objects) put(next, std::move(object));
  std::array<bool, std::size(kAllObjectKinds)> synced;
  synced.fill(true);
  commit(std::move(next), synced);
}

void Store::replace_kind(ObjectKind kind, std::vector<Object> objects) {
  Contents next = contents_;
  clear_kind(next, kind);
  for (Object& object : objects) {
    if (kind_of(object) == kind) put(next, std::move(object));
  }
  auto synced = synced_;
  synced[static_cast<size_t>(kind)] = true;
  commit(std::move(next), synced);
}

void Store::upsert(Object object) {
  if (holds(contents_, object)) return;
  put(contents_, std::move(object));
  changed();
}

void Store::remove(ObjectKind kind, const ObjectKey& key) {
  if (erase(contents_, kind, key)) changed();
}

size_t Store::count(ObjectKind kind) const {
  size_t invalid = static_cast<size_t>(
      std::count_if(contents_.invalid.begin(), contents_.invalid.end(),
                    [kind](const auto& entry) { return entry.first.first == kind; }));
  return invalid + with_map(contents_, kind, [](const auto& map) { return map.size(); });
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
        } else if constexpr (std::is_same_v<T, Ingress>) {
          contents.ingresses[key] = std::move(typed);
        } else if constexpr (std::is_same_v<T, IngressClass>) {
          contents.ingress_classes[key] = std::move(typed);
        } else if constexpr (std::is_same_v<T, Service>) {
          contents.services[key] = std::move(typed);
        } else if constexpr (std::is_same_v<T, EndpointSlice>) {
          contents.endpoint_slices[key] = std::move(typed);
        } else {
          static_assert(std::is_same_v<T, Secret>);
          contents.secrets[key] = std::move(typed);
        }
      },
      std::move(object));
}

bool Store::erase(Contents& contents, ObjectKind kind, const ObjectKey& key) {
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
        } else if constexpr (std::is_same_v<T, Ingress>) {
          return equal_in(contents.ingresses, key);
        } else if constexpr (std::is_same_v<T, IngressClass>) {
          return equal_in(contents.ingress_classes, key);
        } else if constexpr (std::is_same_v<T, Service>) {
          return equal_in(contents.services, key);
        } else if constexpr (std::is_same_v<T, EndpointSlice>) {
          return equal_in(contents.endpoint_slices, key);
        } else {
          return equal_in(contents.secrets, key);
        }
      },
      object);
}

void Store::clear_kind(Contents& contents, ObjectKind kind) {
  std::erase_if(contents.invalid, [kind](const auto& entry) { return entry.first.first == kind; });
  with_map(contents, kind, [](auto& map) {
    map.clear();
    return true;
  });
}

void Store::commit(Contents next, std::array<bool, std::size(kAllObjectKinds)> synced) {
  bool first_sync = synced != synced_;
  synced_ = synced;
  if (!first_sync && next == contents_) return;
  contents_ = std::move(next);
  changed();
}

void Store::changed() {
  ++generation_;
  if (on_change_) on_change_();
}

}  // namespace grpc_ingress
