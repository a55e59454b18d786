#include "tests/integration/manifest_dir.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace grpc_ingress::testing {
namespace {

// A YAML double-quoted scalar.
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

const char* yes_no(bool b) { return b ? "true" : "false"; }

}  // namespace

ManifestDir::ManifestDir(const std::filesystem::path& root) : dir_(root / "manifests"), staging_(root / "staging") {
  std::filesystem::create_directories(dir_);
  std::filesystem::create_directories(staging_);
  write_file("ingressclass.yaml", ingress_class_yaml());
}

void ManifestDir::write_file(const std::string& file, const std::string& content) {
  // Staged outside the watched directory, on the same filesystem: rename() is atomic.
  auto staged = staging_ / (file + "." + std::to_string(++writes_) + ".tmp");
  {
    std::ofstream out(staged, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + staged.string());
  }
  std::filesystem::rename(staged, dir_ / file);
}

void ManifestDir::remove_file(const std::string& file) { std::filesystem::remove(dir_ / file); }

void ManifestDir::write_service(const std::string& name, const std::vector<EndpointSpec>& endpoints,
                                const std::optional<std::string>& app_protocol) {
  app_protocols_[name] = app_protocol;
  write_file("service-" + name + ".yaml", service_yaml(name, app_protocol));
  write_endpoints(name, endpoints);
}

void ManifestDir::write_endpoints(const std::string& service, const std::vector<EndpointSpec>& endpoints) {
  auto known = app_protocols_.find(service);
  auto app_protocol = known == app_protocols_.end() ? std::optional<std::string>(kDefaultAppProtocol) : known->second;
  write_file("endpoints-" + service + ".yaml", endpoint_slices_yaml(service, endpoints, app_protocol));
}

void ManifestDir::write_ingress(const IngressSpec& ingress) {
  write_file("ingress-" + ingress.name + ".yaml", ingress_yaml(ingress));
}

void ManifestDir::write_tls_secret(const std::string& name, const std::string& cert_pem, const std::string& key_pem) {
  write_file("secret-" + name + ".yaml", tls_secret_yaml(name, cert_pem, key_pem));
}

void ManifestDir::write_secret(const std::string& name, const std::map<std::string, std::string>& data,
                               const std::string& type) {
  write_file("secret-" + name + ".yaml", secret_yaml(name, data, type));
}

std::string ManifestDir::ingress_class_yaml() {
  return "apiVersion: networking.k8s.io/v1\n"
         "kind: IngressClass\n"
         "metadata:\n"
         "  name: grpc\n"
         "spec:\n"
         "  controller: grpc-ingress.io/controller\n";
}

std::string ManifestDir::service_yaml(const std::string& name, const std::optional<std::string>& app_protocol) {
  std::ostringstream y;
  y << "apiVersion: v1\n"
       "kind: Service\n"
       "metadata:\n"
       "  name: " << quote(name) << "\n"
       "  namespace: " << kNamespace << "\n"
       "spec:\n"
       "  clusterIP: None\n"
       "  selector:\n"
       "    app: " << quote(name) << "\n"
       "  ports:\n"
       "  - name: " << kPortName << "\n"
       "    port: 80\n"
       "    targetPort: " << kPortName << "\n"
       "    protocol: TCP\n";
  if (app_protocol) y << "    appProtocol: " << quote(*app_protocol) << "\n";
  return y.str();
}

