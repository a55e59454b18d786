#include "controller/kube_config.h"

#include "common/base64.h"
#include "tests/unit/temp_dir.h"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace grpc_ingress;
using grpc_ingress::testing::UnitTempDir;

namespace {

constexpr const char* kCaPem = "-----BEGIN CERTIFICATE-----\nMIIB-ca\n-----END CERTIFICATE-----\n";
constexpr const char* kCertPem = "-----BEGIN CERTIFICATE-----\nMIIB-client\n-----END CERTIFICATE-----\n";
constexpr const char* kKeyPem = "-----BEGIN PRIVATE KEY-----\nMIIE-key\n-----END PRIVATE KEY-----\n";

GetEnv env_of(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const char* name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

// A service-account directory as the kubelet mounts it.
struct ServiceAccount {
  UnitTempDir dir;
  ServiceAccount() {
    dir.write("token", "eyJhbGciOi.token\n");
    dir.write("ca.crt", kCaPem);
    dir.write("namespace", "ingress-system\n");
  }
  std::map<std::string, std::string> env(const std::string& host = "10.96.0.1") const {
    return {{"KUBERNETES_SERVICE_HOST", host},
            {"KUBERNETES_SERVICE_PORT", "443"},
            {kServiceAccountDirEnv, dir.path().string()}};
  }
};

std::string kubeconfig(const std::string& cluster, const std::string& user,
                       const std::string& context_extra = "") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
         "contexts:\n- name: other\n  context: {cluster: nowhere, user: nobody}\n"
         "- name: dev\n  context: {cluster: c1, user: u1" + context_extra + "}\n"
         "clusters:\n- name: c1\n  cluster:\n" + cluster +
         "users:\n- name: u1\n  user:\n" + user;
}

}  // namespace

TEST_CASE("in-cluster config reads the service host, token file, CA and namespace") {
  ServiceAccount account;
  auto config = in_cluster_config(env_of(account.env()));
  REQUIRE(config);
  CHECK(config->server == "https://10.96.0.1:443");
  CHECK(config->host == "10.96.0.1");
  CHECK(config->port == 443);
  CHECK(config->ca_pem == kCaPem);
  CHECK(config->token_file == account.dir.path() / "token");
  CHECK(config->token.empty());
  CHECK(config->namespace_name == "ingress-system");
  CHECK_FALSE(config->insecure_skip_tls_verify);
}

TEST_CASE("in-cluster config brackets an IPv6 service host and lets POD_NAMESPACE name the namespace") {
  ServiceAccount account;
  auto env = account.env("fd00:10:96::1");
  env["POD_NAMESPACE"] = "edge";
  auto config = in_cluster_config(env_of(env));
  REQUIRE(config);
  CHECK(config->server == "https://[fd00:10:96::1]:443");
  CHECK(config->host == "fd00:10:96::1");
  CHECK(config->namespace_name == "edge");
}

TEST_CASE("outside a cluster the error points at --kubeconfig") {
  auto config = in_cluster_config(env_of({}));
  REQUIRE_FALSE(config);
  CHECK_THAT(config.error().message, Catch::Contains("KUBERNETES_SERVICE_HOST") && Catch::Contains("--kubeconfig"));
}

TEST_CASE("in-cluster config without a token names the token file") {
  ServiceAccount account;
  std::filesystem::remove(account.dir.path() / "token");
  auto config = in_cluster_config(env_of(account.env()));
  REQUIRE_FALSE(config);
  CHECK_THAT(config.error().message, Catch::Contains("token") && Catch::Contains((account.dir.path() / "token").string()));
}

TEST_CASE("kubeconfig: the current context's cluster CA data, token and tokenFile, and namespace") {
  UnitTempDir dir;
  dir.write("token", "rotating-token\n");
  auto file = dir.write("config", kubeconfig("    server: https://127.0.0.1:6443\n"
                                             "    certificate-authority-data: " + encode_base64(kCaPem) + "\n",
                                             "    token: inline-token\n    tokenFile: token\n",
                                             ", namespace: team-a"));
  auto config = load_kubeconfig(file);
  REQUIRE(config);
  CHECK(config->server == "https://127.0.0.1:6443");
  CHECK(config->host == "127.0.0.1");
  CHECK(config->port == 6443);
  CHECK(config->ca_pem == kCaPem);
  CHECK(config->token == "inline-token");
  CHECK(config->token_file == dir.path() / "token");  // relative to the kubeconfig, as kubectl reads it
  CHECK(config->namespace_name == "team-a");
  CHECK_THAT(config->description, Catch::Contains("context dev"));
}

