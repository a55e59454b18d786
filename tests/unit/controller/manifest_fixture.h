#pragma once

#include "controller/manifest_reader.h"
#include "controller/object_decoder.h"
#include "controller/translate/store.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace grpc_ingress::testing {

// Manifests as a user writes them, so that each test reads like the YAML it
// is about. Values are YAML flow text.

// A Service backend path; `port` all digits means port.number, else port.name.
inline std::string path(const std::string& path, const std::string& type,
                        const std::string& service = "greeter", const std::string& port = "grpc") {
  bool by_number = !port.empty() && port.find_first_not_of("0123456789") == std::string::npos;
  std::string port_yaml = by_number ? "{number: " + port + "}" : "{name: " + port + "}";
  return "{path: '" + path + "', pathType: " + type + ", backend: {service: {name: " + service +
         ", port: " + port_yaml + "}}}";
}

inline std::string rule(const std::string& host, const std::vector<std::string>& paths) {
  std::string out = "{";
  if (!host.empty()) out += "host: '" + host + "', ";
  out += "http: {paths: [";
  for (size_t i = 0; i < paths.size(); ++i) out += (i ? ", " : "") + paths[i];
  return out + "]}}";
}

struct IngressYaml {
  std::string name{};
  std::vector<std::string> rules{};
  std::string class_name = "grpc";  // spec.ingressClassName; "" leaves it out
  std::string created{};              // metadata.creationTimestamp; "" leaves it out
  std::string annotations{};          // flow mapping entries: "a: 'b', c: 'd'"
  std::string default_backend{};      // flow IngressBackend
  std::string namespace_name = "default";
};

inline std::string ingress(const IngressYaml& spec) {
  std::string out = "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: " +
                    spec.name + "\n  namespace: " + spec.namespace_name + "\n";
  if (!spec.created.empty()) out += "  creationTimestamp: '" + spec.created + "'\n";
  if (!spec.annotations.empty()) out += "  annotations: {" + spec.annotations + "}\n";
  out += "spec:\n";
  if (!spec.class_name.empty()) out += "  ingressClassName: " + spec.class_name + "\n";
  if (!spec.default_backend.empty()) out += "  defaultBackend: " + spec.default_backend + "\n";
  out += "  rules: [";
  for (size_t i = 0; i < spec.rules.size(); ++i) out += (i ? ", " : "") + spec.rules[i];
  return out + "]\n";
}

inline std::string ingress_class(const std::string& name, const std::string& controller,
                                 bool is_default = false) {
  std::string out = "---\napiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: " +
                    name + "\n";
  if (is_default) out += "  annotations: {ingressclass.kubernetes.io/is-default-class: 'true'}\n";
  return out + "spec: {controller: " + controller + "}\n";
}

// A Service with one port, and one EndpointSlice for it holding `endpoints`
// (flow Endpoint entries). target_port and slice_port default to the port.
struct ServiceYaml {
  std::string name{};
  std::string port_name = "grpc";
  int port = 50051;
  std::string target_port{};  // "" leaves it out
  std::string slice_port{};   // flow EndpointPort; "" = {name: <port_name>, port: <port>}
  std::vector<std::string> endpoints{};
  std::string type{};  // "" leaves it out
  std::string address_type = "IPv4";
  std::string namespace_name = "default";
  std::string app_protocol{};  // the Service port's appProtocol; "" leaves it out
};

inline std::string endpoint(const std::string& ip, const std::string& pod,
                            const std::string& conditions = "") {
  std::string out = "{addresses: ['" + ip + "'], targetRef: {kind: Pod, name: " + pod + "}";
  if (!conditions.empty()) out += ", conditions: {" + conditions + "}";
  return out + "}";
}

inline std::string service(const ServiceYaml& spec) {
  std::string port_yaml = "{name: " + spec.port_name + ", port: " + std::to_string(spec.port);
  if (!spec.target_port.empty()) port_yaml += ", targetPort: " + spec.target_port;
  if (!spec.app_protocol.empty()) port_yaml += ", appProtocol: '" + spec.app_protocol + "'";
  port_yaml += "}";
  std::string out = "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + spec.name +
                    ", namespace: " + spec.namespace_name + "}\nspec:\n";
  if (!spec.type.empty()) out += "  type: " + spec.type + "\n";
  out += "  ports: [" + port_yaml + "]\n";
  std::string slice_port = spec.slice_port.empty() ? "{name: " + spec.port_name + ", port: " +
                                                         std::to_string(spec.port) + "}"
                                                   : spec.slice_port;
  out += "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: " +
         spec.name + "-slice\n  namespace: " + spec.namespace_name +
         "\n  labels: {kubernetes.io/service-name: " + spec.name + "}\naddressType: " +
         spec.address_type + "\nports: [" + slice_port + "]\nendpoints: [";
  for (size_t i = 0; i < spec.endpoints.size(); ++i) out += (i ? ", " : "") + spec.endpoints[i];
  return out + "]\n";
}

// A Secret whose data are `entries` (key -> text, e.g. PEM), of `type`.
inline std::string secret(const std::string& name, const std::string& type,
                          const std::vector<std::pair<std::string, std::string>>& entries,
                          const std::string& namespace_name = "default") {
  std::string out = "---\napiVersion: v1\nkind: Secret\nmetadata: {name: " + name + ", namespace: " +
                    namespace_name + "}\ntype: " + type + "\nstringData:\n";
  for (const auto& [key, text] : entries) {
    out += "  " + key + ": |\n";
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      out += "    " + text.substr(start, end - start) + "\n";
      start = end + 1;
    }
  }
  return out;
}

inline std::vector<Object> objects_from_yaml(const std::string& yaml) {
  auto documents = parse_manifest(yaml, ManifestFormat::kYaml);
  INFO(yaml);
  REQUIRE(documents.has_value());
  std::vector<Object> objects;
  for (const auto& document : *documents) {
    if (auto object = decode_object(document)) objects.push_back(std::move(*object));
  }
  return objects;
}

inline void load_yaml(Store& store, const std::string& yaml) {
  store.replace_all(objects_from_yaml(yaml));
}

}  // namespace grpc_ingress::testing
