#include "controller/gateway_status_writer.h"

#include "controller/kube_api.h"

#include <cstdio>
#include <set>

namespace grpc_ingress {
namespace {

using nlohmann::json;

const json kNull;


// The entry of `list` whose string `key` is `value`; null when none.
const json& entry_with(const json& list, const char* key, const std::string& value) {
  if (!list.is_array()) return kNull;
  for (const json& entry : list) {
    if (json_string_at(entry, key) == value) return entry;
  }
  return kNull;
}

// `condition` as metav1.Condition; `before` is the one of its type the object carries (or null).
json condition_json(const Condition& condition, const json& before, const std::string& now) {
  std::string status = condition.status ? "True" : "False";
  const json& since = json_member(before, "lastTransitionTime");
  bool kept = json_string_at(before, "status") == status && since.is_string();
  return {{"type", condition.type},
          {"status", status},
          {"reason", condition.reason},
          {"message", condition.message},
          {"observedGeneration", condition.observed_generation},
          {"lastTransitionTime", kept ? since : json(now)}};
}

// Ours only, in our order (a listener's or a route parent entry's: nobody else writes them).
json conditions_json(const std::vector<Condition>& ours, const json& current, const std::string& now) {
  json out = json::array();
  for (const Condition& condition : ours) {
    out.push_back(condition_json(condition, entry_with(current, "type", condition.type), now));
  }
  return out;
}

// `current` with ours set in the place of their type, or added; other types kept.
json merged_conditions(const json& current, const std::vector<Condition>& ours, const std::string& now) {
  auto ours_of = [&](const std::string& type) -> const Condition* {
    for (const Condition& condition : ours) {
      if (condition.type == type) return &condition;
    }
    return nullptr;
  };
  json out = json::array();
  std::set<std::string> placed;
  if (current.is_array()) {
    for (const json& condition : current) {
      std::string type = json_string_at(condition, "type");
      const Condition* mine = ours_of(type);
      if (!mine) {
        out.push_back(condition);
      } else if (placed.insert(type).second) {
        out.push_back(condition_json(*mine, condition, now));
      }
    }
  }
  for (const Condition& condition : ours) {
    if (!placed.count(condition.type)) out.push_back(condition_json(condition, kNull, now));
  }
  return out;
}

// The API server defaults group and kind in parentRefs; the rest is as the route wrote it.
json parent_ref_json(const ParentReference& ref) {
  json out = {{"group", ref.group}, {"kind", ref.kind}, {"name", ref.name}};
  if (!ref.namespace_name.empty()) out["namespace"] = ref.namespace_name;
  if (!ref.section_name.empty()) out["sectionName"] = ref.section_name;
  if (ref.port != 0) out["port"] = ref.port;
  return out;
}

ParentReference parent_ref_of(const json& ref) {
  ParentReference out;
  if (const json& group = json_member(ref, "group"); group.is_string()) out.group = group.get<std::string>();
  if (const json& kind = json_member(ref, "kind"); kind.is_string()) out.kind = kind.get<std::string>();
  out.namespace_name = json_string_at(ref, "namespace");
  out.name = json_string_at(ref, "name");
  out.section_name = json_string_at(ref, "sectionName");
  if (const json& port = json_member(ref, "port"); port.is_number_integer()) out.port = port.get<int32_t>();
  return out;
}

}  // namespace

std::string rfc3339_seconds(std::chrono::system_clock::time_point time) {
  auto seconds = std::chrono::floor<std::chrono::seconds>(time);
  auto days = std::chrono::floor<std::chrono::days>(seconds);
  std::chrono::year_month_day date{days};
  std::chrono::hh_mm_ss clock{seconds - days};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
                static_cast<int>(clock.seconds().count()));
  return text;
}

json gateway_class_status(const json& current, const Condition& accepted, const std::string& now) {
  json out = current.is_object() ? current : json::object();
  out["conditions"] = merged_conditions(json_member(current, "conditions"), {accepted}, now);
  return out;
}

json gateway_status(const json& current, const GatewayStatus& desired,
                    const std::vector<LoadBalancerIngress>& addresses, const std::string& now) {
  json out = current.is_object() ? current : json::object();
  out["conditions"] = merged_conditions(json_member(current, "conditions"), desired.conditions, now);
  json listeners = json::array();
  for (const ListenerStatus& listener : desired.listeners) {
    json kinds = json::array();
    for (const RouteGroupKind& kind : listener.supported_kinds) {
      kinds.push_back({{"group", kind.group}, {"kind", kind.kind}});
    }
    const json& before = entry_with(json_member(current, "listeners"), "name", listener.name);
    listeners.push_back({{"name", listener.name},
                         {"supportedKinds", std::move(kinds)},
                         {"attachedRoutes", listener.attached_routes},
                         {"conditions", conditions_json(listener.conditions, json_member(before, "conditions"), now)}});
  }
  out["listeners"] = std::move(listeners);
  if (addresses.empty()) {
    out.erase("addresses");
  } else {
    json list = json::array();
    for (const LoadBalancerIngress& address : addresses) {
      list.push_back(address.ip.empty() ? json{{"type", "Hostname"}, {"value", address.hostname}}
                                        : json{{"type", "IPAddress"}, {"value", address.ip}});
    }
    out["addresses"] = std::move(list);
  }
  return out;
}

json route_status(const json& current, const std::vector<RouteParentStatus>& ours, const std::string& controller_name,
                  const std::string& now) {
  const json& before = json_member(current, "parents");
  auto ours_before = [&](const ParentReference& ref) -> const json& {
    if (!before.is_array()) return kNull;
    for (const json& entry : before) {
      if (json_string_at(entry, "controllerName") == controller_name && parent_ref_of(json_member(entry, "parentRef")) == ref) {
        return entry;
      }
    }
    return kNull;
  };
  json parents = json::array();
  bool placed = false;
  auto place_ours = [&] {
    placed = true;
    for (const RouteParentStatus& parent : ours) {
      const json& was = ours_before(parent.parent_ref);
      parents.push_back({{"parentRef", parent_ref_json(parent.parent_ref)},
                         {"controllerName", controller_name},
                         {"conditions", conditions_json(parent.conditions, json_member(was, "conditions"), now)}});
    }
  };
  if (before.is_array()) {
    for (const json& entry : before) {
      if (json_string_at(entry, "controllerName") != controller_name) {
        parents.push_back(entry);
      } else if (!placed) {
        place_ours();
      }
    }
  }
  if (!placed) place_ours();
  if (parents.empty() && before.is_null()) return current;  // nothing of anyone's, nothing to add
  json out = current.is_object() ? current : json::object();
  out["parents"] = std::move(parents);
  return out;
}

}  // namespace grpc_ingress