TEST_CASE("kubeconfig: certificate-authority and client certificate files relative to the kubeconfig") {
  UnitTempDir dir;
  std::filesystem::create_directory(dir.path() / "pki");
  dir.write("pki/ca.crt", kCaPem);
  dir.write("pki/client.crt", kCertPem);
  dir.write("pki/client.key", kKeyPem);
  auto file = dir.write("config", kubeconfig("    server: https://api.example.com\n"
                                             "    certificate-authority: pki/ca.crt\n",
                                             "    client-certificate: pki/client.crt\n"
                                             "    client-key: " + (dir.path() / "pki/client.key").string() + "\n"));
  auto config = load_kubeconfig(file);
  REQUIRE(config);
  CHECK(config->host == "api.example.com");
  CHECK(config->port == 443);
  CHECK(config->ca_pem == kCaPem);
  CHECK(config->client_cert_pem == kCertPem);
  CHECK(config->client_key_pem == kKeyPem);
  CHECK(config->token.empty());
  CHECK(config->token_file.empty());
  CHECK(config->namespace_name == "default");
}

TEST_CASE("kubeconfig: client certificate and key as data, insecure-skip-tls-verify") {
  UnitTempDir dir;
  auto file = dir.write("config", kubeconfig("    server: https://[::1]:8443/k8s/\n"
                                             "    insecure-skip-tls-verify: true\n",
                                             "    client-certificate-data: " + encode_base64(kCertPem) + "\n"
                                             "    client-key-data: " + encode_base64(kKeyPem) + "\n"));
  auto config = load_kubeconfig(file);
  REQUIRE(config);
  CHECK(config->host == "::1");
  CHECK(config->port == 8443);
  CHECK(config->path_prefix == "/k8s");
  CHECK(config->insecure_skip_tls_verify);
  CHECK(config->client_cert_pem == kCertPem);
  CHECK(config->client_key_pem == kKeyPem);
}

TEST_CASE("kubeconfig errors name the field at fault") {
  UnitTempDir dir;
  auto error_of = [&](const std::string& text) {
    auto config = load_kubeconfig(dir.write("config", text));
    REQUIRE_FALSE(config);
    return config.error().message;
  };
  const std::string server = "    server: https://127.0.0.1:6443\n";

  CHECK_THAT(error_of(kubeconfig(server, "    exec: {command: aws}\n")),
             Catch::Contains("users[name=u1].user.exec") && Catch::Contains("not supported"));
  CHECK_THAT(error_of(kubeconfig(server, "    username: admin\n    password: secret\n")),
             Catch::Contains("basic auth"));
  CHECK_THAT(error_of(kubeconfig(server + "    certificate-authority-data: '%%%'\n", "    token: t\n")),
             Catch::Contains("clusters[name=c1].cluster.certificate-authority-data") && Catch::Contains("base64"));
  CHECK_THAT(error_of(kubeconfig(server + "    certificate-authority: missing.crt\n", "    token: t\n")),
             Catch::Contains("certificate-authority") && Catch::Contains("missing.crt"));
  CHECK_THAT(error_of(kubeconfig("    server: http://127.0.0.1:8080\n", "    token: t\n")),
             Catch::Contains("plain http"));
  CHECK_THAT(error_of(kubeconfig("    server: https://127.0.0.1:99999\n", "    token: t\n")),
             Catch::Contains("'99999' is not a port"));
  CHECK_THAT(error_of(kubeconfig("    insecure-skip-tls-verify: true\n", "    token: t\n")),
             Catch::Contains("clusters[name=c1].cluster.server is required"));
  CHECK_THAT(error_of(kubeconfig(server, "    client-certificate-data: " + encode_base64(kCertPem) + "\n")),
             Catch::Contains("client-certificate and client-key come together"));
  CHECK_THAT(error_of(kubeconfig(server, "    tokenFile: nowhere/token\n")), Catch::Contains("tokenFile"));
  CHECK_THAT(error_of("apiVersion: v1\nkind: Config\nclusters: []\n"), Catch::Contains("current-context is not set"));
  CHECK_THAT(error_of("current-context: prod\ncontexts: []\n"), Catch::Contains("contexts: no entry named 'prod'"));
  CHECK_THAT(error_of("current-context: [unclosed\n"), Catch::Contains("kubeconfig"));

  auto missing = load_kubeconfig(dir.path() / "absent");
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message, Catch::Contains("absent"));
}
