#include "controller/kube_config.h"

#include "common/base64.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace grpc_ingress {
namespace {

namespace fs = std::filesystem;

// Bounds what a mistaken path (a device, a huge file) can make us read.
constexpr std::uintmax_t kMaxConfigFileBytes = 16 * 1024 * 1024;

Result<std::string> read_file(const fs::path& path, const std::string& what) {
  std::error_code error;
  auto size = fs::file_size(path, error);
  if (error) return Error{what + " " + path.string() + ": " + error.message()};
  if (size > kMaxConfigFileBytes) return Error{what + " " + path.string() + ": larger than 16 MiB"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{what + " " + path.string() + ": cannot open"};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error{what + " " + path.string() + ": read failed"};
  return text.str();
}

std::string trim(std::string text) {
  const char* space = " \t\r\n";
  auto begin = text.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(space) - begin + 1);
}

// A kubeconfig section: a YAML map and where it is, for error messages.
class Section {
 public:
  Section(YAML::Node node, std::string path) : node_(std::move(node)), path_(std::move(path)) {}

  const std::string& path() const { return path_; }

  std::optional<std::string> string(const char* key) const {
    YAML::Node value = node_[key];
    if (!value || value.IsNull()) return std::nullopt;
    if (!value.IsScalar()) throw Failure(path_ + "." + key + ": must be a string");
    return value.as<std::string>();
  }

  bool boolean(const char* key) const {
    YAML::Node value = node_[key];
    if (!value || value.IsNull()) return false;
    bool out = false;
    if (!value.IsScalar() || !YAML::convert<bool>::decode(value, out)) {
      throw Failure(path_ + "." + key + ": must be true or false");
    }
    return out;
  }

  bool has(const char* key) const {
    YAML::Node value = node_[key];
    return value && !value.IsNull();
  }

  // The entry of list `key` whose name is `name`, and its `inner` map:
  // clusters[name=x].cluster.
  Section named(const char* key, const std::string& name, const char* inner) const {
    YAML::Node list = node_[key];
    if (list && !list.IsNull() && !list.IsSequence()) throw Failure(std::string(key) + ": must be a list");
    if (list && list.IsSequence()) {
      for (size_t i = 0; i < list.size(); ++i) {
        YAML::Node entry = list[i];
        if (!entry.IsMap() || !entry["name"] || !entry["name"].IsScalar()) continue;
        if (entry["name"].as<std::string>() != name) continue;
        YAML::Node value = entry[inner];
        std::string where = std::string(key) + "[name=" + name + "]." + inner;
        if (!value || !value.IsMap()) throw Failure(where + ": must be a map");
        return Section(value, where);
      }
    }
    throw Failure(std::string(key) + ": no entry named '" + name + "'");
  }

  struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
  };

 private:
  YAML::Node node_;
  std::string path_;
};

// `key-data` (base64 PEM) or `key` (a file path, relative to the kubeconfig's
// directory); "" when neither is given.
std::string pem_of(const Section& section, const std::string& key, const fs::path& base) {
  std::string data_key = key + "-data";
  if (auto data = section.string(data_key.c_str())) {
    auto decoded = decode_base64(*data);
    if (!decoded) throw Section::Failure(section.path() + "." + data_key + ": not valid base64");
    return *decoded;
  }
  if (auto file = section.string(key.c_str())) {
    fs::path path = fs::path(*file).is_absolute() ? fs::path(*file) : base / *file;
    auto text = read_file(path, section.path() + "." + key);
    if (!text) throw Section::Failure(text.error().message);
    return *text;
  }
  return "";
}

}  // namespace

Status parse_server_url(std::string_view url, KubeConfig& config) {
  config.server = std::string(url);
  if (url.starts_with("http://")) {
    return Error{"server " + config.server + ": plain http is not supported (the bearer token would travel in the clear); use https"};
  }
  if (!url.starts_with("https://")) return Error{"server " + config.server + ": must start with https://"};
  std::string_view rest = url.substr(8);
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  config.path_prefix = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  while (config.path_prefix.ends_with('/')) config.path_prefix.pop_back();
  if (authority.find('@') != std::string_view::npos) {
    return Error{"server " + config.server + ": credentials in the URL are not supported"};
  }
  std::string_view port_text;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return Error{"server " + config.server + ": unclosed '[' in the host"};
    config.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return Error{"server " + config.server + ": junk after the host"};
      port_text = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    config.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (config.host.empty()) return Error{"server " + config.server + ": no host"};
  config.port = 443;
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return Error{"server " + config.server + ": '" + std::string(port_text) + "' is not a port"};
    }
    config.port = static_cast<uint16_t>(port);
  }
  return Ok{};
}

