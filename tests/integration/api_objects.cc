#include "tests/integration/api_objects.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <regex>

namespace grpc_ingress::testing {
namespace {

using nlohmann::json;

json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& entry : node) out[entry.first.as<std::string>()] = to_json(entry.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(to_json(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() != "?") return text;  // quoted
      static const std::regex kInteger("[-+]?[0-9]+");
      if (std::regex_match(text, kInteger)) return std::stoll(text);
      if (text == "true") return true;
      if (text == "false") return false;
      if (text == "null" || text == "~") return nullptr;
      return text;
    }
    default:
      return nullptr;
  }
}

}  // namespace

std::vector<json> yaml_documents(const std::string& yaml) {
  std::vector<json> out;
  for (const YAML::Node& document : YAML::LoadAll(yaml)) {
    if (document.IsMap()) out.push_back(to_json(document));
  }
  return out;
}

ApiObjects::ApiObjects(FakeApiServer& api) : api_(api) { apply_yaml(ManifestDir::ingress_class_yaml()); }

void ApiObjects::apply_yaml(const std::string& yaml) {
  for (const json& object : yaml_documents(yaml)) api_.apply(object);
}

void ApiObjects::write_service(const std::string& name, const std::vector<EndpointSpec>& endpoints) {
  apply_yaml(ManifestDir::service_yaml(name));
  write_endpoints(name, endpoints);
}

void ApiObjects::write_endpoints(const std::string& service, const std::vector<EndpointSpec>& endpoints) {
  std::set<std::string> now;
  for (const json& slice : yaml_documents(ManifestDir::endpoint_slices_yaml(service, endpoints))) {
    api_.apply(slice);
    now.insert(FakeApiServer::path_of(slice));
  }
  for (const std::string& path : slices_[service]) {
    if (!now.count(path)) api_.remove(path);
  }
  slices_[service] = std::move(now);
}

void ApiObjects::write_ingress(const IngressSpec& ingress) { apply_yaml(ManifestDir::ingress_yaml(ingress)); }

void ApiObjects::remove_ingress(const std::string& name) {
  api_.remove("/apis/networking.k8s.io/v1/namespaces/" + std::string(ManifestDir::kNamespace) + "/ingresses/" + name);
}

std::unique_ptr<Ingress> start_api_mode(const FakeApiServer& api, const std::filesystem::path& log_dir,
                                        IngressOptions options) {
  return Ingress::start_with_source({"--kubeconfig", api.kubeconfig().string()}, log_dir, options);
}

double metric_value(const Ingress& ingress, const std::string& series) {
  HttpResponse response = ingress.admin_get("/metrics");
  auto at = response.body.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(response.body.substr(at + series.size() + 2));
}

std::vector<std::string> routed_endpoints(const Ingress& ingress) {
  std::vector<std::string> out;
  HttpResponse routes = ingress.admin_get("/debug/routes");
  if (routes.status != 200) return out;
  json table = json::parse(routes.body, nullptr, false);
  if (!table.is_object() || !table.contains("clusters")) return out;
  for (const json& cluster : table["clusters"]) {
    for (const json& endpoint : cluster.value("endpoints", json::array())) {
      out.push_back(endpoint.value("address", ""));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace grpc_ingress::testing