std::string ManifestDir::endpoint_slices_yaml(const std::string& service, const std::vector<EndpointSpec>& endpoints,
                                              const std::optional<std::string>& app_protocol) {
  // An EndpointSlice has one port list for all its endpoints; pods that picked
  // different ports go into different slices, as Kubernetes does for named ports.
  std::map<uint16_t, std::vector<const EndpointSpec*>> by_port;
  for (const EndpointSpec& endpoint : endpoints) by_port[endpoint.port].push_back(&endpoint);

  std::ostringstream y;
  auto header = [&](const std::string& slice_name) {
    y << "---\n"
         "apiVersion: discovery.k8s.io/v1\n"
         "kind: EndpointSlice\n"
         "metadata:\n"
         "  name: " << quote(slice_name) << "\n"
         "  namespace: " << kNamespace << "\n"
         "  labels:\n"
         "    kubernetes.io/service-name: " << quote(service) << "\n"
         "    endpointslice.kubernetes.io/managed-by: grpc-ingress-tests\n"
         "addressType: IPv4\n";
  };
  if (by_port.empty()) {
    // What Kubernetes keeps for a Service whose pods are all gone.
    header(service + "-none");
    y << "ports: []\n"
         "endpoints: []\n";
  }
  for (const auto& [port, members] : by_port) {
    header(service + "-p" + std::to_string(port));
    y << "ports:\n"
         "- name: " << kPortName << "\n"
         "  port: " << port << "\n"
         "  protocol: TCP\n";
    if (app_protocol) y << "  appProtocol: " << quote(*app_protocol) << "\n";
    y << "endpoints:\n";
    for (const EndpointSpec* endpoint : members) {
      y << "- addresses: [" << quote(endpoint->ip) << "]\n"
           "  conditions:\n"
           "    ready: " << yes_no(endpoint->ready) << "\n"
           "    serving: " << yes_no(endpoint->serving) << "\n"
           "    terminating: " << yes_no(endpoint->terminating) << "\n"
           "  targetRef:\n"
           "    kind: Pod\n"
           "    namespace: " << kNamespace << "\n"
           "    name: " << quote(endpoint->pod) << "\n";
    }
  }
  return y.str();
}

std::string ManifestDir::ingress_yaml(const IngressSpec& ingress) {
  std::ostringstream y;
  y << "apiVersion: networking.k8s.io/v1\n"
       "kind: Ingress\n"
       "metadata:\n"
       "  name: " << quote(ingress.name) << "\n"
       "  namespace: " << kNamespace << "\n";
  if (!ingress.annotations.empty()) {
    y << "  annotations:\n";
    for (const auto& [key, value] : ingress.annotations) y << "    " << quote(key) << ": " << quote(value) << "\n";
  }
  y << "spec:\n"
       "  ingressClassName: " << quote(ingress.ingress_class) << "\n"
       "  rules:\n";
  y << (ingress.host.empty() ? "  - http:\n" : "  - host: " + quote(ingress.host) + "\n    http:\n");
  y << "      paths:\n";
  for (const IngressPath& path : ingress.paths) {
    y << "      - path: " << quote(path.path) << "\n"
         "        pathType: " << path.path_type << "\n"
         "        backend:\n"
         "          service:\n"
         "            name: " << quote(path.service) << "\n"
         "            port:\n"
         "              number: " << path.service_port << "\n";
  }
  if (!ingress.tls_secret.empty()) {
    y << "  tls:\n"
         "  - secretName: " << quote(ingress.tls_secret) << "\n";
    if (!ingress.host.empty()) y << "    hosts: [" << quote(ingress.host) << "]\n";
  }
  return y.str();
}

std::string ManifestDir::tls_secret_yaml(const std::string& name, const std::string& cert_pem,
                                         const std::string& key_pem) {
  return secret_yaml(name, {{"tls.crt", cert_pem}, {"tls.key", key_pem}}, "kubernetes.io/tls");
}

std::string ManifestDir::secret_yaml(const std::string& name, const std::map<std::string, std::string>& data,
                                     const std::string& type) {
  // stringData: the API server's way of taking data that is not base64 yet.
  auto block = [](const std::string& text) {
    std::string out = "|\n";
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      out += "    " + text.substr(start, end - start) + "\n";
      start = end + 1;
    }
    return out;
  };
  std::string y = "apiVersion: v1\n"
                  "kind: Secret\n"
                  "metadata:\n"
                  "  name: " + quote(name) + "\n"
                  "  namespace: " + std::string(kNamespace) + "\n"
                  "type: " + quote(type) + "\n"
                  "stringData:\n";
  for (const auto& [key, value] : data) y += "  " + quote(key) + ": " + block(value);
  return y;
}

}  // namespace grpc_ingress::testing