Result<KubeConfig> in_cluster_config(const GetEnv& getenv) {
  KubeConfig config;
  auto host = getenv("KUBERNETES_SERVICE_HOST");
  auto port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return Error{
        "not running in a cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set); "
        "use --kubeconfig FILE, or --manifests DIR"};
  }
  bool ipv6 = host->find(':') != std::string::npos;
  if (auto status = parse_server_url("https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + *port, config);
      !status) {
    return Error{"in-cluster (KUBERNETES_SERVICE_HOST/PORT): " + status.error().message};
  }

  auto dir_override = getenv(kServiceAccountDirEnv);
  fs::path dir = dir_override && !dir_override->empty() ? fs::path(*dir_override) : fs::path(kServiceAccountDir);
  config.token_file = dir / "token";
  auto token = read_file(config.token_file, "in-cluster service account token");
  if (!token) return token.error();
  if (trim(*token).empty()) return Error{"in-cluster service account token " + config.token_file.string() + " is empty"};
  auto ca = read_file(dir / "ca.crt", "in-cluster service account CA");
  if (!ca) return ca.error();
  config.ca_pem = std::move(*ca);

  if (auto pod_namespace = getenv("POD_NAMESPACE"); pod_namespace && !pod_namespace->empty()) {
    config.namespace_name = *pod_namespace;
  } else if (auto ns = read_file(dir / "namespace", "in-cluster service account namespace"); ns && !trim(*ns).empty()) {
    config.namespace_name = trim(*ns);
  }
  config.description = "in-cluster service account (" + dir.string() + ")";
  return config;
}

std::optional<std::string> process_env(const char* name) {
  const char* value = std::getenv(name);
  if (!value) return std::nullopt;
  return std::string(value);
}

Result<KubeConfig> in_cluster_config() { return in_cluster_config(process_env); }

Result<KubeConfig> load_kubeconfig(const fs::path& file) {
  auto text = read_file(file, "kubeconfig");
  if (!text) return text.error();
  const std::string where = "kubeconfig " + file.string() + ": ";
  fs::path base = file.parent_path();
  KubeConfig config;
  try {
    YAML::Node root = YAML::Load(*text);
    if (!root.IsMap()) return Error{where + "not a kubeconfig (expected a YAML map)"};
    Section top(root, "");
    auto context_name = top.string("current-context");
    if (!context_name || context_name->empty()) return Error{where + "current-context is not set"};
    Section context = top.named("contexts", *context_name, "context");
    auto cluster_name = context.string("cluster");
    if (!cluster_name) return Error{where + context.path() + ".cluster is required"};
    auto user_name = context.string("user");
    if (auto ns = context.string("namespace"); ns && !ns->empty()) config.namespace_name = *ns;

    Section cluster = top.named("clusters", *cluster_name, "cluster");
    auto server = cluster.string("server");
    if (!server) return Error{where + cluster.path() + ".server is required"};
    if (auto status = parse_server_url(*server, config); !status) {
      return Error{where + cluster.path() + ": " + status.error().message};
    }
    config.ca_pem = pem_of(cluster, "certificate-authority", base);
    config.insecure_skip_tls_verify = cluster.boolean("insecure-skip-tls-verify");
    if (config.insecure_skip_tls_verify && !config.ca_pem.empty()) {
      return Error{where + cluster.path() +
                   ": insecure-skip-tls-verify and certificate-authority exclude each other (as in kubectl)"};
    }

    if (user_name && !user_name->empty()) {
      Section user = top.named("users", *user_name, "user");
      for (const char* unsupported : {"exec", "auth-provider"}) {
        if (user.has(unsupported)) {
          return Error{where + user.path() + "." + unsupported +
                       ": credential plugins are not supported; use a token, tokenFile or client certificate"};
        }
      }
      if (user.has("username") || user.has("password")) {
        return Error{where + user.path() + ": basic auth (username/password) is not supported"};
      }
      config.token = user.string("token").value_or("");
      if (auto token_file = user.string("tokenFile"); token_file && !token_file->empty()) {
        config.token_file = fs::path(*token_file).is_absolute() ? fs::path(*token_file) : base / *token_file;
        if (auto token = read_file(config.token_file, where + user.path() + ".tokenFile"); !token) return token.error();
      }
      config.client_cert_pem = pem_of(user, "client-certificate", base);
      config.client_key_pem = pem_of(user, "client-key", base);
      if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
        return Error{where + user.path() + ": client-certificate and client-key come together"};
      }
    }
    config.description = "kubeconfig " + file.string() + ", context " + *context_name;
  } catch (const Section::Failure& failure) {
    return Error{where + failure.what()};
  } catch (const YAML::Exception& error) {
    return Error{where + error.what()};
  }
  return config;
}

}  // namespace grpc_ingress
